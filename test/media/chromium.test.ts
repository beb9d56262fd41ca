/**
 * Chromium (Debian's, through playwright-core) publishes its fake camera and microphone over WHIP;
 * the tracks are decoded: VP8 and, when this Chromium can encode it, H.264.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { launchChromium, publishFromChromium, type ChromiumSession } from '../support/chromium.js';
import { waitFor } from '../support/wait.js';
import { startWhipApp, type WhipTestApp } from './helpers.js';

/** How much the luma of a frame varies (a real picture, not a flat or empty frame). */
function lumaSpread(data: Buffer, width: number, height: number): number {
  let min = 255,
    max = 0;
  for (let i = 0; i < width * height; i += 7) {
    const v = data[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return max - min;
}

describe('Chromium publisher', { timeout: 170_000 }, () => {
  let t: WhipTestApp;
  let browser: ChromiumSession;

  before(async () => {
    t = await startWhipApp();
    browser = await launchChromium({ loopbackIce: true });
  });
  after(async () => {
    await browser?.close();
    await t?.close();
  });

  for (const codec of ['VP8', 'H264'] as const) {
    it(`publishes fake camera (${codec}) and microphone, decoded`, async (ctx) => {
      const id = `chromium-${codec.toLowerCase()}`;
      const cid = `default:${id}`;
      const pub = await publishFromChromium(browser, t.whipUrl('default', id), 'carol', { videoCodec: codec });
      try {
        if (pub.status === 0 && codec === 'H264') {
          ctx.skip(`this Chromium cannot send H.264: ${pub.body}`);
          return;
        }
        assert.equal(pub.status, 201, pub.body);
        const p = await waitFor(() => t.media.participants(cid).find((x) => x.hasVideo && x.hasAudio), 'participant with tracks');
        assert.equal(p.userId, 'carol');
        const tracks = await waitFor(() => {
          const tr = t.media.tracks(cid, p.sessionId);
          return tr.every((x) => x.codec) && tr.length === 2 ? tr : undefined;
        }, 'codecs known');
        assert.equal(tracks.find((x) => x.kind === 'video')!.codec!.toUpperCase(), codec);
        assert.equal(tracks.find((x) => x.kind === 'audio')!.codec!.toLowerCase(), 'opus');

        const decoder = await waitFor(() => t.media.videoDecoder(cid, p.sessionId), 'video decoder');
        decoder.setOutputSize(320, 180);
        const frame = await waitFor(() => decoder.latestFrame(), 'decoded frame', 60_000);
        assert.equal(frame.width, 320);
        assert.equal(frame.height, 180);
        assert.ok(lumaSpread(frame.data, 320, 180) > 30, 'the fake camera picture has content');
        const size = await waitFor(() => t.media.participants(cid)[0]?.videoSize, 'published size');
        assert.ok(size.width > 0 && size.height > 0);

        const timeline = await waitFor(() => t.media.audioTimelines(cid).get(p.sessionId), 'audio');
        await waitFor(() => timeline.writtenFrames > 48000 / 4, 'decoded audio', 30_000);

        const status = await fetch(pub.location!, { method: 'DELETE' });
        assert.equal(status.status, 200);
        assert.equal(t.media.participants(cid).length, 0);
      } finally {
        await pub.close();
      }
    });
  }
});
