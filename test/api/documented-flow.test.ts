/**
 * The RTMP broadcasting flow exactly as Stream's documentation shows it (spec/rtmp-broadcasts.md),
 * run unchanged through the node SDK against Callcast.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { startTestServer, type TestServer } from '../support/server.js';

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(async () => {
  await t?.close();
});

it('runs the documented flow: call type settings, start, state, stop by name, stop all', async () => {
  const client = t.client;
  await client.upsertUsers([{ id: 'john', name: 'John', role: 'admin' }]);
  await client.video.updateCallType({
    name: 'livestream',
    settings: {
      broadcasting: {
        enabled: true,
        rtmp: { enabled: true, quality: '1080p', layout: { name: 'spotlight' } },
      },
    } as any,
  });
  const call = client.video.call('livestream', 'doc-flow');
  await call.getOrCreate({ data: { created_by_id: 'john' } });

  await call.startRTMPBroadcasts({
    broadcasts: [{ name: 'youtube_channel', stream_url: 'rtmps://x.rtmps.youtube.com/live2', stream_key: 'your_stream_key' }],
  });
  let resp = await call.get();
  assert.equal(resp.call.egress.broadcasting, true);
  assert.equal(resp.call.egress.rtmps.length > 0, true);
  assert.equal(t.engine.started.at(-1)!.quality, '1080p');

  await call.stopRTMPBroadcast({ name: 'youtube_channel' });
  resp = await call.get();
  assert.equal(resp.call.egress.broadcasting, false);
  assert.equal(resp.call.egress.rtmps.length, 0);

  await call.startRTMPBroadcasts({ broadcasts: [{ name: 'twitch', stream_url: 'rtmp://live.twitch.example.test/app', stream_key: 'k' }] });
  await call.stopAllRTMPBroadcasts();
  resp = await call.get();
  assert.equal(resp.call.egress.rtmps.length, 0);
  assert.deepEqual(
    t.engine.stopped.map((s) => s.name),
    ['youtube_channel', 'twitch'],
  );
});
