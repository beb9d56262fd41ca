/**
 * Cluster mode, admission: a node whose measured load is over its admission limit takes no new
 * call, and when every node is full a broadcast start answers 503 in Stream's error shape (code
 * -1, Retry-After) naming each node's reason; once the load is gone, the start goes through.
 * Two nodes in this process (so they measure the same process tree), admission at 5% of the CPU,
 * and two busy threads for a few seconds as the load. Needs PostgreSQL: skipped elsewhere.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { clusterSkipReason, startTestCluster, type TestCluster } from '../support/cluster.js';
import { rawRequest } from '../support/server.js';
import { waitFor } from '../support/wait.js';

const skip = clusterSkipReason();

describe('cluster mode: admission over every node', { skip }, () => {
  let cluster: TestCluster;
  let busy: Worker[] = [];
  before(async () => {
    cluster = await startTestCluster({ nodes: ['node-a', 'node-b'], config: { admissionCpuPercent: 5 } });
  });
  after(async () => {
    await Promise.all(busy.map((w) => w.terminate()));
    await cluster?.close();
  });

  it('answers 503 with each node’s reason when every node is full, and places the call once one has room', async () => {
    const [a] = cluster.nodes;
    await a!.client.video.call('default', 'full1').getOrCreate({ data: { created_by_id: 'host' } });
    // Two busy threads (bounded: each stops by itself after 60 s).
    busy = [0, 1].map(() => new Worker('const end = Date.now() + 60000; while (Date.now() < end) {}', { eval: true }));
    await waitFor(
      async () => {
        const nodes = await a!.server.cluster!.node.nodes();
        return nodes.length === 2 && nodes.every((n) => n.full !== null);
      },
      'both nodes reporting full',
      60_000,
      200,
    );
    const res = await rawRequest({ url: a!.url, apiKey: cluster.apiKey }, 'POST', '/video/call/default/full1/rtmp_broadcasts', {
      token: a!.client.generateUserToken({ user_id: 'ops', role: 'admin' }),
      body: { broadcasts: [{ name: 'main', stream_url: 'rtmp://127.0.0.1:1935/live', stream_key: 'k' }] },
    });
    assert.equal(res.status, 503, JSON.stringify(res.body));
    assert.equal(res.body.code, -1);
    assert.equal(res.body.StatusCode, 503);
    assert.match(res.body.message, /every node of the cluster is at capacity \(node-a: .*CPU.*; node-b: .*CPU.*\)/);
    assert.ok(res.headers.get('retry-after'));
    assert.equal(a!.server.cluster!.node.ownedCalls().length + cluster.nodes[1]!.server.cluster!.node.ownedCalls().length, 0);
    await Promise.all(busy.map((w) => w.terminate()));
    busy = [];
    // The load falls out of the 10 s window: the start goes through.
    await waitFor(
      async () => {
        const nodes = await a!.server.cluster!.node.nodes();
        return nodes.some((n) => n.full === null);
      },
      'a node with room again',
      90_000,
      500,
    );
    await a!.client.video.call('default', 'full1').startRTMPBroadcasts({
      broadcasts: [{ name: 'main', stream_url: 'rtmp://127.0.0.1:1935/live', stream_key: 'k' }],
    });
  });
});
