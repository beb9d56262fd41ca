/**
 * The join page and the console in Debian's Chromium with fake camera and microphone, against a
 * real Callcast server (real egress engine) and a real RTMP ingest (nginx-rtmp). Screenshots of
 * each step go to test-output/web/.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { mintUserToken } from '../../src/cli.js';
import { composeScene, type Scene } from '../../src/layout/scene.js';
import { rawRequest } from '../support/server.js';
import { createCanvas, loadImage } from '@napi-rs/canvas';
import { grabFrameRgb, pixelAt, probe } from '../support/ffprobe.js';
import { freePort, startNginxIngest, type NginxIngest } from '../support/rtmp-ingest.js';
import { launchChromium, type ChromiumSession } from '../support/chromium.js';
import { OUTPUT_DIR, screenshotPath, startWebHarness, type WebHarness } from './harness.js';

const execFileP = promisify(execFile);
const CALL_TYPE = 'default';
const CALL_ID = 'studio';
const STREAM_KEY = 'studio-key-5f1c';
const PHONE = { width: 390, height: 844 };
/** The layout background of the broadcast: with nobody publishing, the whole picture. */
const BACKGROUND_HEX = '#2060c0';
const BACKGROUND: [number, number, number] = [0x20, 0x60, 0xc0];

function assertColourNear(actual: ArrayLike<number>, expected: [number, number, number], what: string): void {
  const ok = expected.every((c, i) => Math.abs((actual[i] ?? -999) - c) <= 12);
  assert.ok(ok, `${what}: got rgb(${Array.from(actual).slice(0, 3).join(', ')}), expected about rgb(${expected.join(', ')})`);
}

async function bytesSent(page: Page, name: string): Promise<number> {
  const v = await page
    .getByRole('article', { name: `Broadcast ${name}` })
    .locator('dd[data-field="bytes"]')
    .getAttribute('data-value');
  return Number(v ?? 0);
}

async function poll<T>(fn: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 30_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(v)})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The grid scene the broadcasts of this test draw for the call's current participants. */
function currentScene(h: WebHarness): Scene {
  return composeScene({
    canvas: { width: 640, height: 360 },
    participants: h.server.media.participants(`${CALL_TYPE}:${CALL_ID}`),
    layout: {
      name: 'grid',
      external_app_url: '',
      external_css_url: '',
      options: { 'layout.background_color': BACKGROUND_HEX, 'title.text': 'Studio' },
    },
    nowMs: Date.now(),
  });
}

/** A point of the canvas outside every box of the scene (so it shows the background). */
function backgroundPoint(scene: Scene): [number, number] {
  const boxes = scene.items.flatMap((i) => ('rect' in i && i.rect ? [i.rect] : []));
  const candidates: Array<[number, number]> = [
    [2, 2],
    [637, 2],
    [2, 357],
    [637, 357],
    [320, 357],
    [320, 2],
    [2, 180],
    [637, 180],
  ];
  const free = candidates.find(
    ([x, y]) => !boxes.some((r) => x >= r.x - 4 && x <= r.x + r.width + 4 && y >= r.y - 4 && y <= r.y + r.height + 4),
  );
  assert.ok(free, 'a background point exists');
  return free;
}

/** Each video tile of the scene shows a fake camera (green); the rest is the chosen background. */
function assertPicture(scene: Scene, pixel: (x: number, y: number) => ArrayLike<number>, what: string): void {
  const tiles = scene.items.flatMap((i) => (i.kind === 'tile' ? [i] : []));
  for (const tile of tiles) {
    const [r, g, b] = Array.from(pixel(Math.round(tile.rect.x + tile.rect.width / 2), Math.round(tile.rect.y + tile.rect.height / 2)));
    assert.ok(g! > r! + 40 && g! > b! + 40, `${what}: the tile of ${tile.sessionId} shows the camera (green), got rgb(${r}, ${g}, ${b})`);
  }
  const [x, y] = backgroundPoint(scene);
  assertColourNear(pixel(x, y), BACKGROUND, `${what}: background at ${x},${y}`);
}

/** No horizontal scrolling: the page fits the viewport's width. */
async function assertFitsWidth(page: Page): Promise<void> {
  const { scroll, width } = (await page.evaluate(() => {
    const g = globalThis as any;
    return { scroll: g.document.documentElement.scrollWidth, width: g.innerWidth };
  })) as {
    scroll: number;
    width: number;
  };
  assert.ok(scroll <= width + 1, `page is ${scroll}px wide in a ${width}px viewport`);
}

function assertNoConsoleErrors(browser: ChromiumSession, page: Page, what: string): void {
  assert.deepEqual(browser.errorsOf(page), [], `console errors on ${what}`);
}

describe('web pages in Chromium', { timeout: 300_000 }, () => {
  let h: WebHarness;
  let ingest: NginxIngest;
  let browser: ChromiumSession;
  let consolePage: Page;
  let toneDir: string | undefined;
  const joinPages: Page[] = [];

  before(async () => {
    // A tone loud enough to count as speech (Chromium's own fake microphone only beeps quietly).
    toneDir = mkdtempSync(join(tmpdir(), 'callcast-web-tone-'));
    const tone = join(toneDir, 'tone.wav');
    await execFileP(
      'ffmpeg',
      ['-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=5', '-af', 'volume=0.5', '-ar', '48000', '-ac', '2', '-y', tone],
      { timeout: 30_000 },
    );
    [h, ingest, browser] = await Promise.all([
      // A destination that cannot connect gives up after 8 s (the default is a minute).
      startWebHarness({ retry: { giveUpAfterMs: 8_000 } }),
      startNginxIngest(),
      launchChromium({ fakeAudioFile: tone }),
    ]);
    await h.client.video.call(CALL_TYPE, CALL_ID).getOrCreate({ data: { created_by_id: 'operator' } });
  });

  after(async () => {
    await browser?.close();
    await h?.close();
    await ingest?.stop();
    if (toneDir) rmSync(toneDir, { recursive: true, force: true });
  });

  test('join page: camera preview, labelled controls, a name is required', async () => {
    const page = await browser.newPage();
    joinPages.push(page);
    await page.goto(`${h.url}/join/${CALL_TYPE}/${CALL_ID}`);
    await assert.doesNotReject(page.getByRole('heading', { name: `Join ${CALL_TYPE}:${CALL_ID}` }).waitFor());
    // The fake camera plays in the preview.
    await page.waitForFunction(() => {
      const v = (globalThis as any).document.querySelector('video');
      return v !== null && v.videoWidth > 0 && !v.paused;
    });
    assert.equal(await page.getByLabel('Camera on').isChecked(), true);
    assert.equal(await page.getByLabel('Microphone on').isChecked(), true);
    assert.equal(await page.getByRole('button', { name: 'Leave' }).isDisabled(), true);
    await page.getByRole('button', { name: 'Join' }).click();
    assert.equal(await page.getByRole('alert').textContent(), 'Enter a display name to join.');
    await page.screenshot({ path: screenshotPath('01-join-preview'), fullPage: true });
    assertNoConsoleErrors(browser, page, 'the join page');
  });

  test('console: a refused token brings back the sign-in form with the API message; signing in by hand works', async () => {
    const page = await browser.newPage();
    const forged = await mintUserToken('not-the-secret', { userId: 'operator', ttlSeconds: 600 });
    await page.goto(`${h.url}/console#token=${forged}`);
    const form = page.getByRole('form', { name: 'Sign in' });
    await form.getByRole('alert').filter({ hasText: 'token signature is invalid' }).waitFor();
    await page.getByLabel('Access token').fill('not a token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await form.getByRole('alert').filter({ hasText: 'That is not a token' }).waitFor();
    await page.getByLabel('Access token').fill(h.operatorToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: `${CALL_TYPE}:${CALL_ID}` }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await form.waitFor();
    // The refused requests themselves are logged by Chromium as 401s; nothing else.
    const errors = browser.errorsOf(page).splice(0);
    assert.ok(
      errors.every((e) => /status of 401/.test(e)),
      errors.join('\n'),
    );
    await page.close();
  });

  test('console: sign in from the development link, list calls, open a call', async () => {
    consolePage = await browser.newPage();
    const page = consolePage;
    await page.goto(`${h.url}/console#token=${h.operatorToken}`);
    // The token leaves the address bar once read.
    await page.waitForFunction(() => (globalThis as any).location.hash === '');
    const link = page.getByRole('link', { name: `${CALL_TYPE}:${CALL_ID}` });
    await link.waitFor();
    await page.getByText('Live updates on').waitFor();
    await page.screenshot({ path: screenshotPath('02-console-calls'), fullPage: true });
    await link.click();
    await page.getByRole('heading', { name: `Call ${CALL_TYPE}:${CALL_ID}` }).waitFor();
    const settings = page.getByRole('definition').filter({ hasText: '720p' });
    await settings.first().waitFor();
    assert.equal(await page.getByRole('button', { name: 'Stop all broadcasts' }).isDisabled(), true);
    await page.screenshot({ path: screenshotPath('03-console-call'), fullPage: true });
    assertNoConsoleErrors(browser, page, 'the console');
  });

  test('join page: two participants join and see each other', async (t) => {
    const [first] = joinPages;
    assert.ok(first);
    const second = await browser.newPage();
    joinPages.push(second);
    await second.goto(`${h.url}/join/${CALL_TYPE}/${CALL_ID}`);
    for (const [page, name] of [
      [first, 'Ada Lovelace'],
      [second, 'Grace Hopper'],
    ] as const) {
      await page.getByLabel('Display name').fill(name);
      await page.getByRole('button', { name: 'Join' }).click();
      await page
        .getByRole('status')
        .filter({ hasText: `Joined as ${name}` })
        .waitFor();
    }
    // The first sees the second arrive (call.session_participant_joined).
    const firstList = first.getByRole('list', { name: 'In the call' });
    await firstList.getByText('Ada Lovelace').waitFor();
    await firstList.getByText('Grace Hopper').waitFor();
    const secondList = second.getByRole('list', { name: 'In the call' });
    await secondList.getByText('Grace Hopper').waitFor();
    // The second learns who was there before from the call's session participants.
    const state = (await h.client.video.call(CALL_TYPE, CALL_ID).get()) as { call: { session?: { participants?: unknown[] } } };
    if (Array.isArray(state.call.session?.participants)) await secondList.getByText('Ada Lovelace').waitFor();
    else t.diagnostic('the call response carries no session.participants yet: the later joiner cannot list earlier ones');
    // The console, open on the call, lists them live.
    const consoleList = consolePage.getByRole('list', { name: 'Participants' });
    await consoleList.getByText('Ada Lovelace').waitFor();
    await consoleList.getByText('Grace Hopper').waitFor();
    // Both microphones play a tone: the media plane names one dominant speaker
    // (call.dominant_speaker_changed) and every page shows it.
    for (const list of [consoleList, firstList, secondList]) await list.getByText('dominant speaker', { exact: true }).waitFor();
    assert.equal(await consoleList.getByText('dominant speaker', { exact: true }).count(), 1);
    await first.screenshot({ path: screenshotPath('04-join-two-participants'), fullPage: true });
    await consolePage.screenshot({ path: screenshotPath('05-console-participants'), fullPage: true });
    assertNoConsoleErrors(browser, consolePage, 'the console with participants');
    for (const page of joinPages) assertNoConsoleErrors(browser, page, 'a joined page');
  });

  test('console: start a broadcast to the ingest; it goes live with rising bytes and a preview', async () => {
    const page = consolePage;
    await page.getByLabel('Broadcast name').fill('main');
    await page.getByLabel('Stream URL').fill(ingest.url('live'));
    const key = page.getByLabel('Stream key', { exact: true });
    await key.fill(STREAM_KEY);
    assert.equal(await key.getAttribute('type'), 'password', 'the stream key is hidden by default');
    await page.getByLabel('Show stream key').check();
    assert.equal(await key.getAttribute('type'), 'text');
    await page.getByLabel('Show stream key').uncheck();
    await page.getByLabel('Quality').selectOption('360p');
    await page.getByLabel('Layout', { exact: true }).selectOption('grid');
    await page.getByLabel('Title text').fill('Studio');
    await page.getByLabel('Background colour').fill(BACKGROUND_HEX);
    await page.getByRole('button', { name: 'Start broadcast' }).click();

    const card = page.getByRole('article', { name: 'Broadcast main' });
    await card.waitFor();
    await card
      .locator('dd[data-field="status"]')
      .filter({ hasText: /^live$/ })
      .waitFor({ timeout: 60_000 });
    const first = await poll(
      () => bytesSent(page, 'main'),
      (b) => b > 0,
      'bytes sent',
    );
    await poll(
      () => bytesSent(page, 'main'),
      (b) => b > first,
      'a rising byte count',
    );
    await card.getByRole('img', { name: 'Preview of broadcast main' }).waitFor();
    await page.waitForFunction(() => {
      const img = (globalThis as any).document.querySelector('img[alt="Preview of broadcast main"]');
      return img !== null && img.complete && img.naturalWidth > 0;
    });
    // The preview is the composed picture: the participants' cameras on the chosen background
    // (once their decoders deliver: until then the tiles show placeholders).
    const fetchPreview = async () => {
      const res = await fetch(`${h.url}/video/call/${CALL_TYPE}/${CALL_ID}/rtmp_broadcasts/main/preview.jpg?api_key=${h.apiKey}`, {
        headers: { Authorization: h.operatorToken, 'stream-auth-type': 'jwt' },
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'image/jpeg');
      const bytes = Buffer.from(await res.arrayBuffer());
      const img = await loadImage(bytes);
      assert.deepEqual([img.width, img.height], [640, 360]);
      const canvas = createCanvas(img.width, img.height);
      canvas.getContext('2d').drawImage(img, 0, 0);
      return { bytes, pixel: (x: number, y: number) => canvas.getContext('2d').getImageData(x, y, 1, 1).data };
    };
    const scene = currentScene(h);
    assert.equal(scene.items.filter((i) => i.kind === 'tile').length, joinPages.length > 1 ? 2 : 0);
    let lastError: unknown = null;
    const preview = await poll(
      async () => {
        const p = await fetchPreview();
        try {
          assertPicture(scene, p.pixel, 'preview');
          return p;
        } catch (err) {
          lastError = err;
          return null;
        }
      },
      (p) => p !== null,
      'the preview to show the cameras',
      45_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${String(lastError)}`);
    });
    writeFileSync(join(OUTPUT_DIR, '07-preview.jpg'), preview!.bytes);
    // Without credentials the preview is refused.
    const anonymous = await fetch(`${h.url}/video/call/${CALL_TYPE}/${CALL_ID}/rtmp_broadcasts/main/preview.jpg?api_key=${h.apiKey}`);
    assert.equal(anonymous.status, 401);
    // A joined participant sees the live composed picture too.
    if (joinPages.length > 1) {
      await joinPages[0]!.getByRole('img', { name: 'Live preview of the broadcast' }).waitFor();
      await joinPages[0]!.screenshot({ path: screenshotPath('06-join-broadcast-preview'), fullPage: true });
      assertNoConsoleErrors(browser, joinPages[0]!, 'the join page during the broadcast');
    }
    // The stream key never shows on the page.
    assert.equal((await page.content()).includes(STREAM_KEY), false);
    assert.ok(h.server.engine.encoderCount() >= 1);
    await page.screenshot({ path: screenshotPath('07-console-live'), fullPage: true });
    assertNoConsoleErrors(browser, page, 'the console while live');
  });

  test('console: an error from the API is shown as the API words it', async () => {
    const page = consolePage;
    await page.getByLabel('Broadcast name').fill('main');
    await page.getByLabel('Stream URL').fill(ingest.url('live'));
    await page.getByRole('button', { name: 'Start broadcast' }).click();
    const direct = await rawRequest(h, 'POST', `/video/call/${CALL_TYPE}/${CALL_ID}/rtmp_broadcasts`, {
      token: h.operatorToken,
      body: { broadcasts: [{ name: 'main', stream_url: ingest.url('live') }] },
    });
    assert.ok(direct.status >= 400, `a second broadcast named "main" is refused (got ${direct.status})`);
    const alert = page.getByRole('form', { name: 'Start a broadcast' }).getByRole('alert');
    await alert.filter({ hasText: direct.body.message }).waitFor();
    assert.equal(await alert.textContent(), direct.body.message);
    await page.screenshot({ path: screenshotPath('08-console-api-error'), fullPage: true });
    // Chromium reports the refused request itself as a console error; nothing else is expected.
    const errors = browser.errorsOf(page).splice(0);
    assert.ok(
      errors.every((e) => /status of 4\d\d/.test(e)),
      errors.join('\n'),
    );
  });

  test('console: a restarted ingest shows as a reconnect, then live again', async () => {
    const page = consolePage;
    const card = page.getByRole('article', { name: 'Broadcast main' });
    await ingest.restart();
    await card.locator('dd[data-field="reconnects"]').filter({ hasNotText: /^0$/ }).waitFor({ timeout: 60_000 });
    await card
      .locator('dd[data-field="status"]')
      .filter({ hasText: /^live$/ })
      .waitFor({ timeout: 60_000 });
    const before = await bytesSent(page, 'main');
    await poll(
      () => bytesSent(page, 'main'),
      (b) => b > before,
      'bytes rising after the reconnect',
    );
    await page.screenshot({ path: screenshotPath('09-console-reconnected'), fullPage: true });
    assertNoConsoleErrors(browser, page, 'the console after a reconnect');
  });

  test('console: a destination that never connects is shown failed with its last error', async () => {
    const page = consolePage;
    const closedPort = await freePort();
    await page.getByLabel('Broadcast name').fill('unreachable');
    await page.getByLabel('Stream URL').fill(`rtmp://127.0.0.1:${closedPort}/live`);
    await page.getByLabel('Stream key', { exact: true }).fill('k');
    await page.getByRole('button', { name: 'Start broadcast' }).click();
    const card = page.getByRole('article', { name: 'Broadcast unreachable' });
    await card.waitFor();
    await card
      .locator('dd[data-field="status"]')
      .filter({ hasText: /^failed$/ })
      .waitFor({ timeout: 60_000 });
    const lastError = await card.locator('dd[data-field="last-error"]').textContent();
    assert.notEqual(lastError, 'none', 'the last error is shown');
    assert.equal(await card.getByRole('button', { name: 'Stop broadcast unreachable' }).isVisible(), false);
    await page.screenshot({ path: screenshotPath('10-console-failed'), fullPage: true });
    await card.getByRole('button', { name: 'Dismiss broadcast unreachable' }).click();
    assert.equal(await card.count(), 0);
    // Requests for the broadcast racing its removal answer 404, which Chromium logs; nothing else.
    const errors = browser.errorsOf(page).splice(0);
    assert.ok(
      errors.every((e) => /status of 404/.test(e) && /unreachable/.test(e)),
      errors.join('\n'),
    );
  });

  test('pages at a phone-sized viewport', async () => {
    const phone = await browser.newPage(PHONE);
    // A deep link with the development token (a new tab has no signed-in session).
    await phone.goto(`${h.url}/console/calls/${CALL_TYPE}/${CALL_ID}#token=${h.operatorToken}`);
    await phone.getByRole('heading', { name: `Call ${CALL_TYPE}:${CALL_ID}` }).waitFor();
    await phone.getByRole('article', { name: 'Broadcast main' }).locator('dd[data-field="status"]').filter({ hasText: 'live' }).waitFor();
    await assertFitsWidth(phone);
    assert.ok(await phone.getByRole('button', { name: 'Stop broadcast main' }).isVisible());
    await phone.screenshot({ path: screenshotPath('11-phone-console'), fullPage: true });
    await phone.goto(`${h.url}/join/${CALL_TYPE}/${CALL_ID}`);
    await phone.getByLabel('Display name').waitFor();
    await assertFitsWidth(phone);
    assert.ok(await phone.getByRole('button', { name: 'Join' }).isVisible());
    await phone.screenshot({ path: screenshotPath('12-phone-join'), fullPage: true });
    assertNoConsoleErrors(browser, phone, 'the phone-sized pages');
    await phone.close();
  });

  test('console: a second broadcast joins; stop one, then stop all; the ingest holds the recording', async () => {
    const page = consolePage;
    await page.getByLabel('Broadcast name').fill('backup');
    await page.getByLabel('Stream URL').fill(ingest.url('live'));
    await page.getByLabel('Stream key', { exact: true }).fill(`${STREAM_KEY}-backup`);
    await page.getByLabel('Quality').selectOption('360p');
    await page.getByLabel('Layout', { exact: true }).selectOption('grid');
    await page.getByRole('button', { name: 'Start broadcast' }).click();
    const backup = page.getByRole('article', { name: 'Broadcast backup' });
    await backup
      .locator('dd[data-field="status"]')
      .filter({ hasText: /^live$/ })
      .waitFor({ timeout: 60_000 });
    assertNoConsoleErrors(browser, page, 'the console with two broadcasts');

    await page.getByRole('button', { name: 'Stop broadcast main' }).click();
    const main = page.getByRole('article', { name: 'Broadcast main' });
    await main
      .locator('dd[data-field="status"]')
      .filter({ hasText: /^stopped$/ })
      .waitFor();
    const before = await bytesSent(page, 'backup');
    await poll(
      () => bytesSent(page, 'backup'),
      (b) => b > before,
      'the other broadcast still sending',
    );
    assert.equal(await backup.locator('dd[data-field="status"]').textContent(), 'live');
    await page.screenshot({ path: screenshotPath('13-console-one-stopped'), fullPage: true });

    await page.getByRole('button', { name: 'Stop all broadcasts' }).click();
    await backup
      .locator('dd[data-field="status"]')
      .filter({ hasText: /^stopped$/ })
      .waitFor();
    assert.equal(await page.getByRole('button', { name: 'Stop all broadcasts' }).isDisabled(), true);
    await poll(
      async () => (await h.client.video.call(CALL_TYPE, CALL_ID).get()).call.egress.rtmps.length,
      (n) => n === 0,
      'egress.rtmps empty',
    );
    await page.screenshot({ path: screenshotPath('14-console-all-stopped'), fullPage: true });
    await page.getByRole('button', { name: 'Dismiss broadcast main' }).click();
    assert.equal(await main.count(), 0);
    assert.equal(await backup.count(), 1);
    assertNoConsoleErrors(browser, page, 'the console after stop');

    const recording = ingest.recordingPath(STREAM_KEY);
    await poll(async () => existsSync(recording) && statSync(recording).size > 0, Boolean, 'the recording');
    const info = await probe(recording);
    assert.ok(info.video, 'the recording has video');
    assert.equal(info.video.width, 640);
    assert.equal(info.video.height, 360);
    assert.ok(info.audio, 'the recording has audio');
    // Both participants are in the recorded picture.
    const scene = currentScene(h);
    assert.equal(scene.items.filter((i) => i.kind === 'tile').length, 2, 'two video tiles');
    const frame = await grabFrameRgb(recording, Math.max(0, info.format.duration - 1), 640, 360);
    assertPicture(scene, (x, y) => pixelAt(frame, 640, x, y), 'recording');
  });
  test('join page: leaving takes the participant out of every list', async (t) => {
    if (joinPages.length < 2) {
      t.skip('nobody joined (media plane not mounted)');
      return;
    }
    const [first, second] = joinPages as [Page, Page];
    await second.getByRole('button', { name: 'Leave' }).click();
    await second.getByRole('status').filter({ hasText: 'Left the call' }).waitFor();
    assert.equal(await second.getByRole('button', { name: 'Join' }).isEnabled(), true);
    const firstList = first.getByRole('list', { name: 'In the call' });
    await firstList.getByText('Grace Hopper').waitFor({ state: 'detached' });
    await consolePage.getByRole('list', { name: 'Participants' }).getByText('Grace Hopper').waitFor({ state: 'detached' });
    assert.equal(await firstList.getByText('Ada Lovelace').count(), 1);
    await first.screenshot({ path: screenshotPath('15-join-after-leave'), fullPage: true });
    for (const page of [first, second, consolePage]) assertNoConsoleErrors(browser, page, 'the pages after a participant left');
  });
});
