/**
 * Starts a Callcast server for a control-plane test: the composition root (src/app.ts) on
 * 127.0.0.1, port 0, a fresh temp data dir (SQLite) or, when CALLCAST_TEST_DATABASE_URL is set, a
 * fresh schema in that PostgreSQL database. The broadcast engine is a RecordingEngine unless one
 * is given.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamClient } from '@stream-io/node-sdk';
import pg from 'pg';
import { startCallcast, type Callcast, type CallcastOptions } from '../../src/app.js';
import type { EngineFactory } from '../../src/calls/broadcasts.js';
import type { Config } from '../../src/config.js';
import type { EgressEngine } from '../../src/egress/engine.js';
import type { WireEvent } from '../../src/events/contract.js';
import { waitFor } from './wait.js';

/** What the suite's services may connect to despite the destination policy: its loopback ingests and servers. */
export const TEST_RTMP_ALLOW = '127.0.0.1,::1';

/**
 * Admission by load is off in the suite's services: the test machine is shared with other runs,
 * so its load says nothing about a test's own encodes. The admission tests turn it on.
 */
export const TEST_ADMISSION = { admissionDegraded: false, admissionCpuPercent: 0 } as const;

/**
 * What every service a test starts is configured with: loopback on a free port, its credentials
 * and data directory, the suite's loopback ingests allowed, load admission off.
 */
export function testServiceConfig(c: { apiKey: string; apiSecret: string; dataDir: string }) {
  return { port: 0, host: '127.0.0.1', ...c, rtmpAllow: TEST_RTMP_ALLOW, ...TEST_ADMISSION };
}
import { RecordingEngine } from './recording-engine.js';

export interface TestServer {
  url: string;
  apiKey: string;
  apiSecret: string;
  client: StreamClient;
  server: Callcast<EgressEngine | null>;
  engine: RecordingEngine;
  /** Every event published on the bus since start. */
  events: WireEvent[];
  dataDir: string;
  databaseUrl?: string;
  /** Stops the server (the data dir / schema stays until `close`). */
  stop(): Promise<void>;
  /** Starts a new server on the same data (for restart tests). */
  restart(): Promise<TestServer>;
  close(): Promise<void>;
}

export interface TestServerOptions {
  engine?: EngineFactory;
  webhookUrl?: string;
  /** More HTTP surfaces (plugins of the edge). */
  plugins?: CallcastOptions['plugins'];
  log?: CallcastOptions['log'];
  /** Where the built pages are (default the repository's dist/web/pages). */
  webRoot?: string;
  /** Webhook retry policy overrides (compressed backoff for outage tests). */
  webhookPolicy?: CallcastOptions['webhookPolicy'];
  /** Config fields over the test defaults (a PostgreSQL URL of the test's own, a retry horizon...). */
  config?: Partial<Config>;
}

/** A fresh schema in the test PostgreSQL database; the URL selects it through search_path. */
export async function freshSchema(baseUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: baseUrl });
  await client.connect();
  await client.query(`CREATE SCHEMA ${schema}`);
  await client.end();
  const u = new URL(baseUrl);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: u.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: baseUrl });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    },
  };
}

export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'callcast-test-'));
  const pgBase = process.env.CALLCAST_TEST_DATABASE_URL;
  const schema = pgBase ? await freshSchema(pgBase) : null;
  const apiKey = `key-${randomBytes(4).toString('hex')}`;
  const apiSecret = randomBytes(24).toString('hex');
  const config: Config = {
    ...testServiceConfig({ apiKey, apiSecret, dataDir }),
    logLevel: (process.env.CALLCAST_TEST_LOG_LEVEL as Config['logLevel']) ?? 'silent',
  };
  if (schema) config.databaseUrl = schema.url;
  if (opts.webhookUrl) config.webhookUrl = opts.webhookUrl;
  Object.assign(config, opts.config);
  let cleaned = false;
  const cleanupData = async () => {
    if (cleaned) return;
    cleaned = true;
    await schema?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  };

  const boot = async (): Promise<TestServer> => {
    const engine = new RecordingEngine();
    const events: WireEvent[] = [];
    const server = await startCallcast({
      config,
      engine: opts.engine ?? engine.bind,
      ...(opts.plugins ? { plugins: opts.plugins } : {}),
      ...(opts.log ? { log: opts.log } : {}),
      ...(opts.webRoot ? { webRoot: opts.webRoot } : {}),
      ...(opts.webhookPolicy ? { webhookPolicy: opts.webhookPolicy } : {}),
    });
    server.bus.subscribe((e) => events.push(e));
    const client = new StreamClient(apiKey, apiSecret, { basePath: server.url, timeout: 10_000 });
    const handle: TestServer = {
      url: server.url,
      apiKey,
      apiSecret,
      client,
      server,
      engine,
      events,
      dataDir,
      stop: () => server.close(),
      restart: async () => {
        await server.close();
        return boot();
      },
      close: async () => {
        await server.close();
        await cleanupData();
      },
    };
    if (schema) handle.databaseUrl = schema.url;
    return handle;
  };
  try {
    return await boot();
  } catch (err) {
    await cleanupData();
    throw err;
  }
}

/** Raw request with the same headers the node SDK sends (for user tokens and malformed input). */
export async function rawRequest(
  t: Pick<TestServer, 'url' | 'apiKey'>,
  method: string,
  path: string,
  opts: { token?: string; body?: string | object; apiKey?: string | null; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const sep = path.includes('?') ? '&' : '?';
  const key = opts.apiKey === undefined ? t.apiKey : opts.apiKey;
  const url = `${t.url}${path}${key === null ? '' : `${sep}api_key=${encodeURIComponent(key)}`}`;
  const headers: Record<string, string> = {
    'stream-auth-type': 'jwt',
    'X-Stream-Client': 'stream-node-test',
    'Content-Type': 'application/json',
    ...opts.headers,
  };
  if (opts.token !== undefined) headers.Authorization = opts.token;
  const init: RequestInit = { method, headers, signal: AbortSignal.timeout(10_000) };
  if (opts.body !== undefined) init.body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  const res = await fetch(url, init);
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    // keep text
  }
  return { status: res.status, body, headers: res.headers };
}

/**
 * Waits for the call.updated (at or after event `from`) that lists `count` RTMP broadcasts: a
 * start's own call.updated is published after its response, so a test that reads the next
 * call.updated waits for this one first.
 */
export function callUpdatedWithBroadcasts(t: TestServer, from: number, count: number): Promise<WireEvent> {
  return waitFor(
    () =>
      t.events
        .slice(from)
        .find((e) => e.type === 'call.updated' && (e.call as { egress: { rtmps: unknown[] } }).egress.rtmps.length === count),
    `call.updated listing ${count} broadcasts`,
  );
}
