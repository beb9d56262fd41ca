/**
 * Logging. `Logger` is what every module takes: a subset of pino's API, so the process logger
 * (pino, as Fastify uses) or Fastify's `app.log` can be passed as is. Known secret-bearing fields
 * are redacted by the process logger.
 */
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import type { LogLevel } from './config.js';

/** What a module needs of a logger. */
export type Logger = Pick<PinoLogger, 'debug' | 'info' | 'warn' | 'error'>;

/** The process logger: pino itself (Fastify takes it as its logger instance). */
export type ProcessLogger = PinoLogger;

/** A logger that drops everything (the default where none is given). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
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

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.query.api_key',
  'headers.authorization',
  'apiSecret',
  'api_secret',
  'streamKey',
  'stream_key',
  'token',
  '*.stream_key',
  '*.streamKey',
  '*.apiSecret',
];

/** A pino logger with secret-bearing fields redacted; `destination` defaults to stdout. */
export function createLogger(level: LogLevel, destination?: DestinationStream): ProcessLogger {
  const options = { level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } };
  return destination ? pino(options, destination) : pino(options);
}
