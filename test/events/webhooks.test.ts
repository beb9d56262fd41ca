import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { StreamClient } from '@stream-io/node-sdk';
import { InProcessEventBus } from '../../src/events/bus.js';
import type { WebhookTarget, WireEvent } from '../../src/events/contract.js';
import { MemoryWebhookOutbox } from '../../src/events/memory-outbox.js';
import { WebhookDispatcher, type WebhookDispatcherOptions } from '../../src/events/webhooks.js';
import { sleep, waitFor } from '../support/wait.js';
import { RecordingLogger } from './helpers.js';

const API_KEY = 'callcast-test-key';
const API_SECRET = 'webhook-secret-never-logged-4f1c';
const sdk = new StreamClient(API_KEY, API_SECRET);
const logs = new RecordingLogger();

/** Short timeouts and pauses for the tests that need real ones; the horizon stays out of the way. */
const FAST = { requestTimeoutMs: 250, horizonMs: 60_000, initialBackoffMs: 20, maxBackoffMs: 40, jitter: 0 };

type Behaviour = number | 'hang';

interface ReceivedRequest {
  method: string | undefined;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A loopback webhook receiver that answers by script (then with `fallback`). */
class Receiver {
  readonly requests: ReceivedRequest[] = [];
  script: Behaviour[] = [];
  fallback: Behaviour = 200;
  private readonly held = new Set<ServerResponse>();
  private readonly server: Server;
  url = '';

  constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.requests.push({ method: req.method, headers: req.headers, body: Buffer.concat(chunks) });
        const behaviour = this.script.length > 0 ? this.script.shift()! : this.fallback;
        if (behaviour === 'hang') {
          this.held.add(res);
          res.on('close', () => this.held.delete(res));
          return;
        }
        res.writeHead(behaviour, { 'content-type': 'text/plain' }).end('ok');
      });
    });
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks?token=abc`;
    return this;
  }

  async close(): Promise<void> {
    for (const res of this.held) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const started: (WebhookDispatcher | Receiver)[] = [];
after(async () => {
  for (const x of started.reverse()) {
    if (x instanceof WebhookDispatcher) await x.stop();
    else await x.close();
  }
  assert.doesNotMatch(logs.text(), new RegExp(API_SECRET), 'the API secret never appears in logs');
});

async function receiver(): Promise<Receiver> {
  const r = await new Receiver().listen();
  started.push(r);
  return r;
}

function dispatcher(
  target: WebhookTarget | null,
  opts: Partial<WebhookDispatcherOptions> & { outbox?: MemoryWebhookOutbox; bus?: InProcessEventBus } = {},
) {
  const bus = opts.bus ?? new InProcessEventBus({ log: logs });
  const outbox = opts.outbox ?? new MemoryWebhookOutbox();
  const d = new WebhookDispatcher({
    bus,
    outbox,
    apiKey: API_KEY,
    apiSecret: API_SECRET,
    target: async () => target,
    log: logs,
    pollIntervalMs: 50,
    ...opts,
  });
  started.push(d);
  return { bus, outbox, d };
}

let seq = 0;
function event(type = 'call.rtmp_broadcast_started', extra: Record<string, unknown> = {}): WireEvent {
  seq++;
  return { type, created_at: new Date().toISOString(), call_cid: `default:call-${seq}`, name: `dest-${seq}`, ...extra };
}

function header(r: ReceivedRequest, name: string): string {
  const v = r.headers[name.toLowerCase()];
  assert.equal(typeof v, 'string', `header ${name}`);
  return v as string;
}

test('each event is POSTed once with the exact body, signed so the official SDK verifies it', async () => {
  const rx = await receiver();
  const { bus, outbox, d } = dispatcher({ url: rx.url, events: [] });
  d.start();
  const sent = [event('call.rtmp_broadcast_started'), event('call.updated', { call: { id: 'x', custom: { emoji: 'é✓' } } })];
  for (const e of sent) bus.publish(e);
  await waitFor(() => rx.requests.length === 2 && outbox.size === 0, 'two deliveries');
  const ids = new Set<string>();
  for (const [i, r] of rx.requests.entries()) {
    assert.equal(r.method, 'POST');
    assert.equal(r.body.toString('utf8'), JSON.stringify(sent[i]));
    assert.match(header(r, 'content-type'), /^application\/json/);
    assert.equal(header(r, 'x-api-key'), API_KEY);
    assert.equal(header(r, 'x-webhook-attempt'), '1');
    ids.add(header(r, 'x-webhook-id'));
    const signature = header(r, 'x-signature');
    assert.equal(sdk.verifyWebhook(r.body, signature), true);
    const parsed = sdk.verifyAndParseWebhook(r.body, signature);
    assert.deepEqual(parsed, JSON.parse(JSON.stringify(sent[i])));
    assert.throws(() => new StreamClient(API_KEY, 'wrong-secret').verifyAndParseWebhook(r.body, signature));
  }
  assert.equal(ids.size, 2, 'each delivery has its own X-WEBHOOK-ID');
});

test("only the target's event types are sent; no target sends nothing", async () => {
  const rx = await receiver();
  const { bus, outbox, d } = dispatcher({ url: rx.url, events: ['call.ended'] });
  d.start();
  bus.publish(event('call.updated'));
  bus.publish(event('call.ended'));
  bus.publish(event('call.rtmp_broadcast_stopped'));
  await waitFor(() => rx.requests.length === 1 && outbox.size === 0, 'one delivery');
  await sleep(200);
  assert.equal(rx.requests.length, 1);
  assert.equal(JSON.parse(rx.requests[0]!.body.toString()).type, 'call.ended');

  const none = dispatcher(null);
  none.d.start();
  none.bus.publish(event());
  await sleep(200);
  assert.equal(none.outbox.size, 0);
});

for (const status of [500, 503, 429, 408]) {
  test(`status ${status} is retried with the same X-WEBHOOK-ID until the horizon, then parked as dead`, async () => {
    const rx = await receiver();
    rx.fallback = status;
    // The clock runs 10 s ahead for each answer: with 20 ms pauses, the retry after attempt 10
    // (at 100 s and some ms) is the first past the 100 s horizon, however busy the machine.
    let offset = 0;
    const timedFetch: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      offset += 10_000;
      return res;
    };
    const { bus, outbox, d } = dispatcher(
      { url: rx.url, events: [] },
      { policy: { ...FAST, horizonMs: 100_000 }, fetch: timedFetch, now: () => Date.now() + offset },
    );
    d.start();
    bus.publish(event());
    await waitFor(async () => outbox.size === 0 && (await outbox.countDead()) === 1, 'retried, then parked');
    const n = rx.requests.length;
    assert.equal(n, 10, 'retried beyond three attempts, until the horizon');
    await sleep(300);
    assert.equal(rx.requests.length, n, 'no attempt after parking');
    assert.deepEqual(
      rx.requests.map((r) => header(r, 'x-webhook-attempt')),
      rx.requests.map((_, i) => String(i + 1)),
    );
    assert.equal(new Set(rx.requests.map((r) => header(r, 'x-webhook-id'))).size, 1);
    for (const r of rx.requests) assert.equal(sdk.verifyWebhook(r.body, header(r, 'x-signature')), true);
    const [dead] = await outbox.listDead(10);
    assert.equal(dead!.attempts, n);
    assert.match(dead!.reason, new RegExp(`status ${status} after ${n} attempt\\(s\\); the 100 s retry horizon is spent`));
    assert.equal(d.parkedTotal, 1);
    assert.match(await d.metricsText(), /^callcast_webhook_dead 1$/m);
  });
}

test('a retried delivery that then succeeds is delivered once and removed', async () => {
  const rx = await receiver();
  rx.script = [503];
  const { bus, outbox, d } = dispatcher({ url: rx.url, events: [] }, { policy: FAST });
  d.start();
  bus.publish(event());
  await waitFor(() => rx.requests.length === 2 && outbox.size === 0, 'delivered on attempt 2');
  await sleep(300);
  assert.equal(rx.requests.length, 2);
  assert.deepEqual(
    rx.requests.map((r) => header(r, 'x-webhook-attempt')),
    ['1', '2'],
  );
});

test('400 (or another 4xx) is not retried: parked as dead at once, and a replay sends it again', async () => {
  const rx = await receiver();
  rx.script = [400];
  const { bus, outbox, d } = dispatcher({ url: rx.url, events: [] }, { policy: FAST });
  d.start();
  bus.publish(event());
  await waitFor(async () => rx.requests.length === 1 && (await outbox.countDead()) === 1, 'one attempt, parked');
  await sleep(300);
  assert.equal(rx.requests.length, 1);
  assert.match(logs.text(), /webhook delivery parked as dead/);
  const [dead] = await outbox.listDead(10);
  assert.equal(dead!.reason, 'status 400 is not retried');
  assert.equal(await outbox.replayDead({ id: dead!.id }, Date.now()), 1);
  await waitFor(() => rx.requests.length === 2 && outbox.size === 0, 'replayed and delivered');
  assert.equal(header(rx.requests[1]!, 'x-webhook-id'), dead!.id);
  assert.equal(header(rx.requests[1]!, 'x-webhook-attempt'), '1', 'a replay starts its attempts afresh');
  assert.equal(await outbox.countDead(), 0);
});

test('a refused connection is retried until the receiver is back', async () => {
  const rx = await receiver();
  const closedUrl = rx.url;
  const port = Number(new URL(closedUrl).port);
  await rx.close();
  started.splice(started.indexOf(rx), 1);
  const calls: string[] = [];
  const countingFetch: typeof fetch = (input, init) => {
    calls.push(new Headers(init?.headers).get('x-webhook-attempt') ?? '?');
    return fetch(input, init);
  };
  const { bus, outbox, d } = dispatcher({ url: closedUrl, events: [] }, { policy: FAST, fetch: countingFetch });
  d.start();
  bus.publish(event());
  await waitFor(() => calls.length >= 5, 'five refused attempts');
  const back = new Receiver();
  started.push(back);
  await new Promise<void>((resolve) => (back as unknown as { server: Server }).server.listen(port, '127.0.0.1', resolve));
  await waitFor(() => back.requests.length === 1 && outbox.size === 0, 'delivered once the receiver is back');
  console.log(`refused connection: delivered on attempt ${header(back.requests[0]!, 'x-webhook-attempt')}`);
  assert.equal(await outbox.countDead(), 0);
});

test('a request that times out is retried', async () => {
  const rx = await receiver();
  rx.script = ['hang', 'hang'];
  const { bus, outbox, d } = dispatcher({ url: rx.url, events: [] }, { policy: FAST });
  d.start();
  bus.publish(event());
  await waitFor(() => rx.requests.length === 3 && outbox.size === 0, 'two timed-out attempts, delivered on the third', 30_000);
  assert.deepEqual(
    rx.requests.map((r) => header(r, 'x-webhook-attempt')),
    ['1', '2', '3'],
  );
});

test('the horizon counts from creation (default policy, receiver that takes 6 h per answer)', async () => {
  // The clock runs 6 h ahead for each request: attempts at 0, 6, 12 and 18 h; the retry after
  // the one at 24 h would be past the 24 h horizon, so the delivery is parked.
  const rx = await receiver();
  rx.fallback = 500;
  let offset = 0;
  const now = () => Date.now() + offset;
  const slowFetch: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    offset += 6 * 3_600_000;
    return res;
  };
  const { bus, outbox, d } = dispatcher({ url: rx.url, events: [] }, { fetch: slowFetch, now, random: () => 0 });
  d.start();
  bus.publish(event());
  await waitFor(async () => (await outbox.countDead()) === 1, 'parked after the horizon', 30_000);
  assert.equal(rx.requests.length, 4, 'attempts at 0, 6, 12 and 18 h; none after 24 h');
  assert.match(logs.text(), /24 h retry horizon is spent/);
});

test("one call's deliveries go out in publish order, one at a time; other calls do not wait for it", async () => {
  const rx = await receiver();
  // The first request (call A's first event) fails twice; everything else is accepted.
  const failing = new Set<string>();
  let failuresLeft = 2;
  const seen: string[] = [];
  const orderedFetch: typeof fetch = async (input, init) => {
    const body = JSON.parse(String(init?.body)) as { call_cid: string; name: string };
    if (body.name === 'a1' && failuresLeft > 0) {
      failuresLeft--;
      failing.add(body.name);
      return new Response('down', { status: 503 });
    }
    seen.push(body.name);
    return fetch(input, init);
  };
  const { bus, outbox, d } = dispatcher(
    { url: rx.url, events: [] },
    { policy: { ...FAST, initialBackoffMs: 150, maxBackoffMs: 150 }, fetch: orderedFetch },
  );
  d.start();
  for (const name of ['a1', 'b1', 'a2', 'b2', 'a3']) {
    bus.publish({ type: 'call.updated', created_at: new Date().toISOString(), call_cid: `default:${name[0]}`, name });
  }
  await waitFor(() => outbox.size === 0 && seen.length === 5, 'all delivered');
  assert.deepEqual(
    seen.filter((n) => n.startsWith('a')),
    ['a1', 'a2', 'a3'],
    'call A in publish order despite a1 failing twice',
  );
  assert.deepEqual(
    seen.filter((n) => n.startsWith('b')),
    ['b1', 'b2'],
  );
  assert.ok(seen.indexOf('b2') < seen.indexOf('a1'), `call B went on while call A waited: ${seen.join(',')}`);
});

test('a delivery left in the outbox after a failed attempt is delivered by the next dispatcher', async () => {
  const rx = await receiver();
  rx.script = [500];
  const outbox = new MemoryWebhookOutbox();
  const first = dispatcher({ url: rx.url, events: [] }, { outbox, policy: { initialBackoffMs: 3_000, jitter: 0 } });
  first.d.start();
  first.bus.publish(event('call.rtmp_broadcast_failed'));
  await waitFor(() => rx.requests.length === 1 && outbox.all()[0]?.attempts === 1, 'first attempt recorded');
  await first.d.stop();
  assert.equal(outbox.size, 1);

  const second = dispatcher({ url: rx.url, events: [] }, { outbox });
  second.d.start();
  await waitFor(() => rx.requests.length === 2 && outbox.size === 0, 'delivered after the restart');
  const [a, b] = rx.requests;
  assert.equal(header(b!, 'x-webhook-id'), header(a!, 'x-webhook-id'));
  assert.equal(header(b!, 'x-webhook-attempt'), '2');
  assert.equal(b!.body.toString(), a!.body.toString());
  assert.equal(sdk.verifyAndParseWebhook(b!.body, header(b!, 'x-signature')).type, 'call.rtmp_broadcast_failed');
});

test('an old delivery found at start is sent', async () => {
  const rx = await receiver();
  const outbox = new MemoryWebhookOutbox();
  const body = JSON.stringify(event('call.rtmp_broadcast_stopped'));
  const hourAgo = Date.now() - 3_600_000;
  await outbox.add({
    id: 'left-by-crash',
    url: rx.url,
    body,
    attempts: 1,
    nextAttemptAt: hourAgo + 500,
    createdAt: hourAgo,
    orderKey: 'default:x',
    seq: hourAgo * 1000,
    retryFrom: hourAgo,
  });
  const { d } = dispatcher({ url: rx.url, events: [] }, { outbox });
  d.start();
  await waitFor(() => rx.requests.length === 1 && outbox.size === 0, 'old delivery sent');
  const r = rx.requests[0]!;
  assert.equal(header(r, 'x-webhook-id'), 'left-by-crash');
  assert.equal(header(r, 'x-webhook-attempt'), '2');
  assert.equal(r.body.toString(), body);
  assert.equal(sdk.verifyWebhook(r.body, header(r, 'x-signature')), true);
});

test('stopping during a request keeps the delivery for the next start', async () => {
  const rx = await receiver();
  rx.script = ['hang'];
  const outbox = new MemoryWebhookOutbox();
  const first = dispatcher({ url: rx.url, events: [] }, { outbox });
  first.d.start();
  first.bus.publish(event());
  await waitFor(() => rx.requests.length === 1, 'request in flight');
  await first.d.stop();
  assert.equal(outbox.size, 1);
  assert.equal(outbox.all()[0]!.attempts, 0);

  const second = dispatcher({ url: rx.url, events: [] }, { outbox });
  second.d.start();
  await waitFor(() => rx.requests.length === 2 && outbox.size === 0, 'sent again after the restart');
  assert.equal(header(rx.requests[1]!, 'x-webhook-id'), header(rx.requests[0]!, 'x-webhook-id'));
});

test('events published right before stop still reach the outbox', async () => {
  const outbox = new MemoryWebhookOutbox();
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => (release = r));
  const { bus, d } = dispatcher(null, {
    outbox,
    // A slow target lookup: the event is still in intake when stop() is called.
    target: async () => {
      await gate;
      return { url: 'http://127.0.0.1:9/never', events: [] };
    },
    fetch: async () => {
      throw new Error('not reached');
    },
  });
  d.start();
  bus.publish(event());
  const stopping = d.stop();
  release();
  await stopping;
  assert.equal(outbox.size, 1);
});
