import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StreamClient } from '@stream-io/node-sdk';
import { backoffAfter, DEFAULT_WEBHOOK_RETRY_POLICY, nextAttempt, signWebhookBody, targetWantsEvent } from '../../src/events/webhooks.js';
import { redactUrl } from '../../src/events/webhook-url.js';

const T0 = 1_700_000_000_000;
const HOUR = 3_600_000;
/** Jitter at its midpoint: pauses are 3/4 of the un-jittered value. */
const MID = () => 0.5;

test('the defaults: 6 s per request, retried for 24 h, backoff from 1 s doubling up to 60 s, half of it random', () => {
  assert.equal(DEFAULT_WEBHOOK_RETRY_POLICY.requestTimeoutMs, 6_000);
  assert.equal(DEFAULT_WEBHOOK_RETRY_POLICY.horizonMs, 24 * HOUR);
  assert.equal(DEFAULT_WEBHOOK_RETRY_POLICY.initialBackoffMs, 1_000);
  assert.equal(DEFAULT_WEBHOOK_RETRY_POLICY.maxBackoffMs, 60_000);
  assert.equal(DEFAULT_WEBHOOK_RETRY_POLICY.jitter, 0.5);
});

test('backoff doubles, is capped, and its jitter stays within the random fraction', () => {
  const lo = () => 0;
  const hi = () => 0.999999;
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7, 8, 30].map((n) => backoffAfter(n, DEFAULT_WEBHOOK_RETRY_POLICY, lo)),
    [500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000],
  );
  assert.deepEqual(
    [1, 2, 7, 30].map((n) => backoffAfter(n, DEFAULT_WEBHOOK_RETRY_POLICY, hi)),
    [1_000, 2_000, 60_000, 60_000],
  );
  assert.equal(backoffAfter(3, { ...DEFAULT_WEBHOOK_RETRY_POLICY, jitter: 0 }, hi), 4_000);
});

test('signWebhookBody is lowercase hex HMAC-SHA256 that the official SDK accepts', () => {
  const secret = 'sekret-value-123';
  const body = JSON.stringify({
    type: 'call.rtmp_broadcast_started',
    created_at: '2026-01-01T00:00:00.000Z',
    call_cid: 'default:x',
    name: 'yt',
  });
  const sig = signWebhookBody(body, secret);
  assert.match(sig, /^[0-9a-f]{64}$/);
  const client = new StreamClient('key', secret);
  assert.equal(client.verifyWebhook(body, sig), true);
  assert.equal(client.verifyWebhook(body + ' ', sig), false);
  assert.equal(new StreamClient('key', 'other').verifyWebhook(body, sig), false);
});

test('2xx delivers; other 4xx and 3xx are parked as dead at once (the receiver refused them)', () => {
  for (const status of [200, 201, 204]) {
    assert.deepEqual(nextAttempt({ outcome: { kind: 'response', status }, attempts: 1, retryFrom: T0, now: T0 }), { action: 'done' });
  }
  for (const status of [400, 401, 403, 404, 410, 302]) {
    const step = nextAttempt({ outcome: { kind: 'response', status }, attempts: 1, retryFrom: T0, now: T0 });
    assert.deepEqual(step, { action: 'dead', reason: `status ${status} is not retried` });
  }
});

test('408, 429, 5xx, network errors and timeouts are retried with backoff, far beyond three attempts', () => {
  const outcomes = [408, 429, 500, 502, 503]
    .map((status) => ({ kind: 'response' as const, status }))
    .concat([{ kind: 'network' } as never, { kind: 'timeout' } as never]);
  for (const outcome of outcomes) {
    assert.deepEqual(nextAttempt({ outcome, attempts: 1, retryFrom: T0, now: T0 + 10, random: MID }), {
      action: 'retry',
      at: T0 + 10 + 750,
    });
    assert.deepEqual(nextAttempt({ outcome, attempts: 2, retryFrom: T0, now: T0 + 800, random: MID }), {
      action: 'retry',
      at: T0 + 800 + 1_500,
    });
    assert.deepEqual(nextAttempt({ outcome, attempts: 50, retryFrom: T0, now: T0 + 2 * HOUR, random: MID }), {
      action: 'retry',
      at: T0 + 2 * HOUR + 45_000,
    });
  }
});

test('past the retry horizon (from creation or replay) a delivery is parked as dead', () => {
  const outcome = { kind: 'response' as const, status: 503 };
  const late = nextAttempt({ outcome, attempts: 900, retryFrom: T0, now: T0 + 24 * HOUR - 10_000, random: MID });
  assert.equal(late.action, 'dead');
  assert.match((late as { reason: string }).reason, /status 503 after 900 attempt\(s\); the 24 h retry horizon is spent/);
  // A shorter horizon (CALLCAST_WEBHOOK_RETRY_HORIZON) parks sooner.
  const policy = { ...DEFAULT_WEBHOOK_RETRY_POLICY, horizonMs: 120_000 };
  assert.equal(
    nextAttempt({ outcome: { kind: 'network' }, attempts: 5, retryFrom: T0, now: T0 + 100_000, random: MID }, policy).action,
    'retry',
  );
  assert.equal(
    nextAttempt({ outcome: { kind: 'network' }, attempts: 9, retryFrom: T0, now: T0 + 119_000, random: MID }, policy).action,
    'dead',
  );
  // The horizon counts from retryFrom: a replayed delivery gets a new one.
  assert.equal(
    nextAttempt({ outcome: { kind: 'network' }, attempts: 1, retryFrom: T0 + 200_000, now: T0 + 200_500, random: MID }, policy).action,
    'retry',
  );
});

test('target event filter and URL redaction', () => {
  assert.equal(targetWantsEvent({ url: 'http://x', events: [] }, 'call.updated'), true);
  assert.equal(targetWantsEvent({ url: 'http://x', events: ['call.ended'] }, 'call.updated'), false);
  assert.equal(targetWantsEvent({ url: 'http://x', events: ['call.ended', 'call.updated'] }, 'call.updated'), true);
  assert.equal(redactUrl('https://user:pw@hooks.example.com/a/b?token=abc#f'), 'https://hooks.example.com/a/b');
  assert.equal(redactUrl('not a url'), '<invalid url>');
});
