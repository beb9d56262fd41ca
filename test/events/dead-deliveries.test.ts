/** How dead webhook deliveries are shown (CLI, API, console) and the API's limit parsing: pure. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deadDeliveryView, deliveries, eventTypeOf } from '../../src/events/dead-deliveries.js';
import { parseLimit } from '../../src/http/rest/operations.js';
import { ApiError } from '../../src/wire/errors.js';

test('a dead delivery is shown without its body, and its receiver without user info, query or fragment', () => {
  const view = deadDeliveryView({
    id: 'd1',
    url: 'https://user:pw@hooks.example.test:8443/in/callcast?token=s3cret#x',
    body: JSON.stringify({ type: 'call.created', call_cid: 'default:a', call: { custom: { secret: 'no' } } }),
    attempts: 7,
    nextAttemptAt: 0,
    createdAt: Date.UTC(2026, 11, 3, 10, 0, 0),
    orderKey: 'default:a',
    seq: 3,
    retryFrom: 0,
    deadAt: Date.UTC(2026, 11, 4, 10, 0, 0),
    reason: 'status 503 after 7 attempt(s)',
  });
  assert.deepEqual(view, {
    id: 'd1',
    event_type: 'call.created',
    call_cid: 'default:a',
    url: 'https://hooks.example.test:8443/in/callcast',
    attempts: 7,
    reason: 'status 503 after 7 attempt(s)',
    created_at: '2026-12-03T10:00:00.000Z',
    dead_at: '2026-12-04T10:00:00.000Z',
  });
  assert.equal(eventTypeOf('{'), '?');
  assert.equal(eventTypeOf('{"type":5}'), '?');
  assert.equal(deadDeliveryView({ ...viewless(), orderKey: '' }).call_cid, null, 'an event of no call');
  assert.equal(deliveries(1, 'dead'), '1 dead delivery');
  assert.equal(deliveries(3), '3 deliveries');
});

function viewless() {
  return {
    id: 'x',
    url: 'http://h/p',
    body: '{}',
    attempts: 1,
    nextAttemptAt: 0,
    createdAt: 0,
    orderKey: 'k',
    seq: 1,
    retryFrom: 0,
    deadAt: 0,
    reason: '',
  };
}

test('the limit of GET /video/webhooks/dead: 1 to 1000, 100 by default', () => {
  assert.equal(parseLimit(undefined), 100);
  assert.equal(parseLimit(''), 100);
  assert.equal(parseLimit('1'), 1);
  assert.equal(parseLimit('1000'), 1000);
  for (const bad of ['0', '1001', '-1', '2.5', 'ten', 7]) {
    assert.throws(
      () => parseLimit(bad),
      (err: unknown) => err instanceof ApiError && err.status === 400,
      String(bad),
    );
  }
});
