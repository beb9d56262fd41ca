/**
 * The process logger (pino, as Fastify uses). Known secret-bearing fields are redacted.
 */
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import type { LogLevel } from './config.js';

export type Logger = PinoLogger;

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
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const options = { level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } };
  return destination ? pino(options, destination) : pino(options);
}
