/**
 * Limits of the control plane through the SDK, against a recording engine double: RTMP
 * broadcasts per call (429, code 9, nothing stored), and QueryCalls' `ongoing` counting a call
 * whose HLS broadcast runs (not only RTMP).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../support/server.js';

describe('limits', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ config: { maxBroadcastsPerCall: 2 } });
  });
  after(async () => {
    await t?.close();
  });

  it('bounds the RTMP broadcasts of a call', async () => {
    const call = t.client.video.call('default', 'many');
    await call.getOrCreate({ data: { created_by_id: 'host' } });
    const start = (name: string) =>
      call.startRTMPBroadcasts({ broadcasts: [{ name, stream_url: 'rtmp://127.0.0.1:1935/live', stream_key: `k-${name}` }] });
    await start('one');
    await start('two');
    const refused = await start('three').then(
      () => null,
      (err: { code?: number; message: string; metadata?: { responseCode?: number } }) => err,
    );
    assert.ok(refused, 'the third is refused');
    assert.equal(refused.code, 9);
    assert.equal(refused.metadata?.responseCode, 429);
    assert.match(refused.message, /call default:many already has 2 active RTMP broadcasts \(the limit is 2\); stop one first/);
    const { call: state } = await call.get();
    assert.deepEqual(state.egress.rtmps.map((r) => r.name).sort(), ['one', 'two']);
    assert.ok(![...t.engine.active.values()].some((s) => s.name === 'three'), 'the engine never saw it');

    // Another call is not affected; a stop makes room.
    const other = t.client.video.call('default', 'few');
    await other.getOrCreate({ data: { created_by_id: 'host' } });
    await other.startRTMPBroadcasts({ broadcasts: [{ name: 'one', stream_url: 'rtmp://127.0.0.1:1935/live', stream_key: 'x' }] });
    await call.stopRTMPBroadcast({ name: 'one' });
    await start('three');
    assert.deepEqual((await call.get()).call.egress.rtmps.map((r) => r.name).sort(), ['three', 'two']);
    await call.stopAllRTMPBroadcasts();
    await other.stopAllRTMPBroadcasts();
  });

  it('counts a call whose HLS runs as ongoing', async () => {
    const c = t.client.video;
    await c.call('default', 'hls-on').getOrCreate({ data: { created_by_id: 'host', custom: { set: 'ongoing-hls' } } });
    await c.call('default', 'hls-off').getOrCreate({ data: { created_by_id: 'host', custom: { set: 'ongoing-hls' } } });
    const ongoing = async (value: boolean) =>
      (
        await c.queryCalls({ filter_conditions: { ongoing: value, 'custom.set': 'ongoing-hls' }, sort: [{ field: 'id', direction: 1 }] })
      ).calls.map((x) => x.call.id);
    assert.deepEqual(await ongoing(true), []);
    const record = {
      call_cid: 'default:hls-on',
      token: 'a'.repeat(32),
      qualities: ['720p'],
      layout: { name: 'spotlight' as const, external_app_url: '', external_css_url: '' },
      status: 'live' as const,
      started_at: new Date().toISOString(),
      stopped_at: null,
    };
    await t.server.store.outputs.putHls(record);
    await t.server.store.outputs.putHls({ ...record, call_cid: 'default:hls-off', token: 'b'.repeat(32), status: 'stopped' });
    assert.deepEqual(await ongoing(true), ['hls-on']);
    assert.deepEqual(await ongoing(false), ['hls-off']);
    await t.server.store.outputs.setHlsStatus('default:hls-on', record.token, 'stopped', new Date().toISOString());
    assert.deepEqual(await ongoing(true), []);
  });
});
