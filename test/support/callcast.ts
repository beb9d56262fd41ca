/**
 * Starts the complete service (as `callcast serve` assembles it: media plane, compositor-driven
 * egress, pages, metrics) for a test: 127.0.0.1, port 0, fresh credentials, a throw-away data dir,
 * and with CALLCAST_TEST_DATABASE_URL a fresh PostgreSQL schema. `close()` removes it all.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamClient } from '@stream-io/node-sdk';
import { startCallcast, type Callcast, type CallcastOptions } from '../../src/app.js';
import type { Config } from '../../src/config.js';
import { freshSchema, testServiceConfig } from './server.js';

export interface TestCallcast {
  server: Callcast;
  /** The official SDK with server credentials, pointed at the service. */
  client: StreamClient;
  apiKey: string;
  apiSecret: string;
  url: string;
  close(): Promise<void>;
}

export async function startTestCallcast(
  opts: Omit<CallcastOptions, 'config' | 'engine'> & { config?: Partial<Config> } = {},
): Promise<TestCallcast> {
  const dataDir = mkdtempSync(join(tmpdir(), 'callcast-test-'));
  const pgBase = process.env.CALLCAST_TEST_DATABASE_URL;
  const schema = pgBase ? await freshSchema(pgBase) : null;
  const apiKey = `key-${randomBytes(4).toString('hex')}`;
  const apiSecret = randomBytes(24).toString('hex');
  const cleanup = async () => {
    await schema?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  let server: Callcast;
  try {
    server = await startCallcast({
      ...opts,
      config: {
        ...testServiceConfig({ apiKey, apiSecret, dataDir }),
        logLevel: 'silent',
        ...(schema ? { databaseUrl: schema.url } : {}),
        ...opts.config,
      },
    });
  } catch (err) {
    await cleanup();
    throw err;
  }
  return {
    server,
    client: new StreamClient(apiKey, apiSecret, { basePath: server.url, timeout: 10_000 }),
    apiKey,
    apiSecret,
    url: server.url,
    close: async () => {
      await server.close();
      await cleanup();
    },
  };
}
