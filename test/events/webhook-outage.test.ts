/**
 * Webhooks through a long receiver outage, with the service restarted in the middle of it: every
 * event published while the receiver was down arrives once it is back, once each, in publish
 * order per call. And past the retry horizon (CALLCAST_WEBHOOK_RETRY_HORIZON) a delivery is
 * parked as dead, counted, and `callcast webhooks replay --all` sends it; operators list and
 * replay dead deliveries over the API too (GET /video/webhooks/dead, POST .../replay).
 * CALLCAST_TEST_WEBHOOK_OUTAGE_S sets the outage (default 120 s: the scenario as reported).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { rawRequest, startTestServer, type TestServer } from '../support/server.js';

const OUTAGE_MS = Number(process.env.CALLCAST_TEST_WEBHOOK_OUTAGE_S ?? 120) * 1000;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Hook {
  id: string;
  attempt: number;
  type: string;
  cid: string;
  n: number | null;
  at: number;
}

class Receiver {
  readonly hooks: Hook[] = [];
  status = 200;
  private server: Server | null = null;
  port = 0;

  async listen(port = 0): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          type: string;
          call_cid?: string;
          call?: { custom?: { n?: number } };
        };
        if (this.status === 200) {
          this.hooks.push({
            id: String(req.headers['x-webhook-id']),
            attempt: Number(req.headers['x-webhook-attempt']),
            type: event.type,
            cid: event.call_cid ?? '',
            n: event.call?.custom?.n ?? null,
            at: Date.now(),
          });
        }
        res.writeHead(this.status).end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks`;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
}

async function until<T>(
  check: () => T | null | undefined | false | Promise<T | null | undefined | false>,
  what: string,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('webhooks through a receiver outage', () => {
  const receivers: Receiver[] = [];
  let t: TestServer | undefined;
  after(async () => {
    await t?.close();
    for (const r of receivers) await r.close();
  });

  it(`delivers every event after a ${OUTAGE_MS / 1000} s outage spanning a restart, in order per call`, {
    timeout: OUTAGE_MS + 240_000,
  }, async (tc) => {
    const rx = new Receiver();
    receivers.push(rx);
    await rx.listen();
    t = await startTestServer({ webhookUrl: rx.url, webhookPolicy: { initialBackoffMs: 500, maxBackoffMs: 5_000 } });
    await t.client.upsertUsers([{ id: 'host', role: 'admin' }]);
    await t.client.video.call('default', 'warmup').getOrCreate({ data: { created_by_id: 'host' } });
    await until(() => rx.hooks.find((h) => h.cid === 'default:warmup'), 'the receiver to get the warm-up event', 20_000);

    // ---- outage -------------------------------------------------------------------------------
    await rx.close();
    const downAt = Date.now();
    const calls = ['o1', 'o2', 'o3'];
    /** What was published, per call, in order: "created" then the update numbers. */
    const published = new Map<string, string[]>(calls.map((c) => [`default:${c}`, []]));
    for (const id of calls) {
      await t.client.video.call('default', id).getOrCreate({ data: { created_by_id: 'host' } });
      published.get(`default:${id}`)!.push('created');
    }
    const rounds = 8;
    for (let n = 1; n <= rounds; n++) {
      if (n === 5) {
        // Restart in the middle of the outage: pending deliveries are in the durable outbox.
        t = await t.restart();
        tc.diagnostic(`service restarted ${Date.now() - downAt} ms into the outage`);
      }
      for (const id of calls) {
        await t.client.video.call('default', id).update({ custom: { n } });
        published.get(`default:${id}`)!.push(`updated:${n}`);
      }
      await sleep(Math.max(0, downAt + ((OUTAGE_MS * 0.9) / rounds) * n - Date.now()));
    }
    await sleep(Math.max(0, downAt + OUTAGE_MS - Date.now()));
    const back = new Receiver();
    receivers.push(back);
    await back.listen(rx.port);
    const upAt = Date.now();
    tc.diagnostic(`receiver down for ${upAt - downAt} ms`);

    const expected = [...published.values()].reduce((a, l) => a + l.length, 0);
    const mine = () => back.hooks.filter((h) => published.has(h.cid) && (h.type === 'call.created' || h.type === 'call.updated'));
    await until(() => mine().length >= expected, `all ${expected} events`, 120_000);
    await sleep(1_000);
    const got = mine();
    tc.diagnostic(
      `${got.length} events delivered within ${Math.max(...got.map((h) => h.at)) - upAt} ms of the receiver's return; highest attempt ${Math.max(...got.map((h) => h.attempt))}`,
    );
    assert.equal(got.length, expected, 'each event once');
    assert.equal(new Set(got.map((h) => h.id)).size, expected, 'no delivery twice');
    for (const [cid, list] of published) {
      const order = got.filter((h) => h.cid === cid).map((h) => (h.type === 'call.created' ? 'created' : `updated:${h.n}`));
      assert.deepEqual(order, list, `the events of ${cid} arrive in publish order`);
    }
    assert.equal(await t.server.webhooks.deadCount(), 0);
  });

  /** A receiver that answers 503 until a test sets its status to 200. */
  async function refusingReceiver(): Promise<Receiver> {
    const rx = new Receiver();
    receivers.push(rx);
    await rx.listen();
    rx.status = 503;
    return rx;
  }

  /** A fresh service (the previous one closed) whose deliveries are parked 2 s after they were published. */
  async function parkingServer(webhookUrl: string): Promise<TestServer> {
    await t?.close();
    return startTestServer({
      webhookUrl,
      config: { webhookRetryHorizonSeconds: 2 },
      webhookPolicy: { initialBackoffMs: 200, maxBackoffMs: 400 },
    });
  }

  it('parks a delivery past the retry horizon, counts it, and `callcast webhooks replay --all` sends it', {
    timeout: 120_000,
  }, async () => {
    const rx = await refusingReceiver();
    t = await parkingServer(rx.url);
    await t.client.upsertUsers([{ id: 'host', role: 'admin' }]);
    await t.client.video.call('default', 'parked').getOrCreate({ data: { created_by_id: 'host' } });
    await until(async () => (await t!.server.webhooks.deadCount()) >= 2, 'the deliveries to be parked', 30_000);
    const metrics = await t.server.webhooks.metricsText();
    assert.match(metrics, /^callcast_webhook_dead [2-9]\d*$/m);
    assert.match(metrics, /^callcast_webhook_dead_total [2-9]\d*$/m);
    const dead = await t.server.store.webhookOutbox.listDead(100);
    assert.ok(
      dead.every((d) => /retry horizon is spent/.test(d.reason)),
      JSON.stringify(dead.map((d) => d.reason)),
    );

    rx.status = 200;
    const cli = join(import.meta.dirname, '../../src/cli.ts');
    const env = { ...process.env, CALLCAST_DATA_DIR: t.dataDir, ...(t.databaseUrl ? { CALLCAST_DATABASE_URL: t.databaseUrl } : {}) };
    const list = await promisify(execFile)(process.execPath, ['--import', 'tsx', cli, 'webhooks', 'list'], { env, timeout: 60_000 });
    assert.match(list.stdout, /call\.created\s+default:parked/);
    assert.match(list.stdout, new RegExp(`${dead.length} dead deliveries`));
    const replay = await promisify(execFile)(process.execPath, ['--import', 'tsx', cli, 'webhooks', 'replay', '--all'], {
      env,
      timeout: 60_000,
    });
    assert.match(replay.stdout, new RegExp(`^${dead.length} deliveries queued again`));
    await until(() => rx.hooks.find((h) => h.type === 'call.created' && h.cid === 'default:parked'), 'the replayed delivery', 30_000);
    await until(async () => (await t!.server.webhooks.deadCount()) === 0, 'no dead delivery left', 10_000);
    assert.deepEqual(rx.hooks.map((h) => h.id).sort(), dead.map((d) => d.id).sort(), 'the same deliveries, by X-WEBHOOK-ID');
  });

  it('lists dead deliveries to operators over the API (no body, no URL query) and replays one by id, then all', {
    timeout: 120_000,
  }, async () => {
    const rx = await refusingReceiver();
    t = await parkingServer(`${rx.url}?secret=receiver-secret`);
    await t.client.upsertUsers([
      { id: 'host', role: 'admin' },
      { id: 'viewer', role: 'user' },
    ]);
    await t.client.video.call('default', 'parked-api').getOrCreate({ data: { created_by_id: 'host' } });
    const admin = t.client.generateUserToken({ user_id: 'host' });
    // The two users' events and the call's, all parked.
    await until(
      async () => {
        const dead = await t!.server.store.webhookOutbox.listDead(100);
        return dead.length >= 3 && dead.some((d) => d.body.includes('"call.created"'));
      },
      'the deliveries to be parked',
      30_000,
    );

    const refused = await rawRequest(t, 'GET', '/video/webhooks/dead', { token: t.client.generateUserToken({ user_id: 'viewer' }) });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.code, 17);
    assert.match(refused.body.message, /server token or a user with the admin role/);

    const listed = await rawRequest(t, 'GET', '/video/webhooks/dead', { token: admin });
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    const total = await t.server.webhooks.deadCount();
    assert.equal(listed.body.total, total);
    assert.equal(listed.body.deliveries.length, total);
    const created = listed.body.deliveries.find((d: { event_type: string }) => d.event_type === 'call.created');
    assert.ok(created, JSON.stringify(listed.body.deliveries));
    assert.equal(created.call_cid, 'default:parked-api');
    assert.equal(created.url, rx.url, 'the receiver URL without its query');
    assert.ok(created.attempts >= 1);
    assert.match(created.reason, /retry horizon is spent/);
    assert.ok(!Number.isNaN(Date.parse(created.dead_at)) && !Number.isNaN(Date.parse(created.created_at)));
    assert.doesNotMatch(JSON.stringify(listed.body), /receiver-secret|"body"/);

    const one = await rawRequest(t, 'GET', '/video/webhooks/dead?limit=1', { token: admin });
    assert.equal(one.body.deliveries.length, 1);
    assert.equal(one.body.total, total);
    for (const bad of ['0', '1001', 'x'])
      assert.equal((await rawRequest(t, 'GET', `/video/webhooks/dead?limit=${bad}`, { token: admin })).body.code, 4, `limit=${bad}`);
    for (const body of [{}, { id: created.id, all: true }, { all: false }])
      assert.equal((await rawRequest(t, 'POST', '/video/webhooks/dead/replay', { token: admin, body })).status, 400, JSON.stringify(body));
    const unknown = await rawRequest(t, 'POST', '/video/webhooks/dead/replay', { token: admin, body: { id: 'no-such-delivery' } });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, 16);

    rx.status = 200;
    const byId = await rawRequest(t, 'POST', '/video/webhooks/dead/replay', { token: admin, body: { id: created.id } });
    assert.equal(byId.status, 201, JSON.stringify(byId.body));
    assert.equal(byId.body.replayed, 1);
    await until(() => rx.hooks.find((h) => h.id === created.id), 'the replayed delivery', 30_000);
    await until(async () => (await t!.server.webhooks.deadCount()) === total - 1, 'one dead delivery fewer', 10_000);
    const all = await rawRequest(t, 'POST', '/video/webhooks/dead/replay', {
      token: t.client.generateUserToken({ user_id: 'host' }),
      body: { all: true },
    });
    assert.equal(all.body.replayed, total - 1);
    assert.equal(await t.server.webhooks.deadCount(), 0, 'no dead delivery left');
    const ids = listed.body.deliveries.map((d: { id: string }) => d.id).sort();
    await until(() => ids.every((id: string) => rx.hooks.some((h) => h.id === id)), 'every listed delivery to arrive', 30_000);
    assert.deepEqual([...new Set(rx.hooks.map((h) => h.id))].sort(), ids, 'the listed deliveries, each once');
  });
});
