/**
 * The store's availability: which database errors mean "the store is away" (PostgreSQL shut down,
 * restarting, failed over, a connection killed), a pool wrapper that turns them into
 * `StoreUnavailableError` and keeps a broken connection from crashing the process, and a helper
 * that retries a write that must not be lost until the store is back.
 */
import type { PostgresPool, PostgresPoolClient } from 'kysely';
import type pg from 'pg';
import { describeError, type Logger } from '../log.js';

/** The store cannot be reached right now; the request may be repeated later (HTTP 503). */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
  constructor(message = 'the store is unavailable', options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Socket-level error codes that mean the connection to the database is gone or cannot be made. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENOENT',
]);

/**
 * PostgreSQL SQLSTATEs of a server going away or not accepting connections: class 08 (connection
 * exception), 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, 57P05
 * idle_session_timeout, 53300 too_many_connections.
 */
function isUnavailableSqlState(code: string): boolean {
  return code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '57P05' || code === '53300';
}

const UNAVAILABLE_MESSAGES = [
  /connection terminated/i,
  /terminating connection/i,
  /timeout exceeded when trying to connect/i,
  /connection timeout/i,
  /client has encountered a connection error/i,
  /cannot use a pool after calling end/i,
  /the database system is (starting up|shutting down|in recovery mode)/i,
  /server closed the connection unexpectedly/i,
  /Connection terminated unexpectedly/i,
];

/** Whether a database error means the store is away (rather than a bad query or a constraint). */
export function isStoreUnavailable(err: unknown): boolean {
  if (err instanceof StoreUnavailableError) return true;
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e && typeof e === 'object'; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (NETWORK_CODES.has(code) || isUnavailableSqlState(code))) return true;
    const message = (e as { message?: unknown }).message;
    if (typeof message === 'string' && UNAVAILABLE_MESSAGES.some((re) => re.test(message))) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

function asUnavailable(err: unknown): unknown {
  if (err instanceof StoreUnavailableError || !isStoreUnavailable(err)) return err;
  return new StoreUnavailableError(`the store is unavailable: ${describeError(err)}`, { cause: err });
}

/**
 * What Kysely sees of the PostgreSQL pool: connection failures surface as StoreUnavailableError,
 * a client whose connection broke is discarded rather than returned to the pool, and every client
 * (idle or checked out) and the pool itself have an 'error' listener, so a PostgreSQL shutdown or
 * a killed backend is logged instead of ending the process.
 */
export class ResilientPgPool implements PostgresPool {
  constructor(
    private readonly pool: pg.Pool,
    private readonly log: Logger,
  ) {
    // An idle client whose backend went away: pg-pool discards it and emits this.
    pool.on('error', (err) => this.log.warn({ err: describeError(err) }, 'store connection lost (idle); it will be reopened when needed'));
  }

  async connect(): Promise<PostgresPoolClient> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw asUnavailable(err);
    }
    let broken = false;
    // A checked-out client has no listener of pg-pool's: without this one, its connection breaking
    // between two queries (inside a transaction) would be an unhandled 'error' event.
    const onError = (err: Error) => {
      broken = true;
      this.log.warn({ err: describeError(err) }, 'store connection lost (in use)');
    };
    client.on('error', onError);
    const query = async (...args: unknown[]): Promise<unknown> => {
      try {
        return await (client.query as (...a: unknown[]) => Promise<unknown>)(...args);
      } catch (err) {
        if (isStoreUnavailable(err)) broken = true;
        throw asUnavailable(err);
      }
    };
    return {
      query: query as PostgresPoolClient['query'],
      release: () => {
        client.removeListener('error', onError);
        // A client whose connection broke is destroyed, not reused.
        client.release(broken ? new Error('store connection broken') : undefined);
      },
    };
  }

  end(): Promise<void> {
    return this.pool.end();
  }
}

/** What the retry helper logs through (any of the project's loggers). */
export interface RetryLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface RetryWhileUnavailableOptions {
  log: RetryLog;
  /** What is being written, for the log lines. */
  what: string;
  /** First pause, ms (doubles, capped by maxDelayMs). */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Stops retrying (the promise rejects with the last error) once this returns true. */
  abandoned?: () => boolean;
}

/**
 * Runs `write` until it succeeds, retrying (with capped exponential backoff) while the store is
 * unavailable; any other error rejects at once. For writes that must not be lost: broadcast state
 * transitions reported by the engine, webhook deliveries.
 */
export async function retryWhileUnavailable<T>(write: () => Promise<T>, opts: RetryWhileUnavailableOptions): Promise<T> {
  const initial = opts.initialDelayMs ?? 250;
  const max = opts.maxDelayMs ?? 5_000;
  let delay = initial;
  let attempts = 0;
  for (;;) {
    try {
      const result = await write();
      if (attempts > 0) opts.log.info({ what: opts.what, attempts: attempts + 1 }, 'store write went through after the store came back');
      return result;
    } catch (err) {
      if (!isStoreUnavailable(err) || opts.abandoned?.()) throw err;
      attempts++;
      if (attempts === 1)
        opts.log.warn({ what: opts.what, err: describeError(err) }, 'store unavailable; the write will be retried until it is back');
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(max, delay * 2);
    }
  }
}
