/** Reconnect schedule: exponential backoff with jitter. Pure. */

export interface BackoffOptions {
  /** Delay before the first retry (before jitter). */
  initialDelayMs: number;
  /** Cap on the delay (jitter never exceeds it). */
  maxDelayMs: number;
  /** Relative jitter, 0..1: the delay is scaled by a factor in [1 - jitter, 1 + jitter]. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialDelayMs: 500, maxDelayMs: 10_000, jitter: 0.2 };

/**
 * Delay before retry number `attempt` (0 = first retry). `random` returns a number in [0, 1).
 */
export function backoffDelay(attempt: number, opts: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const base = Math.min(opts.maxDelayMs, opts.initialDelayMs * 2 ** Math.max(0, Math.min(attempt, 30)));
  const factor = 1 - opts.jitter + 2 * opts.jitter * random();
  return Math.max(0, Math.min(opts.maxDelayMs, Math.round(base * factor)));
}
