/**
 * The webhook outbox as several nodes share it (PostgreSQL): concurrent claims never hand one
 * delivery to two claimers, and a call's later deliveries wait for its earlier one.
 * Needs PostgreSQL: skipped with a message elsewhere (the SQLite lane).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { claimingOutbox } from '../../src/cluster/outbox.js';
import { silentLogger } from '../../src/log.js';
import type { KyselyWebhookOutbox } from '../../src/store/outbox.js';
import { openStore, type Store } from '../../src/store/store.js';
import { clusterSkipReason } from '../support/cluster.js';
import { freshSchema } from '../support/server.js';

const skip = clusterSkipReason();

describe('claimed webhook outbox', { skip }, () => {
  let stores: Store[] = [];
  let schema: Awaited<ReturnType<typeof freshSchema>>;
  before(async () => {
    schema = await freshSchema(process.env.CALLCAST_TEST_DATABASE_URL!);
    for (let i = 0; i < 4; i++) stores.push(await openStore({ databaseUrl: schema.url, sqlitePath: '/nonexistent', log: silentLogger }));
  });
  after(async () => {
    for (const s of stores) await s.close();
    stores = [];
    await schema?.drop();
  });

  it('gives each due delivery to one claimer, heads of a call first', async () => {
    const now = Date.now();
    const outbox = stores[0]!.webhookOutbox;
    let seq = 0;
    for (let i = 0; i < 60; i++) {
      await outbox.add({
        id: `d${String(i).padStart(2, '0')}`,
        url: 'http://127.0.0.1:9/hooks',
        body: '{}',
        attempts: 0,
        nextAttemptAt: now - 1,
        createdAt: now,
        // 20 calls with 3 deliveries each
        orderKey: `default:c${i % 20}`,
        seq: ++seq,
        retryFrom: now,
      });
    }
    const claimers = stores.map((s) => claimingOutbox(s.webhookOutbox as KyselyWebhookOutbox));
    const claimed = new Map<string, number>();
    // Three rounds: each round four claimers at once; between rounds the claimed ones are delivered.
    for (let round = 0; round < 3; round++) {
      const got = await Promise.all(claimers.map((c) => c.due(Date.now(), 7)));
      const ids = got.flat().map((d) => d.id);
      for (const id of ids) claimed.set(id, (claimed.get(id) ?? 0) + 1);
      assert.equal(new Set(ids).size, ids.length, `round ${round}: no delivery claimed twice`);
      // One delivery per call per round: the head only.
      const keys = got.flat().map((d) => d.orderKey);
      assert.equal(new Set(keys).size, keys.length, `round ${round}: one delivery per call`);
      for (const id of ids) await claimers[0]!.remove(id);
    }
    // Nothing claimed is due again while its claim runs.
    const later = await Promise.all(claimers.map((c) => c.due(Date.now(), 100)));
    for (const d of later.flat()) assert.ok(!claimed.has(d.id), `${d.id} claimed again`);
    for (const [id, n] of claimed) assert.equal(n, 1, `${id} claimed ${n} times`);
  });
});
