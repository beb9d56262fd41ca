/**
 * A Callcast test server with the web pages: the server of test/support/server.ts with a real
 * egress engine whose frames feed a PreviewTap, and `registerWebRoutes` mounted as a server
 * extension through `webExtension` (src/web/wiring.ts), as the server assembly is expected to.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { mintUserToken } from '../../src/cli.js';
import type { RetryPolicy } from '../../src/egress/destination.js';
import { EgressEngine } from '../../src/egress/engine.js';
import { backgroundFrameSourceFactory, type FrameSourceFactory } from '../../src/egress/frame-source.js';
import { createLogger } from '../../src/log.js';
import { PreviewTap } from '../../src/web/preview.js';
import { webExtension } from '../../src/web/wiring.js';
import type { ServerOptions } from '../../src/server.js';
import { startTestServer, type TestServer } from '../support/server.js';

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
  api: TestServer;
  /** The server's URL (pages and API), e.g. http://127.0.0.1:40123 */
  url: string;
  tap: PreviewTap;
  /** A user token for an app-level admin ("operator"), as `make start` prints for the console. */
  operatorToken: string;
  /** Whether the server answers WHIP publishes (the media plane is mounted). */
  whipAvailable: boolean;
  close(): Promise<void>;
}

export interface WebHarnessOptions {
  frameSourceFactory?: FrameSourceFactory;
  extensions?: ServerOptions['extensions'];
  /** The destinations' retry policy (e.g. a short give-up time to see failures quickly). */
  retry?: Partial<RetryPolicy>;
}

export async function startWebHarness(opts: WebHarnessOptions = {}): Promise<WebHarness> {
  await buildWebPages();
  const tap = new PreviewTap();
  const log = createLogger((process.env.CALLCAST_TEST_LOG_LEVEL as 'silent') ?? 'silent');
  const api = await startTestServer({
    engine: (listener) =>
      new EgressEngine({
        listener,
        log,
        frameSourceFactory: tap.wrap(opts.frameSourceFactory ?? backgroundFrameSourceFactory),
        ...(opts.retry ? { retry: opts.retry } : {}),
      }),
    extensions: [
      ...(opts.extensions ?? []),
      webExtension({ webRoot: WEB_ROOT, devTokens: true, tap }),
    ],
  });
  try {
    await api.client.upsertUsers([{ id: 'operator', name: 'Operator', role: 'admin' }]);
    const operatorToken = await mintUserToken(api.apiSecret, { userId: 'operator', ttlSeconds: 3600 });
    const probe = await fetch(`${api.url}/video/call/default/whip-probe/whip?api_key=${api.apiKey}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp' },
      body: 'v=0\r\n',
      signal: AbortSignal.timeout(5_000),
    });
    const probeBody = await probe.text();
    const whipAvailable = !(probe.status === 404 && probeBody.includes('no route'));
    return { api, url: api.url, tap, operatorToken, whipAvailable, close: () => api.close() };
  } catch (err) {
    await api.close();
    throw err;
  }
}
