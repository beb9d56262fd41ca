/**
 * Every output quality, landscape and portrait, broadcast to a real nginx-rtmp ingest: the
 * recording has H.264 High at the quality's size, 30 fps, a keyframe every 2 s, and AAC 48 kHz
 * stereo (ffprobe on what the ingest recorded).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EgressEngine } from '../../src/egress/engine.js';
import { QUALITIES, canvasFor, type LayoutSettings } from '../../src/layout/settings.js';
import { keyframeTimes, probe } from '../support/ffprobe.js';
import { startNginxIngest, type NginxIngest } from '../support/rtmp-ingest.js';
import { waitFor } from '../support/wait.js';
import { RecordingLogger } from '../support/log.js';
import { RecordingListener } from '../egress/helpers.js';

const layout: LayoutSettings = { name: 'spotlight', external_app_url: '', external_css_url: '' };

describe('every output quality', () => {
  let ingest: NginxIngest;
  let engine: EgressEngine;
  const listener = new RecordingListener();

  before(async () => {
    ingest = await startNginxIngest();
    engine = new EgressEngine({ listener, log: new RecordingLogger(), retry: { giveUpAfterMs: 10_000 } });
  });
  after(async () => {
    await engine?.close();
    await ingest?.stop();
  });

  for (const quality of QUALITIES) {
    it(`${quality}: size, 30 fps, keyframes every 2 s, AAC 48 kHz stereo`, async (t) => {
      const name = `q-${quality}`;
      const cid = `default:${name}`;
      engine.start({ callCid: cid, name, streamUrl: ingest.url(), streamKey: name, quality, layout });
      await listener.waitFor('started', name, 20_000);
      // A little over two GOPs.
      await waitFor(() => (engine.stats(cid)[0]?.videoFramesSent ?? 0) >= 140, `${quality}: ~4.7 s of video`, 60_000);
      await engine.stop(cid, name);
      await new Promise((r) => setTimeout(r, 300));

      const path = ingest.recordingPath(name);
      const info = await probe(path);
      const keys = await keyframeTimes(path);
      t.diagnostic(`${quality}: ${JSON.stringify(info)} keyframes at ${keys.join(', ')}`);
      const { width, height } = canvasFor(quality);
      assert.equal(info.video?.codec, 'h264');
      assert.equal(info.video?.profile, 'High');
      assert.equal(info.video?.width, width);
      assert.equal(info.video?.height, height);
      assert.ok(Math.abs(info.video!.fps - 30) < 1, `fps ${info.video!.fps}`);
      assert.equal(info.audio?.codec, 'aac');
      assert.equal(info.audio?.sampleRate, 48000);
      assert.equal(info.audio?.channels, 2);
      assert.ok(keys.length >= 2, `keyframes ${keys.join(',')}`);
      for (let i = 1; i < keys.length; i++) {
        assert.ok(Math.abs(keys[i]! - keys[i - 1]! - 2) < 0.1, `keyframe gap ${keys[i]! - keys[i - 1]!}`);
      }
    });
  }
});
