/**
 * The logging surface the event plane needs: a subset of pino's API, so a pino logger (or
 * Fastify's `app.log`) can be passed as is.
 */
export interface Logger {
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  debug?(obj: object | string, msg?: string): void;
}

/** A logger that drops everything (the default where none is given). */
export const silentLogger: Logger = {
  info() {},
  warn() {},
  error() {},
  debug() {},
};

/** Describes a thrown value for a log line without its stack or any attached data. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause;
    const causeText = cause instanceof Error ? `: ${cause.message}` : '';
    return `${err.name}: ${err.message}${causeText}`;
  }
  return typeof err === 'string' ? err : 'non-error value thrown';
}
