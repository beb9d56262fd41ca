/**
 * Cluster benchmark: three nodes as `callcast serve` runs them (child processes) over one
 * PostgreSQL schema and one Redis, broadcasting to a local nginx-rtmp ingest.
 *   1. placement: N calls, each started (one 360p broadcast) through the same node; where each
 *      call went and how long each start request took (placement + forward + start);
 *   2. failover: K times, the owner of a running broadcast is killed (SIGKILL) and the time until
 *      the ingest serves that broadcast again from another node is measured (the first frame an
 *      ffmpeg reader decodes again, so it includes the reader's own start); the killed node is
 *      started again before the next kill.
 * Needs PostgreSQL: `node --import tsx scripts/with-postgres.ts node --import tsx bench/cluster.ts [--calls N] [--kills K]`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { StreamClient } from '@stream-io/node-sdk';
import { Redis } from 'ioredis';
import { grabLiveFrameRgb } from '../test/support/ffprobe.js';
import { freePort, startNginxIngest } from '../test/support/rtmp-ingest.js';
import { spawnNode, startTestCluster, type ChildNode } from '../test/support/cluster.js';
import { waitFor } from '../test/support/wait.js';
import { loadAverage } from './lib/proc.js';
import { median } from './lib/stats.js';

const { values } = parseArgs({ options: { calls: { type: 'string' }, kills: { type: 'string' } } });
const CALLS = Number(values.calls ?? 6);
const KILLS = Number(values.kills ?? 3);
if (!process.env.CALLCAST_TEST_DATABASE_URL) {
  console.error('the cluster benchmark needs PostgreSQL: run it under scripts/with-postgres.ts');
  process.exit(2);
}

const loadAtStart = loadAverage();
const logDir = mkdtempSync(join(tmpdir(), 'callcast-bench-cluster-'));
const ingest = await startNginxIngest();
const cluster = await startTestCluster({ nodes: [] });
const redis = new Redis(cluster.redis.url, { maxRetriesPerRequest: 1 });
const nodes = new Map<string, ChildNode>();
const ports = new Map<string, number>();
const ids = ['node-a', 'node-b', 'node-c'];
const spawn = async (id: string) => {
  const port = ports.get(id) ?? (await freePort());
  ports.set(id, port);
  nodes.set(id, await spawnNode(cluster, id, port, join(logDir, `${id}.log`)));
};
const ownerOf = async (cid: string) => (await redis.get(`callcast:owner:${cid}`))?.split(' ')[0];
const live = async (key: string) => {
  try {
    await grabLiveFrameRgb(`${ingest.url()}/${key}`, 160, 90);
    return true;
  } catch {
    return false;
  }
};

try {
  for (const id of ids) await spawn(id);
  await waitFor(async () => (await redis.zcard('callcast:nodes')) === 3, 'three registered nodes', 60_000, 200);
  const entry = nodes.get('node-a')!;
  const sdk = new StreamClient(cluster.apiKey, cluster.apiSecret, { basePath: entry.url, timeout: 30_000 });

  // 1. placement
  const startMs: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    const call = sdk.video.call('default', `bench${i}`);
    await call.getOrCreate({ data: { created_by_id: 'bench' } });
    const t0 = performance.now();
    await call.startRTMPBroadcasts({
      broadcasts: [{ name: 'main', stream_url: ingest.url(), stream_key: `bench${i}`, quality: '360p' }],
    });
    startMs.push(performance.now() - t0);
  }
  const placed: Record<string, number> = {};
  for (let i = 0; i < CALLS; i++) {
    const owner = (await ownerOf(`default:bench${i}`)) ?? 'none';
    placed[owner] = (placed[owner] ?? 0) + 1;
  }
  console.log(`placement of ${CALLS} calls over 3 nodes (all started through node-a):`, JSON.stringify(placed));
  console.log(
    `start request (placement + forward + start): median ${median(startMs).toFixed(0)} ms, max ${Math.max(...startMs).toFixed(0)} ms`,
  );
  for (let i = 0; i < CALLS; i++) await waitFor(() => live(`bench${i}`), `bench${i} at the ingest`, 120_000, 500);

  // 2. failover
  const failoverS: number[] = [];
  for (let k = 0; k < KILLS; k++) {
    const cid = `default:bench${k % CALLS}`;
    const victim = nodes.get((await ownerOf(cid))!)!;
    const t0 = Date.now();
    victim.kill('SIGKILL');
    await victim.exited;
    nodes.delete(victim.id);
    await waitFor(
      async () => {
        const o = await ownerOf(cid);
        return o !== undefined && o !== victim.id;
      },
      'a new owner',
      120_000,
      100,
    );
    await waitFor(() => live(`bench${k % CALLS}`), 'the broadcast at the ingest again', 120_000, 100);
    failoverS.push((Date.now() - t0) / 1000);
    console.log(`kill ${k + 1}: ${victim.id} killed; ${cid} at the ingest again after ${failoverS.at(-1)!.toFixed(1)} s`);
    await spawn(victim.id);
    await waitFor(async () => (await redis.zcard('callcast:nodes')) === 3, 'three registered nodes', 60_000, 200);
  }
  console.log(
    `failover (SIGKILL to the broadcast at the ingest again): median ${median(failoverS).toFixed(1)} s over ${KILLS} kills ` +
      `(min ${Math.min(...failoverS).toFixed(1)}, max ${Math.max(...failoverS).toFixed(1)})`,
  );
  console.log(`load average at start ${loadAtStart.join(' ')}, at end ${loadAverage().join(' ')}`);
} finally {
  for (const n of nodes.values()) n.kill('SIGKILL');
  await Promise.allSettled([...nodes.values()].map((n) => n.exited));
  redis.disconnect();
  await cluster.close();
  await ingest.stop();
  rmSync(logDir, { recursive: true, force: true });
}
