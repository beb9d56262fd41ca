/**
 * The process logger (pino, as Fastify uses). Known secret-bearing fields are redacted.
 */
import { pino, type Logger as PinoLogger } from 'pino';
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

export function createLogger(level: LogLevel): Logger {
  return pino({ level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } });
}
