/**
 * Waiting in tests: `waitFor` polls a check until it holds, bounded in time (a timeout under load
 * is not a logic failure, so the bound is generous), and `sleep`.
 */

type Falsy = false | 0 | '' | null | undefined;

/**
 * Polls `check` every `intervalMs` until it returns (or resolves to) a truthy value, and resolves
 * with that value; throws `timed out waiting for <what>` once `timeoutMs` has passed.
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  what: string,
  timeoutMs = 60_000,
  intervalMs = 20,
): Promise<Exclude<T, Falsy>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as Exclude<T, Falsy>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(intervalMs);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
