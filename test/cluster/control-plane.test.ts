/**
 * Cluster mode, control plane: three nodes (in this process, each on its own port) over one
 * PostgreSQL schema and one Redis started here, each node's broadcasts produced by a recording
 * engine (no encoders). Through the official node SDK: calls are spread over the nodes, the API of
 * any node serves broadcasts started through another (forwarded to the owner), a WebSocket client
 * on one node receives the events of a call on another, every webhook is delivered once whichever
 * node produced it, a Redis restart changes nothing that runs, and a node stopped as SIGTERM does
 * hands its calls over without a failed event.
 * Needs PostgreSQL: skipped with a message elsewhere (the SQLite lane).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { ApiError } from '../../src/wire/errors.js';
import { clusterSkipReason, startTestCluster, type TestCluster, type TestNode } from '../support/cluster.js';
import { rawRequest } from '../support/server.js';
import { sleep, waitFor } from '../support/wait.js';

const skip = clusterSkipReason();

/** An event as a WebSocket client or webhook receiver gets it (the fields these tests read). */
interface WireMessage {
  type: string;
  call_cid?: string;
  name?: string;
  resumed?: { node?: string; reason?: string };
  call?: unknown;
}

interface Hook {
  id: string;
  body: WireMessage;
}

async function webhookReceiver(): Promise<{ server: Server; url: string; hooks: Hook[] }> {
  const hooks: Hook[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      hooks.push({ id: String(req.headers['x-webhook-id']), body: JSON.parse(body) });
      res.writeHead(200).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return { server, url: `http://127.0.0.1:${port}/hooks`, hooks };
}

async function connectWs(
  node: TestNode,
  apiKey: string,
  token: string,
  userId: string,
): Promise<{ ws: WebSocket; messages: WireMessage[] }> {
  const ws = new WebSocket(`${node.url.replace('http', 'ws')}/video/connect?api_key=${apiKey}&stream-auth-type=jwt`);
  const messages: WireMessage[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(String(data))));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ token, user_details: { id: userId } }));
  await waitFor(() => messages.find((m) => m.type === 'connection.ok'), 'connection.ok', 30_000);
  return { ws, messages };
}

/** The live nodes as `node` reads them from Redis; none while Redis is away. */
async function liveNodes(node: TestNode) {
  try {
    return await node.server.cluster!.node.nodes();
  } catch {
    return [];
  }
}

/** The node that owns the call now, as the nodes themselves say. */
function ownerOf(cluster: TestCluster, cid: string): TestNode | undefined {
  return cluster.nodes.find((n) => n.server.cluster?.node.ownedCalls().includes(cid));
}

describe('cluster mode: control plane over three nodes', { skip }, () => {
  let cluster: TestCluster;
  let receiver: Awaited<ReturnType<typeof webhookReceiver>>;
  const sockets: WebSocket[] = [];

  before(async () => {
    receiver = await webhookReceiver();
    cluster = await startTestCluster({ nodes: ['node-a', 'node-b', 'node-c'], config: { webhookUrl: receiver.url } });
    await waitFor(async () => (await cluster.nodes[0]!.server.cluster!.node.nodes()).length === 3, 'three live nodes', 30_000);
  });
  after(async () => {
    for (const ws of sockets) ws.terminate();
    await cluster?.close();
    receiver?.server.close();
  });

  const start = (node: TestNode, id: string, name: string) =>
    node.client.video
      .call('default', id)
      .startRTMPBroadcasts({ broadcasts: [{ name, stream_url: 'rtmp://127.0.0.1:1935/live', stream_key: `k-${id}` }] });

  it('spreads calls over the nodes, and any node serves a broadcast started through another', async () => {
    const [a, b, c] = cluster.nodes as [TestNode, TestNode, TestNode];
    for (const id of ['s1', 's2', 's3']) {
      await a.client.video.call('default', id).getOrCreate({ data: { created_by_id: 'host' } });
      // Every start goes to node A, which places the call and forwards the start to its owner.
      await start(a, id, 'main');
    }
    const owners = ['s1', 's2', 's3'].map((id) => ownerOf(cluster, `default:${id}`)?.id);
    assert.deepEqual([...owners].sort(), ['node-a', 'node-b', 'node-c'], `one call per node: ${owners.join(', ')}`);
    for (const id of ['s1', 's2', 's3']) {
      const owner = ownerOf(cluster, `default:${id}`)!;
      assert.ok(owner.engine!.active.has(`default:${id}\u0000main`), `the broadcast of ${id} runs on its owner ${owner.id}`);
      for (const other of cluster.nodes.filter((n) => n !== owner)) {
        assert.equal(other.engine!.started.filter((s) => s.callCid === `default:${id}`).length, 0, `${id} not started on ${other.id}`);
      }
    }
    // The call as any node shows it lists the broadcast; the details come with the owner's stats.
    const owner1 = ownerOf(cluster, 'default:s1')!;
    const other = cluster.nodes.find((n) => n !== owner1)!;
    const shown = await other.client.video.call('default', 's1').get();
    assert.deepEqual(
      shown.call.egress.rtmps.map((r) => r.name),
      ['main'],
    );
    const details = await fetch(`${other.url}/video/call/default/s1/rtmp_broadcasts/main?api_key=${cluster.apiKey}`, {
      headers: { authorization: serverToken(other), 'stream-auth-type': 'jwt' },
    });
    assert.equal(details.status, 200);
    assert.equal(details.headers.get('x-callcast-node'), owner1.id);
    assert.equal(((await details.json()) as { broadcast: { stats: { state: string } } }).broadcast.stats.state, 'live');
    // The cluster view (server tokens and admin users): every node, its load and its calls.
    const view = await rawRequest({ url: c.url, apiKey: cluster.apiKey }, 'GET', '/video/cluster', {
      token: await new SignJWT({ server: true })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .sign(new TextEncoder().encode(cluster.apiSecret)),
    });
    assert.equal(view.status, 200, JSON.stringify(view.body));
    assert.equal(view.body.node, c.id);
    assert.deepEqual(
      view.body.nodes.map((n: { id: string; calls: number }) => [n.id, n.calls]),
      [
        ['node-a', 1],
        ['node-b', 1],
        ['node-c', 1],
      ],
    );
    // A token's role claim does not make an admin; the user's app role does.
    const asUser = await rawRequest({ url: c.url, apiKey: cluster.apiKey }, 'GET', '/video/cluster', {
      token: c.client.generateUserToken({ user_id: 'ops', role: 'admin' }),
    });
    assert.equal(asUser.status, 403);
    assert.equal(asUser.body.code, 17);
    await c.client.upsertUsers([{ id: 'ops', role: 'admin' }]);
    const asAdmin = await rawRequest({ url: c.url, apiKey: cluster.apiKey }, 'GET', '/video/cluster', {
      token: c.client.generateUserToken({ user_id: 'ops' }),
    });
    assert.equal(asAdmin.status, 200, JSON.stringify(asAdmin.body));
    assert.equal(asAdmin.body.nodes.length, 3);
    // Each node's /metrics has its part of the cluster.
    const metrics = await (await fetch(`${owner1.url}/metrics`)).text();
    assert.match(metrics, /^callcast_cluster_nodes 3$/m);
    assert.match(metrics, /^callcast_cluster_calls_owned 1$/m);
    // A stop through a node that is not the owner stops it on the owner.
    await other.client.video.call('default', 's1').stopRTMPBroadcast({ name: 'main' });
    await waitFor(() => !owner1.engine!.active.has('default:s1\u0000main'), 'the broadcast stopped on its owner', 30_000);
    assert.deepEqual((await c.client.video.call('default', 's1').get()).call.egress.rtmps, []);
    void b;
  });

  it('delivers the events of a call on one node to a WebSocket client on another', async () => {
    await cluster.nodes[0]!.client.video.call('default', 'ws1').getOrCreate({ data: { created_by_id: 'host' } });
    await start(cluster.nodes[0]!, 'ws1', 'live');
    const owner = ownerOf(cluster, 'default:ws1')!;
    const elsewhere = cluster.nodes.find((n) => n !== owner)!;
    const token = elsewhere.client.generateCallToken({ user_id: 'watcher', call_cids: ['default:ws1'] });
    const c = await connectWs(elsewhere, cluster.apiKey, token, 'watcher');
    sockets.push(c.ws);
    // The owner's engine says the broadcast went live: the owner publishes the event.
    owner.engine!.listener!.onStarted('default:ws1', 'live');
    const started = await waitFor(
      () => c.messages.find((m) => m.type === 'call.rtmp_broadcast_started' && m.call_cid === 'default:ws1'),
      'call.rtmp_broadcast_started on a socket of another node',
      30_000,
    );
    assert.equal(started.name, 'live');
  });

  it('delivers every webhook once, whichever node produced it', async () => {
    await waitFor(
      () => receiver.hooks.some((h) => h.body.type === 'call.rtmp_broadcast_started' && h.body.call_cid === 'default:ws1'),
      'the started webhook',
      30_000,
    );
    // Let every node's dispatcher poll the outbox a few more times.
    await sleep(3_000);
    const ids = receiver.hooks.map((h) => h.id);
    assert.equal(new Set(ids).size, ids.length, `no webhook delivered twice: ${ids.length} deliveries`);
    const created = receiver.hooks.filter((h) => h.body.type === 'call.created').map((h) => h.body.call_cid);
    assert.deepEqual([...created].sort(), ['default:s1', 'default:s2', 'default:s3', 'default:ws1']);
    assert.equal(receiver.hooks.filter((h) => h.body.type === 'call.rtmp_broadcast_started').length, 1);
  });

  it('keeps what runs through a Redis restart', async () => {
    const before = new Map(['s2', 's3', 'ws1'].map((id) => [id, ownerOf(cluster, `default:${id}`)!.id]));
    await cluster.redis.restart({ downMs: 3_000 });
    // Every owner writes its leases again, and the registry is whole again.
    await waitFor(async () => (await liveNodes(cluster.nodes[0]!)).length === 3, 'three live nodes again', 60_000);
    await waitFor(
      async () =>
        (await liveNodes(cluster.nodes[0]!)).reduce((n, x) => n + x.calls, 0) ===
        cluster.nodes.reduce((n, x) => n + x.server.cluster!.node.ownedCalls().length, 0),
      'every owned call in Redis again',
      60_000,
    );
    // Longer than a lease: no node took a call over meanwhile.
    await sleep(12_000);
    for (const [id, owner] of before) {
      assert.equal(ownerOf(cluster, `default:${id}`)?.id, owner, `${id} stayed on ${owner}`);
      const node = cluster.nodes.find((n) => n.id === owner)!;
      const name = id === 'ws1' ? 'live' : 'main';
      assert.ok(node.engine!.active.has(`default:${id}\u0000${name}`), `${id} still runs on ${owner}`);
      assert.equal(node.engine!.stopped.filter((s) => s.callCid === `default:${id}`).length, 0);
      for (const other of cluster.nodes.filter((n) => n !== node)) {
        assert.equal(other.engine!.started.filter((s) => s.callCid === `default:${id}`).length, 0, `${id} not started on ${other.id}`);
      }
    }
  });

  it("applies a settings change and an end of the call through another node on the owner's encodes", async () => {
    const a = cluster.nodes[0]!;
    await a.client.video.call('default', 'set1').getOrCreate({ data: { created_by_id: 'host' } });
    // No layout of its own: it follows the call's settings.
    await start(a, 'set1', 'main');
    const owner = ownerOf(cluster, 'default:set1')!;
    const other = cluster.nodes.find((n) => n !== owner)!;
    const key = 'default:set1\u0000main';
    assert.ok(owner.engine!.active.has(key));
    const layout = { name: 'single-participant', options: { 'layout.background_color': '#2050d0' } };
    const updated = await other.client.video
      .call('default', 'set1')
      .update({ settings_override: { broadcasting: { rtmp: { layout } } } as never });
    assert.equal(
      (updated.call.settings as unknown as { broadcasting: { rtmp: { layout: { name: string } } } }).broadcasting.rtmp.layout.name,
      layout.name,
    );
    assert.equal(owner.engine!.active.get(key)?.layout.name, 'single-participant', "the owner's broadcast took the new layout");
    assert.equal(owner.engine!.active.get(key)?.layout.options?.['layout.background_color'], '#2050d0');
    // Ending the call through a node that does not own it stops the broadcast on its owner.
    await other.client.video.call('default', 'set1').end();
    await waitFor(() => !owner.engine!.active.has(key), 'the broadcast stopped on its owner', 30_000);
    const ended = await a.client.video.call('default', 'set1').get();
    assert.ok(ended.call.ended_at, 'the call is ended');
    assert.deepEqual(ended.call.egress.rtmps, []);
  });

  it('fences a node whose lease another holds: no state write, its encode stops, and the call moves on', async () => {
    const cid = 'default:s3';
    const owner = ownerOf(cluster, cid)!;
    const redis = new Redis(cluster.redis.url, { maxRetriesPerRequest: 1 });
    try {
      // Another node holds the lease now (as after a partition), with a later fencing token, for
      // longer than the owner's heartbeats take to notice.
      await redis.set(`callcast:owner:${cid}`, 'node-z 1000', 'PX', 15_000);
    } finally {
      redis.disconnect();
    }
    await assert.rejects(
      owner.server.broadcasts.stop(cid, 'main'),
      (err: unknown) => err instanceof ApiError && err.status === 503 && /owned by node node-z/.test(err.detail),
    );
    // At its next heartbeat the owner finds the lease lost: the encode stops there, the state stays.
    await waitFor(() => !owner.engine!.active.has(`${cid}\u0000main`), 'the fenced encode stopped', 30_000);
    assert.deepEqual(
      (await owner.client.video.call('default', 's3').get()).call.egress.rtmps.map((r) => r.name),
      ['main'],
    );
    // node-z never renews: its lease runs out, and a live node takes the call over and resumes it.
    const next = await waitFor(
      () => cluster.nodes.find((n) => n.engine!.active.has(`${cid}\u0000main`)),
      'the broadcast resumed on a live node',
      60_000,
    );
    assert.equal(next.engine!.active.get(`${cid}\u0000main`)!.streamKey, 'k-s3');
  });

  it('hands the calls of a node stopped as SIGTERM does over, without a failed event', async () => {
    const cid = 'default:s2';
    const owner = ownerOf(cluster, cid)!;
    const watcherNode = cluster.nodes.find((n) => n !== owner)!;
    const token = watcherNode.client.generateCallToken({ user_id: 'watcher2', call_cids: [cid] });
    const c = await connectWs(watcherNode, cluster.apiKey, token, 'watcher2');
    sockets.push(c.ws);
    await owner.stop();
    cluster.nodes.splice(cluster.nodes.indexOf(owner), 1);
    const next = await waitFor(() => ownerOf(cluster, cid), 'another node owning the call', 60_000);
    await waitFor(() => next.engine!.active.has(`${cid}\u0000main`), 'the broadcast resumed on the new owner', 60_000);
    const spec = next.engine!.active.get(`${cid}\u0000main`)!;
    assert.equal(spec.streamKey, 'k-s2', 'same destination');
    assert.deepEqual(
      (await next.client.video.call('default', 's2').get()).call.egress.rtmps.map((r) => r.name),
      ['main'],
    );
    next.engine!.listener!.onStarted(cid, 'main');
    const again = await waitFor(
      () => c.messages.find((m) => m.type === 'call.rtmp_broadcast_started' && m.call_cid === cid),
      'started again',
      30_000,
    );
    // The event says where and why it resumed.
    assert.equal(again.resumed?.node, next.id);
    assert.match(again.resumed?.reason ?? '', new RegExp(`node ${owner.id} handed the call over`));
    assert.ok(!c.messages.some((m) => m.type === 'call.rtmp_broadcast_failed'), 'no failed event');
    assert.ok(!receiver.hooks.some((h) => h.body.type === 'call.rtmp_broadcast_failed'), 'no failed webhook');
  });
});

function serverToken(node: TestNode): string {
  return node.client.generateUserToken({ user_id: 'server-side', role: 'admin' });
}
