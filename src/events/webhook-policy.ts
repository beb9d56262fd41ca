/**
 * The webhook retry policy of the reference service, as pure functions:
 * - a 2xx answer delivers;
 * - 408, 429 and >= 500 are retried, up to 3 attempts in all;
 * - a network error (refused, reset, DNS) is retried, up to 2 attempts;
 * - a request timeout (6 s per request) is retried, up to 3 attempts;
 * - any other answer (other 4xx, 3xx, 1xx) gives up at once;
 * - all attempts of one delivery together are capped at 15 s: no attempt starts after that,
 *   and an attempt's own timeout is shortened so it ends by then.
 */

export interface WebhookRetryPolicy {
  /** Timeout of one request (until the response headers arrive). */
  requestTimeoutMs: number;
  /** Budget of all attempts of one delivery, counted from its budget start. */
  totalBudgetMs: number;
  /** Pause after attempt n (index n - 1); the last value repeats. */
  backoffMs: readonly number[];
  /** Attempts in all after which an outcome of this kind gives up. */
  maxAttempts: { status: number; network: number; timeout: number };
}

export const DEFAULT_WEBHOOK_RETRY_POLICY: Readonly<WebhookRetryPolicy> = Object.freeze({
  requestTimeoutMs: 6_000,
  totalBudgetMs: 15_000,
  backoffMs: Object.freeze([500, 1_000]),
  maxAttempts: Object.freeze({ status: 3, network: 2, timeout: 3 }),
});

/** What one attempt came to. */
export type AttemptOutcome =
  | { kind: 'response'; status: number }
  | { kind: 'network' }
  | { kind: 'timeout' };

export type NextStep =
  | { action: 'done' }
  | { action: 'retry'; at: number }
  | { action: 'give_up'; reason: string };

export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * Decides what follows an attempt.
 * `attempts` counts the attempts made so far, including the one that produced `outcome`;
 * `budgetStart` is when the delivery's 15 s budget began (epoch ms).
 */
export function nextAttempt(
  input: { outcome: AttemptOutcome; attempts: number; budgetStart: number; now: number },
  policy: WebhookRetryPolicy = DEFAULT_WEBHOOK_RETRY_POLICY,
): NextStep {
  const { outcome, attempts, budgetStart, now } = input;
  let limit: number;
  switch (outcome.kind) {
    case 'response':
      if (outcome.status >= 200 && outcome.status < 300) return { action: 'done' };
      if (!isRetryableStatus(outcome.status)) {
        return { action: 'give_up', reason: `status ${outcome.status} is not retried` };
      }
      limit = policy.maxAttempts.status;
      break;
    case 'network':
      limit = policy.maxAttempts.network;
      break;
    case 'timeout':
      limit = policy.maxAttempts.timeout;
      break;
  }
  const what = outcome.kind === 'response' ? `status ${outcome.status}` : outcome.kind === 'network' ? 'network error' : 'timeout';
  if (attempts >= limit) return { action: 'give_up', reason: `${what} after ${attempts} attempt(s)` };
  const backoff = backoffAfter(attempts, policy);
  const at = now + backoff;
  if (at >= budgetStart + policy.totalBudgetMs) {
    return { action: 'give_up', reason: `${what}, and the ${policy.totalBudgetMs} ms budget is spent` };
  }
  return { action: 'retry', at };
}

/** The pause after attempt number `attempts` (1-based). */
export function backoffAfter(attempts: number, policy: WebhookRetryPolicy = DEFAULT_WEBHOOK_RETRY_POLICY): number {
  const list = policy.backoffMs;
  if (list.length === 0) return 0;
  return list[Math.min(Math.max(attempts, 1), list.length) - 1] ?? 0;
}

/**
 * The timeout of the next attempt, or null when the budget is spent and the attempt should not
 * be made. A delivery never attempted is always attempted once with the full request timeout:
 * losing none matters more than the cap.
 */
export function attemptTimeout(
  input: { attemptsMade: number; budgetStart: number; now: number },
  policy: WebhookRetryPolicy = DEFAULT_WEBHOOK_RETRY_POLICY,
): number | null {
  if (input.attemptsMade === 0) return policy.requestTimeoutMs;
  const remaining = input.budgetStart + policy.totalBudgetMs - input.now;
  if (remaining <= 0) return null;
  return Math.min(policy.requestTimeoutMs, remaining);
}
