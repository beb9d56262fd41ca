/**
 * The console's live preview in Debian's Chromium: a Node publisher (a red picture, a 440 Hz tone)
 * is broadcast to nginx-rtmp; on the console's call page the broadcast card's play button
 * subscribes over WHEP to the broadcast's picture and sound (the group's High-profile H.264 under
 * the Constrained Baseline id Chromium offers, and Opus); the video element plays (its currentTime
 * advances), a pixel drawn from it is the participant's colour, and its sound track receives
 * audio energy. Stop ends the subscription; stopping the broadcast takes the player away.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { launchChromium, type ChromiumSession } from '../support/chromium.js';
import { TestPublisher } from '../support/publisher.js';
import { startNginxIngest, type NginxIngest } from '../support/rtmp-ingest.js';
import { waitFor } from '../support/wait.js';
import { screenshotPath, startWebHarness, type WebHarness } from './harness.js';

const CALL_TYPE = 'default';
const CALL_ID = 'preview-studio';
const CID = `${CALL_TYPE}:${CALL_ID}`;
const NAME = 'main';

interface VideoState {
  currentTime: number;
  width: number;
  height: number;
  centre: [number, number, number];
  audioTracks: number;
  state: string | undefined;
}

async function videoState(page: Page): Promise<VideoState | null> {
  return page.evaluate(() => {
    const d = (globalThis as any).document;
    const v = d.querySelector('video.live-preview');
    if (!v || v.videoWidth === 0) return null;
    const c = d.createElement('canvas');
    c.width = v.videoWidth;
    c.height = v.videoHeight;
    const ctx = c.getContext('2d');
    ctx.drawImage(v, 0, 0);
    const px = ctx.getImageData(Math.floor(c.width / 2), Math.floor(c.height / 2), 1, 1).data;
    return {
      currentTime: v.currentTime,
      width: v.videoWidth,
      height: v.videoHeight,
      centre: [px[0], px[1], px[2]] as [number, number, number],
      audioTracks: v.srcObject ? v.srcObject.getAudioTracks().length : 0,
      state: v.dataset.state,
    };
  });
}

describe('console: live WebRTC preview of a broadcast', { timeout: 280_000 }, () => {
  let h: WebHarness;
  let ingest: NginxIngest;
  let browser: ChromiumSession;
  let publisher: TestPublisher | undefined;

  before(async () => {
    h = await startWebHarness();
    ingest = await startNginxIngest();
    browser = await launchChromium({ loopbackIce: true });
    await h.client.upsertUsers([{ id: 'ada', name: 'Ada', role: 'user' }]);
    const call = h.client.video.call(CALL_TYPE, CALL_ID);
    const created = await call.getOrCreate({ data: { created_by_id: 'ada', members: [{ user_id: 'ada' }] } });
    publisher = await TestPublisher.start({
      url: created.call.ingress.whip.address,
      token: h.client.generateUserToken({ user_id: 'ada', validity_in_seconds: 900 }),
      color: 'red',
      toneHz: 440,
    });
    await waitFor(() => h.server.media.sessionParticipants(CID).some((p) => p.published_tracks.length === 2), 'ada publishes', 30_000);
    await call.startRTMPBroadcasts({
      broadcasts: [{ name: NAME, stream_url: ingest.url(), stream_key: 'preview-studio', quality: '360p' }],
    });
    await waitFor(() => (h.server.engine.stats(CID).find((s) => s.name === NAME)?.videoFramesSent ?? 0) > 30, 'broadcast live', 60_000);
  });
  after(async () => {
    await browser?.close();
    await publisher?.close();
    await h?.close();
    await ingest?.stop();
  });

  test('the play button plays the composed picture with sound; stop and the broadcast ending take it away', async (t) => {
    const page = await browser.newPage();
    await page.goto(`${h.url}/console/calls/${CALL_TYPE}/${CALL_ID}#token=${h.operatorToken}`);
    const card = page.getByRole('article', { name: `Broadcast ${NAME}` });
    await card
      .locator('dd[data-field="status"]')
      .filter({ hasText: /^live$/ })
      .waitFor({ timeout: 60_000 });
    const clickedAt = Date.now();
    await card.getByRole('button', { name: `Play live preview of broadcast ${NAME}` }).click();

    let first: VideoState | null = null;
    await waitFor(
      async () => {
        first = await videoState(page);
        return first !== null && first.currentTime > 0;
      },
      'the live video to play',
      60_000,
      200,
    );
    const playingAfter = Date.now() - clickedAt;
    let later: VideoState | null = null;
    await waitFor(
      async () => {
        later = await videoState(page);
        return later !== null && later.currentTime > first!.currentTime + 1;
      },
      'currentTime to advance',
      30_000,
      200,
    );
    let red: VideoState | null = null;
    await waitFor(
      async () => {
        red = await videoState(page);
        const c = red?.centre;
        return c !== undefined && c[0] > 180 && c[1] < 80 && c[2] < 80;
      },
      "the participant's colour in the picture",
      30_000,
      200,
    ).catch((err: Error) => {
      throw new Error(`${err.message}: last state ${JSON.stringify(red)}`);
    });
    // The sound: the receiver of the audio track gets energy (the mixed 440 Hz tone).
    const energy = await page.evaluate(async () => {
      const v = (globalThis as any).document.querySelector('video.live-preview');
      const stream = v.srcObject;
      const track = stream.getAudioTracks()[0];
      return { live: track?.readyState, muted: track?.muted, paused: v.paused, volume: v.volume, mutedElement: v.muted };
    });
    const info = h.server.broadcastPreviews.list(CID);
    t.diagnostic(
      `playing ${playingAfter} ms after the click (server waited ${info[0]?.keyframeWaitMs} ms for the next keyframe); ` +
        `video ${later!.width}x${later!.height}, currentTime ${first!.currentTime.toFixed(2)} -> ${later!.currentTime.toFixed(2)}, ` +
        `centre ${JSON.stringify(red!.centre)}; audio ${JSON.stringify(energy)}; legs ${JSON.stringify(info[0]?.legs)}`,
    );
    assert.deepEqual([later!.width, later!.height], [640, 360]);
    assert.equal(later!.audioTracks, 1);
    assert.equal(energy.live, 'live');
    assert.equal(energy.mutedElement, false, 'the preview plays its sound');
    assert.equal(info.length, 1);
    const audioLeg = info[0]!.legs.find((l) => l.kind === 'audio');
    assert.ok(audioLeg && audioLeg.codec.toLowerCase() === 'opus' && audioLeg.sent > 0, 'Opus is sent');
    // (A string, so the test's compiler adds no helpers to the page's code.)
    const audioReceived = (await page.evaluate(`new Promise((resolve) => {
      const v = document.querySelector('video.live-preview');
      const ctx = new AudioContext();
      const analyser = ctx.createAnalyser();
      analyser.fftSize = 2048;
      ctx.createMediaStreamSource(v.srcObject).connect(analyser);
      const data = new Float32Array(analyser.fftSize);
      let peak = 0;
      const until = Date.now() + 1500;
      function tick() {
        analyser.getFloatTimeDomainData(data);
        for (const x of data) peak = Math.max(peak, Math.abs(x));
        if (Date.now() < until) setTimeout(tick, 50);
        else ctx.close().then(() => resolve(peak));
      }
      ctx.resume().then(tick);
    })`)) as number;
    t.diagnostic(`audio peak in the page: ${audioReceived.toFixed(3)}`);
    assert.ok(audioReceived > 0.01, `the preview's sound reaches the page (peak ${audioReceived})`);
    await page.screenshot({ path: screenshotPath('console-live-preview'), fullPage: true });
    // The picture-a-second image steps aside while the live video plays.
    assert.equal(await card.getByRole('img', { name: `Preview of broadcast ${NAME}` }).isVisible(), false);

    await card.getByRole('button', { name: `Stop live preview of broadcast ${NAME}` }).click();
    await waitFor(() => h.server.broadcastPreviews.list(CID).length === 0, 'the subscription deleted', 10_000);

    // Again, then the broadcast stops: the server ends the subscription and the player goes.
    await card.getByRole('button', { name: `Play live preview of broadcast ${NAME}` }).click();
    await waitFor(async () => ((await videoState(page))?.currentTime ?? 0) > 0, 'the live video to play again', 60_000, 200);
    await h.client.video.call(CALL_TYPE, CALL_ID).stopRTMPBroadcast({ name: NAME });
    await waitFor(() => h.server.broadcastPreviews.list(CID).length === 0, 'the subscription closed by the server', 15_000);
    await waitFor(
      async () => !(await card.locator('video.live-preview').isVisible()),
      'the player hidden once the broadcast stopped',
      20_000,
      200,
    );
    assert.deepEqual(
      browser.errorsOf(page).filter((e) => !/favicon/.test(e)),
      [],
    );
  });
});
