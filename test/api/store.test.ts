/**
 * The store on its own (SQLite, or PostgreSQL when CALLCAST_TEST_DATABASE_URL is set): the
 * durable webhook outbox semantics, migrations that run twice, broadcast state, custom filters.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../support/server.js';
import { openStore } from '../../src/store/store.js';
import { sqlitePathFor } from '../../src/app.js';

describe('store', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(async () => {
    await t?.close();
  });

  it('uses the dialect the test run asks for', () => {
    assert.equal(t.server.store.dialect, process.env.CALLCAST_TEST_DATABASE_URL ? 'postgres' : 'sqlite');
  });

  it('keeps webhook deliveries: add, due (heads of each order key, in seq order, limited), reschedule, remove, dead, replay', async () => {
    const outbox = t.server.store.webhookOutbox;
    const base = { url: 'http://127.0.0.1:9/hook', body: '{"type":"x"}', attempts: 0 };
    const d = (id: string, orderKey: string, seq: number, nextAttemptAt: number) => ({
      ...base,
      id,
      orderKey,
      seq,
      nextAttemptAt,
      createdAt: seq,
      retryFrom: seq,
    });
    await outbox.add(d('b', 'k2', 200, 1_000));
    await outbox.add(d('a', 'k1', 100, 1_000));
    await outbox.add(d('a2', 'k1', 150, 1_000));
    await outbox.add(d('c', 'k3', 50, 5_000_000_000_000));
    assert.deepEqual(
      (await outbox.due(2_000, 10)).map((x) => x.id),
      ['a', 'b'],
      'a2 waits for a (same key); c is not due',
    );
    assert.deepEqual(
      (await outbox.due(2_000, 1)).map((x) => x.id),
      ['a'],
    );
    assert.deepEqual(await outbox.due(2_000, 0), []);
    await outbox.reschedule('a', 1, 3_000);
    assert.deepEqual(
      (await outbox.due(2_000, 10)).map((x) => x.id),
      ['b'],
      'a2 still waits while a is rescheduled',
    );
    const [a] = await outbox.due(3_000, 1);
    assert.deepEqual(a, { ...d('a', 'k1', 100, 3_000), attempts: 1 });
    await outbox.add({ ...d('a', 'k1', 100, 3_000), body: '{"type":"y"}' });
    assert.equal((await outbox.due(3_000, 1))[0]!.body, '{"type":"y"}', 'adding an existing id replaces it');
    await outbox.markDead('a', 7, 4_000, 'status 503 after 7 attempt(s)');
    assert.deepEqual(
      (await outbox.due(3_000, 10)).map((x) => x.id),
      ['a2', 'b'],
      'a parked: a2 is the head of k1',
    );
    assert.equal(await outbox.countDead(), 1);
    const [dead] = await outbox.listDead(10);
    assert.deepEqual(dead, {
      ...d('a', 'k1', 100, 3_000),
      attempts: 7,
      body: '{"type":"y"}',
      deadAt: 4_000,
      reason: 'status 503 after 7 attempt(s)',
    });
    assert.equal(await outbox.replayDead({ id: 'missing' }, 9_000), 0);
    assert.equal(await outbox.replayDead({ all: true }, 9_000), 1);
    assert.equal(await outbox.countDead(), 0);
    assert.deepEqual(
      (await outbox.due(9_000, 10)).map((x) => [x.id, x.attempts, x.retryFrom]),
      [
        ['a', 0, 9_000],
        ['b', 0, 200],
      ],
      'replayed a heads k1 again',
    );
    await outbox.remove('a');
    await outbox.remove('a2');
    await outbox.remove('missing');
    await outbox.reschedule('missing', 2, 0);
    await outbox.markDead('missing', 2, 0, 'x');
    assert.deepEqual(
      (await outbox.due(5_000_000_000_000, 10)).map((x) => x.id),
      ['c', 'b'],
    );
    await outbox.remove('b');
    await outbox.remove('c');
  });

  it('keeps deliveries across a restart', async () => {
    // Due in an hour, so the restarted dispatcher leaves it alone during the test.
    const later = Date.now() + 3_600_000;
    await t.server.store.webhookOutbox.add({
      id: 'durable',
      url: 'http://127.0.0.1:9/h',
      body: '{}',
      attempts: 1,
      nextAttemptAt: later,
      createdAt: 5,
      orderKey: '',
      seq: 5,
      retryFrom: 5,
    });
    t = await t.restart();
    const due = await t.server.store.webhookOutbox.due(later, 10);
    assert.ok(due.some((x) => x.id === 'durable'));
    await t.server.store.webhookOutbox.remove('durable');
  });

  it('runs migrations idempotently on an existing database', async () => {
    if (t.databaseUrl) {
      const again = await openStore({ databaseUrl: t.databaseUrl, sqlitePath: '' });
      assert.equal((await again.listCallTypes()).length >= 4, true);
      await again.close();
    } else {
      // The server holds the SQLite file open; WAL mode lets a second connection migrate and read.
      const again = await openStore({ sqlitePath: sqlitePathFor({ dataDir: t.dataDir } as never) });
      assert.equal((await again.listCallTypes()).length >= 4, true);
      await again.close();
    }
  });

  it('filters calls on custom fields of every JSON type', async () => {
    const c = t.client.video;
    await c
      .call('default', 'cs1')
      .getOrCreate({ data: { created_by_id: 'u', custom: { level: 3, vip: true, tag: 'x', nested: { k: 'v' } } } });
    await c.call('default', 'cs2').getOrCreate({ data: { created_by_id: 'u', custom: { level: 4, vip: false, tag: 'y' } } });
    const ids = async (filter: Record<string, unknown>) =>
      (await c.queryCalls({ filter_conditions: filter, sort: [{ field: 'id', direction: 1 }] })).calls.map((x) => x.call.id);
    assert.deepEqual(await ids({ 'custom.level': 3 }), ['cs1']);
    assert.deepEqual(await ids({ 'custom.vip': false }), ['cs2']);
    assert.deepEqual(await ids({ 'custom.tag': { $in: ['x', 'y'] } }), ['cs1', 'cs2']);
    assert.deepEqual(await ids({ 'custom.nested.k': 'v' }), ['cs1']);
    assert.deepEqual(await ids({ 'custom.tag': { $ne: 'x' }, type: 'default' }), ['cs2']);
    // Neither call has participants or a broadcast: not ongoing (Stream's `ongoing`).
    assert.deepEqual(await ids({ ongoing: false, 'custom.level': { $in: [3, 4] } }), ['cs1', 'cs2']);
    assert.deepEqual(await ids({ ongoing: true, 'custom.level': { $in: [3, 4] } }), []);
  });
});
