/**
 * The join page as a call page, in Debian's Chromium: two browsers, each with a fake camera of its
 * own solid colour and a fake microphone of its own tone, join the same call. Each page shows the
 * other's video playing (frames decoded, a pixel of the other's colour) and hears the other's
 * sound (WebAudio analyser on the received stream); turning a camera off shows the placeholder on
 * the other page and in the broadcast (a frame pulled live from the ingest); turning it on brings
 * the picture back.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { composeScene } from '../../src/layout/scene.js';
import { launchChromium, writeFakeCamera, writeFakeMicrophone, type ChromiumSession } from '../support/chromium.js';
import { grabLiveFrameRgb, pixelAt } from '../support/ffprobe.js';
import { startNginxIngest, type NginxIngest } from '../support/rtmp-ingest.js';
import { screenshotPath, startWebHarness, type WebHarness } from './harness.js';

const CALL_TYPE = 'default';
const CALL_ID = 'call-page';
const CID = `${CALL_TYPE}:${CALL_ID}`;
const STREAM_KEY = 'call-page-key';
const PLACEHOLDER: [number, number, number] = [0x19, 0x23, 0x2d];

interface Person {
  name: string;
  colour: [number, number, number];
  ffmpegColour: string;
  tone: number;
  browser?: ChromiumSession;
  page?: Page;
  userId?: string;
}

const people: Person[] = [
  { name: 'Ada Lovelace', colour: [220, 40, 40], ffmpegColour: '0xdc2828', tone: 440 },
  { name: 'Grace Hopper', colour: [40, 80, 220], ffmpegColour: '0x2850dc', tone: 660 },
];

function near(actual: ArrayLike<number>, expected: [number, number, number], tolerance = 40): boolean {
  return expected.every((c, i) => Math.abs((actual[i] ?? -999) - c) <= tolerance);
}

async function poll<T>(fn: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 30_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(v)})`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** The tile of `other` on `page`: its video state, decoded frames and the centre pixel. */
async function tileOf(page: Page, other: Person): Promise<{ video: string; frames: number; pixel: number[]; width: number }> {
  return page.evaluate((userId) => {
    // biome-ignore lint/suspicious/noExplicitAny: the page's browser globals, inside page.evaluate
    const g = globalThis as any;
    const tile = g.document.querySelector(`.tile[data-user-id="${userId}"]`);
    if (!tile) return { video: 'missing', frames: 0, pixel: [], width: 0 };
    const v = tile.querySelector('video');
    let pixel: number[] = [];
    if (v && v.videoWidth > 0) {
      const c = g.document.createElement('canvas');
      c.width = v.videoWidth;
      c.height = v.videoHeight;
      const ctx = c.getContext('2d');
      ctx.drawImage(v, 0, 0);
      pixel = Array.from(ctx.getImageData(Math.floor(v.videoWidth / 2), Math.floor(v.videoHeight / 2), 1, 1).data);
    }
    const placeholder = tile.querySelector('.tile-placeholder');
    const shown = placeholder ? g.getComputedStyle(placeholder).display !== 'none' : false;
    return {
      video: `${tile.dataset.video}${shown ? '+placeholder' : ''}`,
      frames: Number(tile.dataset.frames ?? 0),
      pixel,
      width: v?.videoWidth ?? 0,
    };
  }, other.userId!);
}

/**
 * The peak level (dBFS) of the received sound of `other` on `page` over half a second. Silence
 * (nothing received, or Opus silence) is below -90 dBFS; the -6 dBFS tone arrives far weaker after
 * the sender's audio processing (about -46 dBFS peak measured here), so "above silence" is above
 * -70 dBFS.
 */
async function audioLevelOf(page: Page, other: Person): Promise<number> {
  return page.evaluate(async (userId) => {
    // biome-ignore lint/suspicious/noExplicitAny: the page's browser globals, inside page.evaluate
    const g = globalThis as any;
    const v = g.document.querySelector(`.tile[data-user-id="${userId}"] video`);
    const stream = v?.srcObject;
    if (!stream || stream.getAudioTracks().length === 0) return -200;
    const ctx = new g.AudioContext();
    await ctx.resume();
    const source = ctx.createMediaStreamSource(stream);
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 2048;
    source.connect(analyser);
    const buf = new Float32Array(analyser.fftSize);
    let peak = 0;
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 50));
      analyser.getFloatTimeDomainData(buf);
      for (const s of buf) peak = Math.max(peak, Math.abs(s));
    }
    await ctx.close();
    return peak > 0 ? 20 * Math.log10(peak) : -200;
  }, other.userId!);
}

/** One frame of the broadcast pulled live from the ingest, as RGB at 640x360. */
function liveFrame(ingest: NginxIngest): Promise<Buffer> {
  return grabLiveFrameRgb(`${ingest.url('live')}/${STREAM_KEY}`, 640, 360);
}

/** A point inside the broadcast tile of `person` (away from the label at the bottom). */
function broadcastPoint(h: WebHarness, person: Person): [number, number] {
  const scene = composeScene({
    canvas: { width: 640, height: 360 },
    participants: h.server.media.participants(CID),
    layout: { name: 'grid', external_app_url: '', external_css_url: '', options: {} },
    nowMs: Date.now(),
  });
  const sessionId = h.server.media.participants(CID).find((p) => p.userId === person.userId)?.sessionId;
  const tile = scene.items.find((i) => i.kind === 'placeholder' && i.sessionId === sessionId);
  assert.ok(tile && 'rect' in tile && tile.rect, `a tile for ${person.name} in the broadcast scene`);
  return [Math.round(tile.rect.x + tile.rect.width * 0.75), Math.round(tile.rect.y + tile.rect.height * 0.25)];
}

describe('the join page is a call page (Chromium)', { timeout: 240_000 }, () => {
  let h: WebHarness;
  let ingest: NginxIngest;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'callcast-call-page-'));
    for (const p of people) {
      const base = join(dir, p.name.split(' ')[0]!.toLowerCase());
      await writeFakeCamera(`${base}.y4m`, p.ffmpegColour);
      await writeFakeMicrophone(`${base}.wav`, p.tone);
    }
    [h, ingest] = await Promise.all([startWebHarness(), startNginxIngest()]);
    for (const p of people) {
      const base = join(dir, p.name.split(' ')[0]!.toLowerCase());
      p.browser = await launchChromium({ fakeAudioFile: `${base}.wav`, fakeVideoFile: `${base}.y4m` });
    }
    await h.client.video.call(CALL_TYPE, CALL_ID).getOrCreate({ data: { created_by_id: 'operator' } });
  });

  after(async () => {
    for (const p of people) await p.browser?.close();
    await h?.close();
    await ingest?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('each page plays the other participant: video frames of their colour and their sound', async () => {
    for (const p of people) {
      const page = await p.browser!.newPage();
      p.page = page;
      await page.goto(`${h.url}/join/${CALL_TYPE}/${CALL_ID}`);
      await page.getByLabel('Display name').fill(p.name);
      await page.getByRole('button', { name: 'Join' }).click();
      await page
        .getByRole('status')
        .filter({ hasText: `Joined as ${p.name}` })
        .waitFor();
    }
    await poll(
      async () => h.server.media.participants(CID).length,
      (n) => n === people.length,
      'both participants in the media plane',
    );
    for (const p of people) p.userId = h.server.media.participants(CID).find((x) => x.name === p.name)?.userId;
    for (const [me, other] of [
      [people[0]!, people[1]!],
      [people[1]!, people[0]!],
    ] as const) {
      const started = Date.now();
      const tile = await poll(
        () => tileOf(me.page!, other),
        (t) => t.video === 'playing' && t.pixel.length > 0 && near(t.pixel, other.colour),
        `${me.name} to see ${other.name}'s colour`,
        45_000,
      );
      console.log(
        `# ${me.name} sees ${other.name}: ${tile.frames} frames decoded, pixel ${tile.pixel.slice(0, 3).join(',')} (expected ${other.colour.join(',')}), ${Date.now() - started} ms after the join`,
      );
      // Her own camera is not in her grid.
      assert.equal(await me.page!.locator(`.tile[data-user-id="${me.userId}"]`).count(), 0, 'no tile of oneself');
      const level = await poll(
        () => audioLevelOf(me.page!, other),
        (db) => db > -70,
        `${me.name} to hear ${other.name}`,
        20_000,
      );
      console.log(`# ${me.name} hears ${other.name} at ${level.toFixed(1)} dBFS peak`);
      // Her own preview stays muted (no echo of her own sound).
      assert.equal(await me.page!.locator('#self-view').evaluate((v) => (v as { muted: boolean }).muted), true);
    }
    for (const p of people) await p.page!.screenshot({ path: screenshotPath(`20-call-page-${p.userId}`), fullPage: true });
    for (const p of people) assert.deepEqual(p.browser!.errorsOf(p.page!), [], `console errors on ${p.name}'s page`);
  });

  test('a camera turned off shows the placeholder on the other page and in the broadcast, and comes back', async (t) => {
    const [ada, grace] = people as [Person, Person];
    if (!ada.page || !grace.page || !ada.userId) {
      t.skip('nobody joined');
      return;
    }
    await h.client.video.call(CALL_TYPE, CALL_ID).startRTMPBroadcasts({
      broadcasts: [{ name: 'main', stream_url: ingest.url('live'), stream_key: STREAM_KEY, quality: '360p', layout: { name: 'grid' } }],
    });
    const [x, y] = broadcastPoint(h, ada);
    const broadcastPixel = async () => pixelAt(await liveFrame(ingest).catch(() => Buffer.alloc(640 * 360 * 3)), 640, x, y);
    const before = await poll(broadcastPixel, (px) => near(px, ada.colour), "Ada's colour in the broadcast", 60_000);
    console.log(`# broadcast, Ada's tile with her camera on: ${before.join(',')}`);

    await ada.page.getByLabel('Camera on').uncheck();
    const off = Date.now();
    await poll(
      () => tileOf(grace.page!, ada),
      (tile) => tile.video === 'off+placeholder',
      "Grace's page to show Ada's placeholder",
    );
    console.log(`# Grace's page shows Ada's placeholder ${Date.now() - off} ms after the camera went off`);
    const placeholder = await poll(broadcastPixel, (px) => near(px, PLACEHOLDER, 16), "Ada's placeholder in the broadcast", 30_000);
    console.log(`# broadcast shows Ada's placeholder ${Date.now() - off} ms after the camera went off: ${placeholder.join(',')}`);
    await grace.page.screenshot({ path: screenshotPath('21-call-page-camera-off'), fullPage: true });

    await ada.page.getByLabel('Camera on').check();
    const on = Date.now();
    await poll(
      () => tileOf(grace.page!, ada),
      (tile) => tile.video === 'playing' && near(tile.pixel, ada.colour),
      "Ada's video again on Grace's page",
    );
    await poll(broadcastPixel, (px) => near(px, ada.colour), "Ada's colour in the broadcast again", 30_000);
    console.log(`# Ada's picture is back on Grace's page and in the broadcast ${Date.now() - on} ms after the camera came on`);
    await grace.page.screenshot({ path: screenshotPath('22-call-page-camera-on'), fullPage: true });
    await h.client.video.call(CALL_TYPE, CALL_ID).stopAllRTMPBroadcasts();
    for (const p of people) assert.deepEqual(p.browser!.errorsOf(p.page!), [], `console errors on ${p.name}'s page`);
  });

  test('a participant who leaves disappears from the other page without a reload', async (t) => {
    const [ada, grace] = people as [Person, Person];
    if (!ada.page || !grace.page) {
      t.skip('nobody joined');
      return;
    }
    await grace.page.getByRole('button', { name: 'Leave' }).click();
    await ada.page.locator(`.tile[data-user-id="${grace.userId}"]`).waitFor({ state: 'detached' });
    await grace.page.getByRole('button', { name: 'Join' }).click();
    await grace.page.getByRole('status').filter({ hasText: 'Joined as Grace Hopper' }).waitFor();
    // A development token names a fresh user on each join.
    grace.userId = (await poll(
      async () => h.server.media.participants(CID).find((x) => x.name === grace.name)?.userId,
      (id) => id !== undefined,
      'Grace back in the call',
    ))!;
    await poll(
      () => tileOf(ada.page!, grace),
      (tile) => tile.video === 'playing' && near(tile.pixel, grace.colour),
      "Grace's video after she joined again",
    );
    await ada.page.screenshot({ path: screenshotPath('23-call-page-rejoined'), fullPage: true });
  });
});
