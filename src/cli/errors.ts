/**
 * What a command can fail with, and the exit code each one means:
 * 2 the command line is wrong, 1 the server refused the request, 3 the server could not be reached.
 */

export class UsageError extends Error {
  override name = 'UsageError';
}

/** The server answered with an error (Stream's error shape: `message`, `code`, `StatusCode`). */
export class ServerError extends Error {
  override name = 'ServerError';
  constructor(
    message: string,
    readonly status: number,
    readonly code: number | null,
  ) {
    super(message);
  }
}

/** Nothing answered at the server's address (refused, timed out, unknown host). */
export class UnreachableError extends Error {
  override name = 'UnreachableError';
}

export const EXIT = { ok: 0, server: 1, usage: 2, unreachable: 3 } as const;
