/**
 * The complete service for the browser tests, as `callcast serve` assembles it (src/app.ts:
 * media plane, compositor-driven egress, web pages with development tokens and previews) on
 * 127.0.0.1, a free port and a throw-away data dir, with the pages freshly built by Vite.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { StreamClient } from '@stream-io/node-sdk';
import type { Callcast } from '../../src/app.js';
import { mintUserToken } from '../../src/cli.js';
import type { RetryPolicy } from '../../src/egress/destination.js';
import { startTestCallcast } from '../support/callcast.js';

const execFileP = promisify(execFile);

export const REPO_ROOT = resolve(import.meta.dirname, '../..');
export const WEB_ROOT = join(REPO_ROOT, 'dist/web/pages');
export const OUTPUT_DIR = join(REPO_ROOT, 'test-output/web');

/** Builds the pages with Vite (once per test process). */
let built: Promise<void> | null = null;
export function buildWebPages(): Promise<void> {
  built ??= execFileP('npx', ['vite', 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn'], {
    cwd: REPO_ROOT,
    timeout: 120_000,
  }).then(() => {
    if (!existsSync(join(WEB_ROOT, 'join.html')) || !existsSync(join(WEB_ROOT, 'console.html'))) {
      throw new Error('vite build did not produce dist/web/pages/join.html and console.html');
    }
  });
  return built;
}

export function screenshotPath(name: string): string {
  mkdirSync(OUTPUT_DIR, { recursive: true });
  return join(OUTPUT_DIR, `${name}.png`);
}

export interface WebHarness {
  server: Callcast;
  client: StreamClient;
  apiKey: string;
  apiSecret: string;
  /** The server's URL (pages and API), e.g. http://127.0.0.1:40123 */
  url: string;
  /** A user token for an app-level admin ("operator"), as `make start` prints for the console. */
  operatorToken: string;
  close(): Promise<void>;
}

export interface WebHarnessOptions {
  /** The destinations' retry policy (e.g. a short give-up time to see failures quickly). */
  retry?: Partial<RetryPolicy>;
}

export async function startWebHarness(opts: WebHarnessOptions = {}): Promise<WebHarness> {
  await buildWebPages();
  const svc = await startTestCallcast({
    config: { devTokens: true },
    ...(opts.retry ? { egress: { retry: opts.retry } } : {}),
    webRoot: WEB_ROOT,
  });
  const { server, client, apiKey, apiSecret, close } = svc;
  try {
    await client.upsertUsers([{ id: 'operator', name: 'Operator', role: 'admin' }]);
    const operatorToken = await mintUserToken(apiSecret, { userId: 'operator', ttlSeconds: 3600 });
    return { server, client, apiKey, apiSecret, url: server.url, operatorToken, close };
  } catch (err) {
    await close();
    throw err;
  }
}
