/**
 * The webhook retry policy, as pure functions. It goes beyond the reference service's three
 * attempts in 15 s, so that a receiver down for minutes or hours loses nothing:
 * - a 2xx answer delivers;
 * - 408, 429, >= 500, a network error (refused, reset, DNS) and a request timeout (6 s) are
 *   retried with exponential backoff (1 s doubling up to 60 s, jittered) for the retry horizon
 *   (24 h by default) counted from the delivery's creation (or its replay);
 * - past the horizon, and at once for any other answer (other 4xx, 3xx, 1xx: the receiver refused
 *   it), the delivery is parked as dead: kept in the outbox, counted in /metrics, replayable.
 */

export interface WebhookRetryPolicy {
  /** Timeout of one request (until the response headers arrive). */
  requestTimeoutMs: number;
  /** How long a delivery is retried, counted from its retry start (creation or replay). */
  horizonMs: number;
  /** Pause after the first failed attempt; it doubles with each attempt. */
  initialBackoffMs: number;
  /** The longest pause between two attempts. */
  maxBackoffMs: number;
  /** Fraction of each pause that is random (0: none, 1: anywhere from 0 to the pause). */
  jitter: number;
}

export const DEFAULT_WEBHOOK_RETRY_HORIZON_MS = 24 * 3600 * 1000;

export const DEFAULT_WEBHOOK_RETRY_POLICY: Readonly<WebhookRetryPolicy> = Object.freeze({
  requestTimeoutMs: 6_000,
  horizonMs: DEFAULT_WEBHOOK_RETRY_HORIZON_MS,
  initialBackoffMs: 1_000,
  maxBackoffMs: 60_000,
  jitter: 0.5,
});

/** What one attempt came to. */
export type AttemptOutcome = { kind: 'response'; status: number } | { kind: 'network' } | { kind: 'timeout' };

export type NextStep = { action: 'done' } | { action: 'retry'; at: number } | { action: 'dead'; reason: string };

export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

export function describeOutcome(outcome: AttemptOutcome): string {
  return outcome.kind === 'response' ? `status ${outcome.status}` : outcome.kind === 'network' ? 'network error' : 'timeout';
}

/**
 * Decides what follows an attempt. `attempts` counts the attempts made so far, including the one
 * that produced `outcome`; `retryFrom` is when the delivery's horizon began (epoch ms); `random`
 * returns a number in [0, 1) (Math.random; tests pass a fixed one).
 */
export function nextAttempt(
  input: { outcome: AttemptOutcome; attempts: number; retryFrom: number; now: number; random?: () => number },
  policy: WebhookRetryPolicy = DEFAULT_WEBHOOK_RETRY_POLICY,
): NextStep {
  const { outcome, attempts, retryFrom, now } = input;
  if (outcome.kind === 'response') {
    if (outcome.status >= 200 && outcome.status < 300) return { action: 'done' };
    if (!isRetryableStatus(outcome.status)) return { action: 'dead', reason: `status ${outcome.status} is not retried` };
  }
  const at = now + backoffAfter(attempts, policy, input.random ?? Math.random);
  if (at > retryFrom + policy.horizonMs) {
    return {
      action: 'dead',
      reason: `${describeOutcome(outcome)} after ${attempts} attempt(s); the ${formatMs(policy.horizonMs)} retry horizon is spent`,
    };
  }
  return { action: 'retry', at };
}

/**
 * The pause after attempt number `attempts` (1-based): initial * 2^(attempts-1), capped, of which
 * the `jitter` fraction is random (so receivers coming back are not hit by every sender at once).
 */
export function backoffAfter(
  attempts: number,
  policy: WebhookRetryPolicy = DEFAULT_WEBHOOK_RETRY_POLICY,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(attempts, 1) - 1, 40);
  const base = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** exponent);
  const jitter = Math.min(Math.max(policy.jitter, 0), 1);
  return Math.round(base * (1 - jitter) + base * jitter * random());
}

function formatMs(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms % 1_000 === 0) return `${ms / 1_000} s`;
  return `${ms} ms`;
}
