/**
 * Cluster mode with real encodes: three nodes as `callcast serve` runs them (child processes on
 * their own ports) over one PostgreSQL schema and one Redis, broadcasting to a real nginx-rtmp
 * ingest. A WHIP publish to a node that does not own the call is redirected to its owner, and the
 * participant appears in the owner's broadcast (pixels at the ingest); a browser's publish (with an
 * Origin) is proxied to the owner instead, its DELETE too. The owner killed with
 * SIGKILL: the ingest receives the broadcast again from another node, under the same name and
 * destination, and the API shows it running. The new owner stopped with SIGTERM: it hands the call
 * over, and no broadcast is reported failed.
 * Needs PostgreSQL: skipped with a message elsewhere (the SQLite lane).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { StreamClient } from '@stream-io/node-sdk';
import { Redis } from 'ioredis';
import { grabLiveFrameRgb, pixelAt } from '../support/ffprobe.js';
import { TestPublisher } from '../support/publisher.js';
import { freePort, startNginxIngest, type NginxIngest } from '../support/rtmp-ingest.js';
import { clusterSkipReason, spawnNode, startTestCluster, type ChildNode, type TestCluster } from '../support/cluster.js';
import { waitFor } from '../support/wait.js';

const skip = clusterSkipReason();
const CID = 'default:fo1';
const KEY = 'fo1-main';
const W = 320;
const H = 180;
const BLUE = [0x20, 0x50, 0xd0];

function near(actual: number[], expected: number[], tolerance = 40): boolean {
  return actual.every((v, i) => Math.abs(v - expected[i]!) <= tolerance);
}

describe('cluster mode: redirect, failover and drain with real encodes', { skip, timeout: 280_000 }, () => {
  let cluster: TestCluster;
  let ingest: NginxIngest;
  let redis: Redis;
  let hooksServer: Server;
  const hooks: Array<{ id: string; type: string; call_cid?: string; name?: string }> = [];
  const nodes = new Map<string, ChildNode>();
  const publishers: TestPublisher[] = [];
  const logDir = mkdtempSync(join(tmpdir(), 'callcast-cluster-logs-'));
  let client: (node: ChildNode) => StreamClient;

  const ownerId = async () => (await redis.get(`callcast:owner:${CID}`))?.split(' ')[0];
  /** One frame of the broadcast as the ingest serves it now, or null when it has none. */
  const frame = async () => {
    try {
      return await grabLiveFrameRgb(`${ingest.url()}/${KEY}`, W, H);
    } catch {
      return null;
    }
  };
  const liveCount = async (name: string) => hooks.filter((h) => h.type === 'call.rtmp_broadcast_started' && h.name === name).length;

  before(async () => {
    hooksServer = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const e = JSON.parse(body);
        hooks.push({
          id: String(req.headers['x-webhook-id']),
          type: e.type,
          call_cid: e.call_cid,
          name: e.name,
        });
        res.writeHead(200).end('{}');
      });
    });
    await new Promise<void>((r) => hooksServer.listen(0, '127.0.0.1', r));
    const addr = hooksServer.address();
    const hookUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/hooks`;
    ingest = await startNginxIngest();
    cluster = await startTestCluster({ nodes: [], config: { webhookUrl: hookUrl } });
    redis = new Redis(cluster.redis.url, { maxRetriesPerRequest: 1 });
    for (const id of ['node-a', 'node-b', 'node-c']) {
      nodes.set(id, await spawnNode(cluster, id, await freePort(), join(logDir, `${id}.log`)));
    }
    client = (node) => new StreamClient(cluster.apiKey, cluster.apiSecret, { basePath: node.url, timeout: 20_000 });
    await waitFor(async () => (await redis.zcard('callcast:nodes')) === 3, 'three registered nodes', 60_000, 200);
  });
  after(async () => {
    await Promise.allSettled(publishers.map((p) => p.close()));
    for (const n of nodes.values()) n.kill('SIGKILL');
    await Promise.allSettled([...nodes.values()].map((n) => n.exited));
    redis?.disconnect();
    await cluster?.close();
    await ingest?.stop();
    hooksServer?.close();
    if (process.env.CALLCAST_TEST_KEEP_LOGS) console.log(`node logs in ${logDir}`);
    else rmSync(logDir, { recursive: true, force: true });
  });

  it('redirects WHIP to the owner, whose broadcast shows the participant', async () => {
    const a = nodes.get('node-a')!;
    const sdk = client(a);
    await sdk.upsertUsers([{ id: 'alice', name: 'Alice', role: 'user' }]);
    await sdk.video.call('default', 'fo1').getOrCreate({ data: { created_by_id: 'alice' } });
    await sdk.video.call('default', 'fo1').startRTMPBroadcasts({
      broadcasts: [
        {
          name: 'main',
          stream_url: ingest.url(),
          stream_key: KEY,
          quality: '360p',
          layout: { name: 'single-participant', options: { 'participant_label.display': false, 'layout.background_color': '#2050d0' } },
        },
      ],
    });
    const owner = nodes.get((await ownerId())!)!;
    assert.ok(owner, 'the call has an owner');
    await waitFor(async () => (await liveCount('main')) >= 1, 'the broadcast live', 60_000, 200);
    const other = [...nodes.values()].find((n) => n !== owner)!;
    const token = sdk.generateUserToken({ user_id: 'alice', validity_in_seconds: 900 });
    const publisher = await TestPublisher.start({ url: `${other.url}/video/call/default/fo1/whip`, token, color: 'red' });
    publishers.push(publisher);
    assert.ok(publisher.location?.startsWith(`${owner.url}/`), `the session lives on the owner: ${publisher.location}`);
    // A browser (it sends an Origin, and cannot follow a cross-origin redirect with its token)
    // is proxied: its session resource stays on the node it asked, which passes its DELETE on.
    const bobToken = sdk.generateUserToken({ user_id: 'bob', validity_in_seconds: 900 });
    const browser = await TestPublisher.start({
      url: `${other.url}/video/call/default/fo1/whip`,
      token: bobToken,
      color: 'green',
      video: false,
      headers: { origin: other.url },
    });
    publishers.push(browser);
    assert.ok(browser.location?.startsWith(`${other.url}/`), `the proxied session's resource: ${browser.location}`);
    const count = (type: string) => hooks.filter((h) => h.type === type && h.call_cid === CID).length;
    await waitFor(() => count('call.session_participant_joined') === 2, 'both participants joined on the owner', 60_000, 200);
    assert.ok([200, 204].includes(await browser.unpublish()), 'the DELETE passed on to the owner succeeds');
    await waitFor(() => count('call.session_participant_left') === 1, 'the proxied DELETE ended the session on the owner', 60_000, 200);
    // The participant fills the single-participant layout of the owner's broadcast.
    await waitFor(
      async () => {
        const f = await frame();
        return f !== null && near(pixelAt(f, W, W / 2, H / 2), [255, 0, 0]);
      },
      'the red participant at the ingest',
      90_000,
      500,
    );
  });

  it('resumes the broadcast on another node when its owner is killed, and shows it running', async () => {
    const owner = nodes.get((await ownerId())!)!;
    const startedBefore = await liveCount('main');
    const killedAt = Date.now();
    owner.kill('SIGKILL');
    await owner.exited;
    nodes.delete(owner.id);
    const next = await waitFor(
      async () => {
        const id = await ownerId();
        return id && id !== owner.id ? nodes.get(id) : undefined;
      },
      'another node owning the call',
      60_000,
      200,
    );
    // The new owner's encode reaches the ingest: its background only (the participant's session
    // was on the dead node), where the old encode showed the red participant.
    await waitFor(
      async () => {
        const f = await frame();
        return f !== null && near(pixelAt(f, W, 10, 10), BLUE) && near(pixelAt(f, W, W / 2, H / 2), BLUE);
      },
      'the broadcast at the ingest again',
      90_000,
      500,
    );
    const seconds = (Date.now() - killedAt) / 1000;
    console.log(`# failover: broadcast at the ingest again ${seconds.toFixed(1)} s after SIGKILL of ${owner.id} (now on ${next.id})`);
    await waitFor(async () => (await liveCount('main')) > startedBefore, 'a started event from the new owner', 30_000, 200);
    // Any node's API shows it, with the new owner's live stats.
    for (const n of nodes.values()) {
      const call = await client(n).video.call('default', 'fo1').get();
      assert.deepEqual(
        call.call.egress.rtmps.map((r) => [r.name, r.stream_key]),
        [['main', KEY]],
      );
    }
    const details = await fetch(
      `${[...nodes.values()].find((n) => n !== next)!.url}/video/call/default/fo1/rtmp_broadcasts/main?api_key=${cluster.apiKey}`,
      {
        headers: { authorization: client(next).generateUserToken({ user_id: 'ops', role: 'admin' }), 'stream-auth-type': 'jwt' },
      },
    );
    assert.equal(details.status, 200);
    assert.equal(((await details.json()) as { broadcast: { stats: { state: string } | null } }).broadcast.stats?.state, 'live');
  });

  it('hands the call over when its owner stops with SIGTERM, without a failed event', async () => {
    const owner = nodes.get((await ownerId())!)!;
    const startedBefore = await liveCount('main');
    owner.kill('SIGTERM');
    assert.equal(await owner.exited, 0, 'the node exits cleanly');
    nodes.delete(owner.id);
    const last = [...nodes.values()][0]!;
    await waitFor(async () => (await ownerId()) === last.id, `${last.id} owning the call`, 60_000, 200);
    await waitFor(async () => (await liveCount('main')) > startedBefore, 'started on the last node', 60_000, 200);
    await waitFor(
      async () => {
        const f = await frame();
        return f !== null && near(pixelAt(f, W, 10, 10), BLUE);
      },
      'the broadcast at the ingest from the last node',
      90_000,
      500,
    );
    const log = readFileSync(join(logDir, `${owner.id}.log`), 'utf8');
    assert.match(log, /cluster node left/);
    assert.ok(!hooks.some((h) => h.type === 'call.rtmp_broadcast_failed'), `no failed webhook: ${hooks.map((h) => h.type).join(', ')}`);
    const ids = hooks.map((h) => h.id);
    assert.equal(new Set(ids).size, ids.length, 'every webhook delivered once');
  });
});
