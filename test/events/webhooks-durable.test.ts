/**
 * A restart loses no webhook: a process is killed (SIGKILL) with a delivery pending in the
 * durable store's outbox (SQLite), and a new dispatcher over the same file delivers it.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { StreamClient } from '@stream-io/node-sdk';
import { InProcessEventBus } from '../../src/events/bus.js';
import { WebhookDispatcher } from '../../src/events/webhooks.js';
import { openStore, type Store } from '../../src/store/store.js';
import { waitFor } from '../support/wait.js';
import { RecordingLogger } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'callcast-webhooks-'));
const children: ChildProcess[] = [];
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const f of cleanups.reverse()) await f();
  rmSync(dir, { recursive: true, force: true });
});

test('a delivery pending when the process is killed is delivered after the restart', { timeout: 90_000 }, async () => {
  const requests: { headers: IncomingHttpHeaders; body: Buffer }[] = [];
  let status = 500;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  const sqlitePath = join(dir, 'callcast.sqlite');

  // First life: the event is stored, attempt 1 fails (500), the retry is scheduled; then SIGKILL.
  const fixture = fileURLToPath(new URL('./fixtures/webhook-process.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, sqlitePath, url], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  await waitFor(() => output.includes('will retry'), 'the first attempt to fail and be rescheduled', 60_000);
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.equal(requests.length, 1);
  assert.equal(requests[0]!.headers['x-webhook-attempt'], '1');

  // Second life: a new dispatcher over the same database file sends it (the retry is due 4 s after the failure).
  status = 200;
  const store: Store = await openStore({ sqlitePath });
  cleanups.push(() => store.close());
  const pending = await store.webhookOutbox.due(Date.now() + 60_000, 10);
  assert.equal(pending.length, 1);
  assert.equal(pending[0]!.attempts, 1);
  const dispatcher = new WebhookDispatcher({
    bus: new InProcessEventBus(),
    outbox: store.webhookOutbox,
    apiKey: 'durable-key',
    apiSecret: 'durable-secret',
    target: async () => ({ url, events: [] }),
    log: new RecordingLogger(),
    pollIntervalMs: 100,
  });
  cleanups.push(() => dispatcher.stop());
  dispatcher.start();
  await waitFor(
    async () => requests.length === 2 && (await store.webhookOutbox.due(Date.now() + 60_000, 10)).length === 0,
    'delivery after restart',
    60_000,
  );
  const [first, second] = requests;
  assert.equal(second!.headers['x-webhook-id'], first!.headers['x-webhook-id']);
  assert.equal(second!.headers['x-webhook-attempt'], '2');
  assert.equal(second!.body.toString(), first!.body.toString());
  const event = new StreamClient('durable-key', 'durable-secret').verifyAndParseWebhook(
    second!.body,
    second!.headers['x-signature'] as string,
  );
  assert.equal(event.type, 'call.rtmp_broadcast_started');
});
