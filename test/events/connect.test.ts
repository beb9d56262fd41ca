import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { type FastifyInstance } from 'fastify';
import WebSocket from 'ws';
import { InProcessEventBus } from '../../src/events/bus.js';
import { CONNECT_CLOSE_CODES, connectPlugin, type ConnectOptions } from '../../src/http/connect.js';
import type { CallAudience, ConnectAuthority, ConnectedUser, WireEvent } from '../../src/events/contract.js';
import { sleep, waitFor } from '../support/wait.js';
import { RecordingLogger } from './helpers.js';

const API_KEY = 'connect-test-key';

/** A small authority: fixed tokens, and the calls each user may read. */
class TestAuthority implements ConnectAuthority {
  readonly canReadCalls: string[] = [];
  readonly users = new Map<string, ConnectedUser>([
    ['token-alice', { id: 'alice', role: 'user' }],
    ['token-bob', { id: 'bob', role: 'user' }],
    ['token-carol-call', { id: 'carol', role: 'user', callCids: ['default:c1'] }],
  ]);
  readonly readable = new Map<string, Set<string>>([
    ['alice', new Set(['default:a1', 'default:shared'])],
    ['bob', new Set(['default:b1', 'default:shared'])],
  ]);

  async authenticate(token: string): Promise<ConnectedUser> {
    const user = this.users.get(token);
    if (!user) throw { code: 43, message: 'WSConnect failed with error: "JWT signature is invalid"', StatusCode: 401 };
    return user;
  }

  async upsertConnectedUser(user: ConnectedUser, details: Record<string, unknown>): Promise<Record<string, unknown>> {
    return { id: user.id, role: user.role, name: details.name ?? user.id, custom: {}, teams: [] };
  }

  async audienceIn(user: ConnectedUser, callCid: string): Promise<CallAudience | null> {
    this.canReadCalls.push(`${user.id}:${callCid}`);
    if (user.callCids) return user.callCids.includes(callCid) ? 'viewer' : null;
    return this.readable.get(user.id)?.has(callCid) ? 'viewer' : null;
  }

  shapeEvent(event: WireEvent): WireEvent {
    return event;
  }
}

interface Server {
  app: FastifyInstance;
  bus: InProcessEventBus;
  authority: TestAuthority;
  url: (path?: string, key?: string) => string;
}

const servers: FastifyInstance[] = [];
const clients: WebSocket[] = [];
const logs = new RecordingLogger();

after(async () => {
  for (const c of clients) c.terminate();
  for (const app of servers) await app.close();
});

async function server(options: Partial<ConnectOptions> = {}): Promise<Server> {
  const app = Fastify({ logger: false });
  const bus = new InProcessEventBus({ log: logs });
  const authority = new TestAuthority();
  await connectPlugin(app, { bus, authority, apiKey: API_KEY, log: logs, options });
  await app.listen({ host: '127.0.0.1', port: 0 });
  servers.push(app);
  const port = (app.server.address() as AddressInfo).port;
  return {
    app,
    bus,
    authority,
    url: (path = '/video/connect', key = API_KEY) =>
      `ws://127.0.0.1:${port}${path}?api_key=${encodeURIComponent(key)}&stream-auth-type=jwt&X-Stream-Client=test`,
  };
}

/** A client that records every message and how it closed. */
class Client {
  readonly ws: WebSocket;
  readonly messages: Record<string, unknown>[] = [];
  closed: { code: number; reason: string } | null = null;
  readonly opened: Promise<void>;

  constructor(url: string) {
    this.ws = new WebSocket(url);
    clients.push(this.ws);
    this.ws.on('message', (data) => this.messages.push(JSON.parse(data.toString())));
    this.ws.on('close', (code, reason) => (this.closed = { code, reason: reason.toString() }));
    this.ws.on('error', () => undefined);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
  }

  async send(message: unknown): Promise<void> {
    await this.opened;
    this.ws.send(JSON.stringify(message));
  }

  ofType(type: string) {
    return this.messages.filter((m) => m.type === type);
  }

  next(type: string, index = 0) {
    return waitFor(() => this.ofType(type)[index], `message ${type} #${index}`);
  }

  waitClosed() {
    return waitFor(() => this.closed, 'close');
  }
}

async function connect(s: Server, token: string, userId: string, path?: string): Promise<Client> {
  const c = new Client(s.url(path));
  await c.send({ token, user_details: { id: userId, name: `User ${userId}` }, products: ['video'] });
  await c.next('connection.ok');
  return c;
}

let seq = 0;
function event(type: string, callCid?: string, extra: Record<string, unknown> = {}): WireEvent {
  return { type, created_at: new Date().toISOString(), ...(callCid ? { call_cid: callCid } : {}), seq: ++seq, ...extra };
}

let s: Server;
before(async () => {
  s = await server({ healthCheckIntervalMs: 100 });
});

test('a client authenticates and gets connection.ok with its user', async () => {
  for (const path of ['/video/connect', '/api/v2/connect']) {
    const c = await connect(s, 'token-alice', 'alice', path);
    const ok = c.ofType('connection.ok')[0]!;
    assert.equal(typeof ok.connection_id, 'string');
    assert.ok((ok.connection_id as string).length > 0);
    assert.ok(!Number.isNaN(Date.parse(ok.created_at as string)));
    assert.deepEqual(ok.me, { id: 'alice', role: 'user', name: 'User alice', custom: {}, teams: [] });
    assert.equal(c.messages[0]!.type, 'connection.ok', 'connection.ok is the first message');
    c.ws.close();
  }
});

test('a client receives only the events of calls it may read, in order', async () => {
  const alice = await connect(s, 'token-alice', 'alice');
  const bob = await connect(s, 'token-bob', 'bob');
  const carol = await connect(s, 'token-carol-call', 'carol');
  const published = [
    event('call.rtmp_broadcast_started', 'default:a1', { name: 'yt' }),
    event('call.updated', 'default:b1'),
    event('call.updated', 'default:shared'),
    event('call.rtmp_broadcast_stopped', 'default:a1', { name: 'yt' }),
    event('call.ended', 'default:nobody'),
    event('call.created', 'default:c1'),
    event('user.updated', undefined, { user: { id: 'bob', name: 'Bob' } }),
    event('user.updated', undefined, { user: { id: 'dave' } }),
    event('custom', undefined),
    event('call.rtmp_broadcast_failed', 'default:a1', { name: 'yt' }),
  ];
  for (const e of published) s.bus.publish(e);
  const last = event('call.updated', 'default:shared');
  s.bus.publish(last);
  for (const c of [alice, bob]) await waitFor(() => c.messages.some((m) => m.seq === last.seq), 'last event');
  await waitFor(() => carol.messages.some((m) => m.type === 'call.created'), 'carol event');
  await sleep(100);
  const seqs = (c: Client) => c.messages.filter((m) => typeof m.seq === 'number').map((m) => m.seq);
  assert.deepEqual(
    seqs(alice),
    [published[0]!, published[2]!, published[3]!, published[9]!, last].map((e) => e.seq),
  );
  assert.deepEqual(
    seqs(bob),
    [published[1]!, published[2]!, published[6]!, last].map((e) => e.seq),
  );
  assert.deepEqual(seqs(carol), [published[5]!.seq]);
  // The event JSON is sent as published.
  assert.deepEqual(
    alice.messages.find((m) => m.seq === published[0]!.seq),
    published[0],
  );
  // Access answers are cached per connection: alice asked about default:a1 once.
  assert.equal(s.authority.canReadCalls.filter((x) => x === 'alice:default:a1').length, 1);
  for (const c of [alice, bob, carol]) c.ws.close();
});

test('health checks go both ways; a client health check (as an array) is answered', async () => {
  const c = await connect(s, 'token-alice', 'alice');
  const ok = c.ofType('connection.ok')[0]!;
  const first = await c.next('health.check', 0);
  assert.equal(first.connection_id, ok.connection_id);
  assert.deepEqual(first.custom, {});
  await c.next('health.check', 1);
  const before = c.ofType('health.check').length;
  await c.send([{ type: 'health.check', client_id: `alice--${ok.connection_id}` }]);
  await c.next('health.check', before);
  assert.equal(c.closed, null);
  c.ws.close();
});

test('a wrong api_key gets connection.error (code 2) and is closed', async () => {
  const c = new Client(s.url('/video/connect', 'not-the-key'));
  const closed = await c.waitClosed();
  assert.equal(closed.code, CONNECT_CLOSE_CODES.authFailed);
  const err = c.ofType('connection.error')[0]!;
  const e = err.error as Record<string, unknown>;
  assert.equal(e.code, 2);
  assert.equal(e.StatusCode, 401);
  assert.deepEqual(e.details, []);
  assert.equal(typeof err.connection_id, 'string');
  assert.equal(c.ofType('connection.ok').length, 0);
});

test('a bad token gets connection.error with the authority error and is closed', async () => {
  const c = new Client(s.url());
  await c.send({ token: 'forged', user_details: { id: 'alice' } });
  const closed = await c.waitClosed();
  assert.equal(closed.code, CONNECT_CLOSE_CODES.authFailed);
  const e = c.ofType('connection.error')[0]!.error as Record<string, unknown>;
  assert.equal(e.code, 43);
  assert.equal(e.StatusCode, 401);
  assert.match(e.message as string, /JWT signature is invalid/);
});

test("user_details.id other than the token's user is refused", async () => {
  const c = new Client(s.url());
  await c.send({ token: 'token-alice', user_details: { id: 'bob' } });
  assert.equal((await c.waitClosed()).code, CONNECT_CLOSE_CODES.authFailed);
  assert.equal((c.ofType('connection.error')[0]!.error as Record<string, unknown>).code, 5);
});

test('a malformed auth message is refused with an input error', async () => {
  const c = new Client(s.url());
  await c.opened;
  c.ws.send('this is not json');
  assert.equal((await c.waitClosed()).code, CONNECT_CLOSE_CODES.invalidAuthMessage);
  const e = c.ofType('connection.error')[0]!.error as Record<string, unknown>;
  assert.equal(e.code, 4);
  assert.equal(e.StatusCode, 400);
});

test('no auth message within the timeout: connection.error and close', async () => {
  const quick = await server({ authTimeoutMs: 150 });
  const c = new Client(quick.url());
  await c.opened;
  assert.equal((await c.waitClosed()).code, CONNECT_CLOSE_CODES.authTimeout);
  assert.equal(c.ofType('connection.error').length, 1);
});

test('a silent client is closed after the idle timeout and unsubscribed', async () => {
  const quiet = await server({ idleTimeoutMs: 300, healthCheckIntervalMs: 60_000 });
  const c = await connect(quiet, 'token-alice', 'alice');
  assert.equal(quiet.bus.subscriberCount, 1);
  assert.equal((await c.waitClosed()).code, CONNECT_CLOSE_CODES.idle);
  await waitFor(() => quiet.bus.subscriberCount === 0, 'unsubscribed');
});

test('a client that keeps talking is not closed as idle', async () => {
  const quiet = await server({ idleTimeoutMs: 400, healthCheckIntervalMs: 60_000 });
  const c = await connect(quiet, 'token-alice', 'alice');
  for (let i = 0; i < 8; i++) {
    await sleep(100);
    await c.send([{ type: 'health.check', client_id: 'alice--x' }]);
  }
  await c.next('health.check', 7);
  assert.equal(c.closed, null);
  c.ws.close();
});

test('closing the connection unsubscribes it from the bus', async () => {
  const own = await server();
  const c = await connect(own, 'token-alice', 'alice');
  assert.equal(own.bus.subscriberCount, 1);
  c.ws.close();
  await c.waitClosed();
  await waitFor(() => own.bus.subscriberCount === 0, 'unsubscribed');
});

test('a client that does not read is closed once its queue bound is exceeded', async () => {
  const bounded = await server({ maxBufferedBytes: 64 * 1024, healthCheckIntervalMs: 60_000, closeGraceMs: 200 });
  const slow = await connect(bounded, 'token-alice', 'alice');
  const fast = await connect(bounded, 'token-alice', 'alice');
  slow.ws.pause(); // stops reading from the socket
  const padding = 'x'.repeat(64 * 1024);
  // Far more than the kernel's socket buffers can hold, so data piles up in the server.
  let published = 0;
  while (bounded.bus.subscriberCount === 2 && published < 2_000) {
    bounded.bus.publish(event('call.updated', 'default:a1', { padding }));
    published++;
    if (published % 20 === 0) await sleep(5);
  }
  await waitFor(() => bounded.bus.subscriberCount === 1, 'slow client unsubscribed');
  assert.match(logs.text(), /does not keep up/);
  slow.ws.resume();
  const closed = await slow.waitClosed();
  assert.notEqual(closed.code, 1000);
  // The other connection is unaffected and got every event.
  await waitFor(() => fast.messages.filter((m) => m.type === 'call.updated').length === published, 'fast client got all');
  assert.equal(fast.closed, null);
  fast.ws.close();
});

test('the access check of an event is isolated from a failing authority', async () => {
  const own = await server();
  own.authority.audienceIn = async () => {
    throw new Error('database down');
  };
  const c = await connect(own, 'token-alice', 'alice');
  own.bus.publish(event('call.updated', 'default:a1'));
  own.bus.publish(event('user.updated', undefined, { user_id: 'alice' }));
  await waitFor(() => c.ofType('user.updated').length === 1, 'user event');
  assert.equal(c.ofType('call.updated').length, 0);
  assert.equal(c.closed, null);
  c.ws.close();
});

test('works on an app that registered @fastify/websocket itself; plain HTTP GET is refused', async () => {
  const app = Fastify({ logger: false });
  servers.push(app);
  await app.register(fastifyWebsocket);
  const bus = new InProcessEventBus({ log: logs });
  await connectPlugin(app, { bus, authority: new TestAuthority(), apiKey: API_KEY, log: logs });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  const c = new Client(`ws://127.0.0.1:${port}/api/v2/connect?api_key=${API_KEY}`);
  await c.send({ token: 'token-bob', user_details: { id: 'bob' } });
  await c.next('connection.ok');
  bus.publish(event('call.updated', 'default:b1'));
  await c.next('call.updated');
  c.ws.close();
  const plain = await app.inject({ method: 'GET', url: '/video/connect' });
  assert.ok(plain.statusCode >= 400 && plain.statusCode < 500);
});

test('an oversized message closes the connection', async () => {
  const small = await server({ maxPayloadBytes: 1024 });
  const c = new Client(small.url());
  await c.send({ token: 'token-alice', user_details: { id: 'alice', name: 'x'.repeat(4096) } });
  const closed = await c.waitClosed();
  assert.equal(closed.code, 1009);
  assert.equal(small.bus.subscriberCount, 0);
});

test('the message size bound holds when @fastify/websocket was registered with a larger limit', async () => {
  const app = Fastify({ logger: false });
  servers.push(app);
  await app.register(fastifyWebsocket);
  const bus = new InProcessEventBus({ log: logs });
  await connectPlugin(app, { bus, authority: new TestAuthority(), apiKey: API_KEY, log: logs, options: { maxPayloadBytes: 1024 } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  const c = new Client(`ws://127.0.0.1:${port}/video/connect?api_key=${API_KEY}`);
  await c.send({ token: 'token-alice', user_details: { id: 'alice', name: 'x'.repeat(4096) } });
  assert.equal((await c.waitClosed()).code, 1009);
  assert.equal((c.ofType('connection.error')[0]!.error as Record<string, unknown>).code, 22);
});
