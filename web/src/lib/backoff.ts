/** Reconnect delays: exponential from `baseMs`, capped at `maxMs`, with up to 20 % jitter. Pure. */
export function backoffDelay(attempt: number, baseMs = 500, maxMs = 10_000, random: () => number = Math.random): number {
  const raw = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.round(raw * (0.8 + 0.2 * random()));
}
