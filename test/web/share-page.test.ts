/**
 * Screen sharing from the join page, in Debian's Chromium: Ada (red camera) and Grace (blue
 * camera) join; a spotlight broadcast runs to nginx-rtmp; Ada presses "Share screen" (Chromium's
 * fake screen capture, a green test pattern, picked without a prompt under
 * `--use-fake-ui-for-media-stream`). Grace's page shows the share large and playing (frames
 * advance, green pixels); the broadcast shows it in the spotlight's big tile with Ada's camera
 * first in the bar (a frame pulled live from the ingest, boxes from composeScene); pressing the
 * button again stops the share on the page and in the broadcast.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import type { LayoutParticipant } from '../../src/layout/participants.js';
import { composeScene } from '../../src/layout/scene.js';
import type { LayoutSettings } from '../../src/layout/settings.js';
import { launchChromium, writeFakeCamera, type ChromiumSession } from '../support/chromium.js';
import { grabLiveFrameRgb, pixelAt } from '../support/ffprobe.js';
import { startNginxIngest, type NginxIngest } from '../support/rtmp-ingest.js';
import { screenshotPath, startWebHarness, type WebHarness } from './harness.js';

const CALL_TYPE = 'default';
const CALL_ID = 'share-page';
const CID = `${CALL_TYPE}:${CALL_ID}`;
const STREAM_KEY = 'share-page-key';
type Rgb = [number, number, number];

interface Person {
  name: string;
  colour: Rgb;
  ffmpegColour: string;
  browser?: ChromiumSession;
  page?: Page;
  userId?: string;
}

const ada: Person = { name: 'Ada Lovelace', colour: [220, 40, 40], ffmpegColour: '0xdc2828' };
const grace: Person = { name: 'Grace Hopper', colour: [40, 80, 220], ffmpegColour: '0x2850dc' };
const LAYOUT: LayoutSettings = {
  name: 'spotlight',
  external_app_url: '',
  external_css_url: '',
  options: { 'participant_label.display': false, 'layout.background_color': '#202020' },
};

const green = (px: ArrayLike<number>) => (px[1] ?? 0) > (px[0] ?? 0) + 60 && (px[1] ?? 0) > (px[2] ?? 0) + 60;
function near(actual: ArrayLike<number>, expected: Rgb, tolerance = 45): boolean {
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

/**
 * The share tile of `presenter` on `page`: its video state, decoded frames, size, and how many of
 * nine points spread over the picture are green (the fake capture's background).
 */
async function shareTileOf(page: Page, presenter: Person): Promise<{ video: string; frames: number; width: number; greenPoints: number }> {
  return page.evaluate((userId) => {
    // biome-ignore lint/suspicious/noExplicitAny: the page's browser globals, inside page.evaluate
    const g = globalThis as any;
    const tile = g.document.querySelector(`#share-stage .share-tile[data-user-id="${userId}"]`);
    if (!tile) return { video: 'missing', frames: 0, width: 0, greenPoints: 0 };
    const v = tile.querySelector('video');
    let greenPoints = 0;
    if (v && v.videoWidth > 0) {
      const c = g.document.createElement('canvas');
      c.width = v.videoWidth;
      c.height = v.videoHeight;
      const ctx = c.getContext('2d');
      ctx.drawImage(v, 0, 0);
      for (const fx of [0.2, 0.5, 0.8]) {
        for (const fy of [0.2, 0.5, 0.8]) {
          const [r, gr, b] = ctx.getImageData(Math.floor(v.videoWidth * fx), Math.floor(v.videoHeight * fy), 1, 1).data;
          if (gr > r + 60 && gr > b + 60) greenPoints++;
        }
      }
    }
    return { video: String(tile.dataset.video), frames: Number(tile.dataset.frames ?? 0), width: v?.videoWidth ?? 0, greenPoints };
  }, presenter.userId!);
}

/** One frame of the broadcast pulled live from the ingest, as RGB at 640x360. */
function liveFrame(ingest: NginxIngest): Promise<Buffer> {
  return grabLiveFrameRgb(`${ingest.url('live')}/${STREAM_KEY}`, 640, 360);
}

describe('screen sharing from the join page (Chromium)', { timeout: 240_000 }, () => {
  let h: WebHarness;
  let ingest: NginxIngest;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'callcast-share-page-'));
    for (const p of [ada, grace]) {
      const file = join(dir, `${p.name.split(' ')[0]!.toLowerCase()}.y4m`);
      await writeFakeCamera(file, p.ffmpegColour);
      p.browser = await launchChromium({ fakeVideoFile: file });
    }
    [h, ingest] = await Promise.all([startWebHarness(), startNginxIngest()]);
    await h.client.video.call(CALL_TYPE, CALL_ID).getOrCreate({ data: { created_by_id: 'operator' } });
  });

  after(async () => {
    for (const p of [ada, grace]) await p.browser?.close();
    await h?.close();
    await ingest?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('a shared screen plays on the other page and fills the broadcast spotlight; the button stops it', async () => {
    for (const p of [ada, grace]) {
      const page = await p.browser!.newPage();
      p.page = page;
      await page.goto(`${h.url}/join/${CALL_TYPE}/${CALL_ID}`);
      assert.equal(await page.getByRole('button', { name: 'Share screen' }).isDisabled(), true, 'no sharing before joining');
      await page.getByLabel('Display name').fill(p.name);
      await page.getByRole('button', { name: 'Join' }).click();
      await page
        .getByRole('status')
        .filter({ hasText: `Joined as ${p.name}` })
        .waitFor();
    }
    await poll(
      async () => h.server.media.participants(CID).filter((p) => p.videoSize).length,
      (n) => n === 2,
      'both cameras decoded',
      45_000,
    );
    for (const p of [ada, grace]) p.userId = h.server.media.participants(CID).find((x) => x.name === p.name)?.userId;
    await h.client.video.call(CALL_TYPE, CALL_ID).startRTMPBroadcasts({
      broadcasts: [{ name: 'main', stream_url: ingest.url('live'), stream_key: STREAM_KEY, quality: '360p', layout: LAYOUT }],
    });

    const adaPage = ada.page!;
    const gracePage = grace.page!;
    const shareButton = adaPage.getByRole('button', { name: 'Share screen' });
    await shareButton.click();
    const started = Date.now();
    await adaPage.getByText('You are sharing your screen.').waitFor();
    assert.equal(await adaPage.getByRole('button', { name: 'Stop sharing' }).getAttribute('aria-pressed'), 'true');

    // Grace's page: the share, large and playing.
    const first = await poll(
      () => shareTileOf(gracePage, ada),
      (t) => t.video === 'playing' && t.greenPoints >= 5,
      "Ada's screen on Grace's page",
      45_000,
    );
    console.log(
      `# Grace sees Ada's screen ${Date.now() - started} ms after the click: ${first.width} px wide, ${first.greenPoints}/9 green points`,
    );
    const later = await poll(
      () => shareTileOf(gracePage, ada),
      (t) => t.frames > first.frames + 10,
      'the share to keep playing',
    );
    console.log(`# share frames decoded on Grace's page: ${first.frames} -> ${later.frames}`);
    // Under load a camera connection can fail and be published again (with backoff): wait for it.
    const gridTile = gracePage.locator(`#call-grid .tile[data-user-id="${ada.userId}"]`);
    const [stageBox, gridBox] = await poll(
      () => Promise.all([gracePage.locator('#share-stage .share-tile').first().boundingBox(), gridTile.boundingBox()]),
      ([a, b]) => a !== null && b !== null,
      "the share and Ada's camera tile both on Grace's page",
      45_000,
    );
    assert.ok(stageBox && gridBox, "the share and Ada's camera tile are both shown");
    assert.ok(stageBox.width > gridBox.width, `the share is shown larger (${stageBox.width} px) than a camera (${gridBox.width} px)`);
    // Ada does not see her own share on the stage.
    assert.equal(await adaPage.locator('#share-stage .share-tile').count(), 0);

    // The broadcast: the share in the spotlight big tile, Ada's camera first in the bar, then Grace.
    const centre = (r: { x: number; y: number; width: number; height: number }): [number, number] => [
      Math.round(r.x + r.width / 2),
      Math.round(Math.max(0, r.y) + (Math.min(360, r.y + r.height) - Math.max(0, r.y)) / 2),
    ];
    const expected = () => {
      const participants = h.server.media.participants(CID) as LayoutParticipant[];
      const adaCam = participants.find((p) => p.userId === ada.userId && !p.shareOnly);
      const graceCam = participants.find((p) => p.userId === grace.userId);
      const shareSession = participants.find((p) => p.userId === ada.userId)?.screenShare?.sessionId;
      if (!adaCam || !graceCam || !shareSession || !adaCam.videoSize || !graceCam.videoSize) return null;
      const scene = composeScene({ canvas: { width: 640, height: 360 }, participants, layout: LAYOUT, nowMs: Date.now() });
      assert.equal(scene.screenShare, true);
      const tiles = scene.items.flatMap((i) => (i.kind === 'tile' ? [i] : []));
      assert.deepEqual(
        tiles.map((t) => t.sessionId),
        [shareSession, adaCam.sessionId, graceCam.sessionId],
        'the share big, the presenter first in the bar, then Grace',
      );
      return [
        { what: 'the share in the big tile', at: centre(tiles[0]!.rect), ok: green },
        { what: "Ada's camera first in the bar", at: centre(tiles[1]!.rect), ok: (px: Rgb) => near(px, ada.colour) },
        { what: "Grace's camera second", at: centre(tiles[2]!.rect), ok: (px: Rgb) => near(px, grace.colour) },
      ];
    };
    let lastPixels: string[] = [];
    let bigTileAt: [number, number] = [320, 90];
    await poll(
      async () => {
        const expectations = expected();
        if (!expectations) {
          lastPixels = ['both cameras and the share are not all in the media plane'];
          return false;
        }
        bigTileAt = expectations[0]!.at;
        const frame = await liveFrame(ingest).catch(() => Buffer.alloc(640 * 360 * 3));
        lastPixels = expectations.map((e) => `${e.what} at ${e.at.join(',')}: ${pixelAt(frame, 640, e.at[0], e.at[1]).join(',')}`);
        return expectations.every((e) => e.ok(pixelAt(frame, 640, e.at[0], e.at[1]) as Rgb));
      },
      Boolean,
      'the share view in the broadcast',
      90_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${lastPixels.join('; ')}`);
    });
    for (const line of lastPixels) console.log(`# broadcast during the share, ${line}`);
    await gracePage.screenshot({ path: screenshotPath('30-share-page-viewer'), fullPage: true });
    await adaPage.screenshot({ path: screenshotPath('31-share-page-presenter'), fullPage: true });

    // Pressing the button again ends the share: the stage empties and the broadcast is back to
    // the normal spotlight view (no green big tile).
    await adaPage.getByRole('button', { name: 'Stop sharing' }).click();
    const stopped = Date.now();
    await adaPage.getByRole('button', { name: 'Share screen' }).waitFor();
    await gracePage.locator('#share-stage .share-tile').waitFor({ state: 'detached' });
    await poll(
      async () => h.server.media.participants(CID).some((p) => p.screenShare),
      (sharing) => !sharing,
      'the share gone from the media plane',
    );
    console.log(`# share gone from Grace's page and the media plane ${Date.now() - stopped} ms after the second click`);
    const [bx, by] = bigTileAt;
    await poll(
      async () => pixelAt(await liveFrame(ingest).catch(() => Buffer.alloc(640 * 360 * 3)), 640, bx, by) as Rgb,
      (px) => !green(px) && px.some((c) => c > 0),
      'the broadcast without the share',
      30_000,
    );
    for (const p of [ada, grace]) assert.deepEqual(p.browser!.errorsOf(p.page!), [], `console errors on ${p.name}'s page`);
    await h.client.video.call(CALL_TYPE, CALL_ID).stopAllRTMPBroadcasts();
  });
});
