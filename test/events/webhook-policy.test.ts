import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StreamClient } from '@stream-io/node-sdk';
import {
  attemptTimeout,
  DEFAULT_WEBHOOK_RETRY_POLICY,
  nextAttempt,
  signWebhookBody,
  targetWantsEvent,
  redactUrl,
} from '../../src/events/webhooks.js';

const T0 = 1_700_000_000_000;

test('the defaults are the reference policy: 6 s per request, 15 s per delivery', () => {
  assert.equal(DEFAULT_WEBHOOK_RETRY_POLICY.requestTimeoutMs, 6_000);
  assert.equal(DEFAULT_WEBHOOK_RETRY_POLICY.totalBudgetMs, 15_000);
  assert.deepEqual(DEFAULT_WEBHOOK_RETRY_POLICY.maxAttempts, { status: 3, network: 2, timeout: 3 });
});

test('signWebhookBody is lowercase hex HMAC-SHA256 that the official SDK accepts', () => {
  const secret = 'sekret-value-123';
  const body = JSON.stringify({ type: 'call.rtmp_broadcast_started', created_at: '2026-01-01T00:00:00.000Z', call_cid: 'default:x', name: 'yt' });
  const sig = signWebhookBody(body, secret);
  assert.match(sig, /^[0-9a-f]{64}$/);
  const client = new StreamClient('key', secret);
  assert.equal(client.verifyWebhook(body, sig), true);
  assert.equal(client.verifyWebhook(body + ' ', sig), false);
  assert.equal(new StreamClient('key', 'other').verifyWebhook(body, sig), false);
});

test('2xx delivers; other 4xx and 3xx give up at once', () => {
  for (const status of [200, 201, 204]) {
    assert.deepEqual(nextAttempt({ outcome: { kind: 'response', status }, attempts: 1, budgetStart: T0, now: T0 }), { action: 'done' });
  }
  for (const status of [400, 401, 403, 404, 410, 302]) {
    assert.equal(nextAttempt({ outcome: { kind: 'response', status }, attempts: 1, budgetStart: T0, now: T0 }).action, 'give_up');
  }
});

test('408, 429 and 5xx are retried up to 3 attempts, with backoff', () => {
  for (const status of [408, 429, 500, 502, 503]) {
    const first = nextAttempt({ outcome: { kind: 'response', status }, attempts: 1, budgetStart: T0, now: T0 + 10 });
    assert.deepEqual(first, { action: 'retry', at: T0 + 10 + 500 });
    const second = nextAttempt({ outcome: { kind: 'response', status }, attempts: 2, budgetStart: T0, now: T0 + 600 });
    assert.deepEqual(second, { action: 'retry', at: T0 + 600 + 1_000 });
    assert.equal(nextAttempt({ outcome: { kind: 'response', status }, attempts: 3, budgetStart: T0, now: T0 + 2_000 }).action, 'give_up');
  }
});

test('a network error is retried once (2 attempts); a timeout up to 3 attempts', () => {
  assert.equal(nextAttempt({ outcome: { kind: 'network' }, attempts: 1, budgetStart: T0, now: T0 }).action, 'retry');
  assert.equal(nextAttempt({ outcome: { kind: 'network' }, attempts: 2, budgetStart: T0, now: T0 }).action, 'give_up');
  assert.equal(nextAttempt({ outcome: { kind: 'timeout' }, attempts: 1, budgetStart: T0, now: T0 + 6_000 }).action, 'retry');
  assert.equal(nextAttempt({ outcome: { kind: 'timeout' }, attempts: 2, budgetStart: T0, now: T0 + 12_500 }).action, 'retry');
  assert.equal(nextAttempt({ outcome: { kind: 'timeout' }, attempts: 3, budgetStart: T0, now: T0 + 14_000 }).action, 'give_up');
});

test('all attempts are capped at 15 s: no retry starts after the budget, and the last one is shortened', () => {
  // Two timeouts of 6 s and the backoffs leave 1.5 s for the third attempt.
  assert.equal(attemptTimeout({ attemptsMade: 0, budgetStart: T0, now: T0 }), 6_000);
  assert.equal(attemptTimeout({ attemptsMade: 1, budgetStart: T0, now: T0 + 6_500 }), 6_000);
  assert.equal(attemptTimeout({ attemptsMade: 2, budgetStart: T0, now: T0 + 13_500 }), 1_500);
  assert.equal(attemptTimeout({ attemptsMade: 2, budgetStart: T0, now: T0 + 15_000 }), null);
  // A delivery never attempted is attempted once whatever its age.
  assert.equal(attemptTimeout({ attemptsMade: 0, budgetStart: T0, now: T0 + 60_000 }), 6_000);
  // A retry that would start at or after the budget end gives up.
  const late = nextAttempt({ outcome: { kind: 'response', status: 500 }, attempts: 1, budgetStart: T0, now: T0 + 14_600 });
  assert.equal(late.action, 'give_up');
});

test('target event filter and URL redaction', () => {
  assert.equal(targetWantsEvent({ url: 'http://x', events: [] }, 'call.updated'), true);
  assert.equal(targetWantsEvent({ url: 'http://x', events: ['call.ended'] }, 'call.updated'), false);
  assert.equal(targetWantsEvent({ url: 'http://x', events: ['call.ended', 'call.updated'] }, 'call.updated'), true);
  assert.equal(redactUrl('https://user:pw@hooks.example.com/a/b?token=abc#f'), 'https://hooks.example.com/a/b');
  assert.equal(redactUrl('not a url'), '<invalid url>');
});
