/**
 * The first five minutes, walked as a newcomer in Debian's Chromium (fake camera and microphone)
 * against the complete service with development tokens on (as `make start` runs it): open `/`,
 * land in the console, create a call, open its join links in two pages, see both participants in
 * the console, start a broadcast to a local nginx-rtmp ingest from the console, see it live, stop
 * it. Screenshots of each step go to test-output/web/newcomer-*.png. And `/` without development
 * tokens: a page naming the API, the console and the docs.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import Fastify from 'fastify';
import type { Page } from 'playwright-core';
import { homePlugin } from '../../src/web/home.js';
import { probe } from '../support/ffprobe.js';
import { startNginxIngest, type NginxIngest } from '../support/rtmp-ingest.js';
import { launchChromium, type ChromiumSession } from '../support/chromium.js';
import { screenshotPath, startWebHarness, type WebHarness } from './harness.js';

const CALL_ID = 'first-call';
const TITLE = 'My first call';
const STREAM_KEY = 'newcomer-key-7c3a';

async function poll<T>(fn: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 30_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(v)})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function bytesSent(page: Page, name: string): Promise<number> {
  const v = await page
    .getByRole('article', { name: `Broadcast ${name}` })
    .locator('dd[data-field="bytes"]')
    .getAttribute('data-value');
  return Number(v ?? 0);
}

/** What the page functions read (they run in the browser; the test's types have no DOM). */
interface BrowserGlobals {
  navigator: { clipboard: { readText(): Promise<string> } };
  localStorage: Record<string, string>;
  document: { querySelector(s: string): { hidden: boolean; complete: boolean; naturalWidth: number } | null };
}

function assertNoConsoleErrors(browser: ChromiumSession, page: Page, what: string): void {
  assert.deepEqual(browser.errorsOf(page), [], `console errors on ${what}`);
}

describe('the first five minutes in Chromium', { timeout: 420_000 }, () => {
  let h: WebHarness;
  let ingest: NginxIngest;
  let browser: ChromiumSession;
  let consolePage: Page;
  let joinUrl = '';
  let guestUrl = '';

  before(async () => {
    [h, ingest, browser] = await Promise.all([startWebHarness(), startNginxIngest(), launchChromium()]);
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: h.url });
  });

  after(async () => {
    await browser?.close();
    await h?.close();
    await ingest?.stop();
  });

  test('/ leads to the console, signed in as the development operator', async () => {
    consolePage = await browser.newPage();
    const page = consolePage;
    await page.goto(`${h.url}/`);
    assert.equal(new URL(page.url()).pathname, '/console');
    await page.getByRole('heading', { name: 'Calls' }).waitFor();
    await page.getByText('Live updates on').waitFor();
    await page.getByText('No calls yet: create one below.').waitFor();
    // A call id is suggested; the types offered are the built-in ones (a user token may not list them).
    assert.match(await page.getByLabel('Call ID').inputValue(), /^call-[a-z0-9]{6}$/);
    const types = await page.getByLabel('Call type').locator('option').allTextContents();
    assert.deepEqual(types, ['default', 'livestream', 'audio_room', 'development']);
    await page.screenshot({ path: screenshotPath('newcomer-01-console'), fullPage: true });
    assertNoConsoleErrors(browser, page, 'the console');
  });

  test('create a call: its page shows the title and the join links, with copy buttons', async () => {
    const page = consolePage;
    await page.getByLabel('Call type').selectOption('default');
    await page.getByLabel('Call ID').fill(CALL_ID);
    await page.getByLabel('Title (optional)').fill(TITLE);
    await page.getByRole('button', { name: 'Create call' }).click();
    await page.getByRole('heading', { name: `Call default:${CALL_ID}` }).waitFor();
    await page.getByText(TITLE, { exact: true }).waitFor();
    assert.equal(new URL(page.url()).pathname, `/console/calls/default/${CALL_ID}`);
    // The API has it, created by the operator, with its title.
    const { call } = await h.client.video.call('default', CALL_ID).get();
    assert.equal(call.created_by.id, 'operator');
    assert.deepEqual(call.custom, { title: TITLE });

    joinUrl = await page.getByLabel('Join link', { exact: true }).inputValue();
    assert.equal(joinUrl, `${h.url}/join/default/${CALL_ID}`);
    await page.getByRole('button', { name: 'Copy join link' }).click();
    await page.getByRole('status').filter({ hasText: 'Copied to the clipboard.' }).waitFor();
    assert.equal(await page.evaluate(() => (globalThis as unknown as BrowserGlobals).navigator.clipboard.readText()), joinUrl);

    await page.getByLabel('Guest name', { exact: true }).fill('Ada Lovelace');
    guestUrl = await page.getByLabel('Guest link', { exact: true }).inputValue();
    assert.equal(guestUrl, `${h.url}/join/default/${CALL_ID}?name=Ada%20Lovelace`);
    await page.screenshot({ path: screenshotPath('newcomer-02-call-created'), fullPage: true });
    // The new call is listed.
    await page.getByRole('link', { name: '← All calls' }).click();
    const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: `default:${CALL_ID}` }) });
    await row.getByText(TITLE).waitFor();
    await row.getByText('nobody').waitFor();
    await row.getByRole('link').click();
    await page.getByRole('heading', { name: `Call default:${CALL_ID}` }).waitFor();
    assertNoConsoleErrors(browser, page, 'the console after creating a call');
  });

  test('two tabs join from the links; the console lists both live', async () => {
    const ada = await browser.newPage();
    await ada.goto(guestUrl);
    // The guest link fills in the name; Join signs the guest in (development tokens).
    assert.equal(await ada.getByLabel('Display name').inputValue(), 'Ada Lovelace');
    await ada.getByRole('button', { name: 'Join' }).click();
    await ada.getByRole('status').filter({ hasText: 'Joined as Ada Lovelace' }).waitFor();

    const grace = await browser.newPage();
    await grace.goto(joinUrl);
    await grace.getByLabel('Display name').fill('Grace Hopper');
    await grace.getByRole('button', { name: 'Join' }).click();
    await grace.getByRole('status').filter({ hasText: 'Joined as Grace Hopper' }).waitFor();

    const list = consolePage.getByRole('list', { name: 'Participants' });
    await list.getByText('Ada Lovelace').waitFor();
    await list.getByText('Grace Hopper').waitFor();
    const { call } = await h.client.video.call('default', CALL_ID).get();
    assert.deepEqual(call.session?.participants.map((p) => p.user.name).sort(), ['Ada Lovelace', 'Grace Hopper']);
    await grace.screenshot({ path: screenshotPath('newcomer-03-join-tab'), fullPage: true });
    await consolePage.screenshot({ path: screenshotPath('newcomer-04-console-participants'), fullPage: true });
    for (const [page, what] of [
      [ada, 'the first join tab'],
      [grace, 'the second join tab'],
      [consolePage, 'the console'],
    ] as const) {
      assertNoConsoleErrors(browser, page, what);
    }
  });

  test('start a broadcast to a local ingest from the console; it goes live; stop it', async () => {
    const page = consolePage;
    // The local ingest hint fills in the one-line ffmpeg ingest of the README; this test's ingest
    // (nginx-rtmp) listens on a port of its own.
    await page.getByText('No platform account? Broadcast to a local ingest').click();
    await page.getByText('ffmpeg -listen 1 -i rtmp://127.0.0.1:1935/live/test -c copy out.flv').waitFor();
    await page.getByRole('button', { name: 'Fill in the local ingest' }).click();
    assert.equal(await page.getByLabel('Stream URL').inputValue(), 'rtmp://127.0.0.1:1935/live');
    await page.getByLabel('Broadcast name').fill('local');
    await page.getByLabel('Stream URL').fill(ingest.url('live'));
    await page.getByLabel('Stream key', { exact: true }).fill(STREAM_KEY);
    await page.getByLabel('Quality').selectOption('360p');
    await page.getByRole('button', { name: 'Start broadcast' }).click();

    const card = page.getByRole('article', { name: 'Broadcast local' });
    await card
      .locator('dd[data-field="status"]')
      .filter({ hasText: /^live$/ })
      .waitFor({ timeout: 60_000 });
    const first = await poll(
      () => bytesSent(page, 'local'),
      (b) => b > 0,
      'bytes sent',
    );
    await poll(
      () => bytesSent(page, 'local'),
      (b) => b > first,
      'a rising byte count',
    );
    await page.waitForFunction(() => {
      const img = (globalThis as unknown as BrowserGlobals).document.querySelector('img[alt="Preview of broadcast local"]');
      return img !== null && !img.hidden && img.complete && img.naturalWidth > 0;
    });
    const { call } = await h.client.video.call('default', CALL_ID).get();
    assert.deepEqual(
      call.egress.rtmps.map((r) => r.name),
      ['local'],
    );

    // The destination is remembered, its key only as a hint: never on the page, never stored.
    const recent = page.getByRole('list', { name: 'Recent destinations' });
    await recent.getByText(`${ingest.url('live')} · key ••••7c3a`).waitFor();
    const stored = await page.evaluate(() => JSON.stringify({ ...(globalThis as unknown as BrowserGlobals).localStorage }));
    assert.ok(stored.includes(ingest.url('live')), 'the destination is stored');
    assert.ok(!stored.includes(STREAM_KEY), 'the stream key is not stored');
    assert.ok(!(await page.content()).includes(STREAM_KEY), 'the stream key is not on the page');
    await page.screenshot({ path: screenshotPath('newcomer-05-broadcast-live'), fullPage: true });

    await page.getByRole('button', { name: 'Stop broadcast local' }).click();
    await card
      .locator('dd[data-field="status"]')
      .filter({ hasText: /^stopped$/ })
      .waitFor();
    await poll(
      async () => (await h.client.video.call('default', CALL_ID).get()).call.egress.rtmps.length,
      (n) => n === 0,
      'egress.rtmps empty',
    );
    // The ingest received the composed broadcast.
    const recording = ingest.recordingPath(STREAM_KEY);
    await poll(
      async () => existsSync(recording),
      (ok) => ok,
      'the recording at the ingest',
    );
    const info = await poll(
      () => probe(recording).catch(() => null),
      (p) => p?.video !== undefined,
      'a video stream in the recording',
    );
    assert.equal(info!.video!.codec, 'h264');
    assert.deepEqual([info!.video!.width, info!.video!.height], [640, 360]);

    // Using the destination again fills everything in but the key, which it asks for.
    await page.getByRole('button', { name: 'Use destination local' }).click();
    assert.equal(await page.getByLabel('Broadcast name').inputValue(), 'local');
    assert.equal(await page.getByLabel('Stream URL').inputValue(), ingest.url('live'));
    assert.equal(await page.getByLabel('Quality').inputValue(), '360p');
    assert.equal(await page.getByLabel('Stream key', { exact: true }).inputValue(), '');
    await page.getByText('Enter the stream key again (the last one ended in 7c3a)', { exact: false }).waitFor();
    await page.screenshot({ path: screenshotPath('newcomer-06-broadcast-stopped'), fullPage: true });
    // A stats or preview request in flight when the broadcast stopped answers 404, which Chromium
    // logs; nothing else is expected.
    const errors = browser.errorsOf(page).splice(0);
    assert.ok(
      errors.every((e: string) => /status of 404/.test(e) && /rtmp_broadcasts\/local/.test(e)),
      errors.join('\n'),
    );
  });

  test('/ without development tokens: a page naming the API, the console and the docs', async () => {
    const app = Fastify();
    await app.register(homePlugin, { devTokens: false });
    try {
      const res = await app.inject({ method: 'GET', url: '/' });
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /^text\/html/);
      assert.match(String(res.headers['content-security-policy']), /default-src 'none'/);
      for (const s of ['<h1>Callcast</h1>', 'href="/console"', '/api/v2', '/join/', 'README.md'])
        assert.ok(res.body.includes(s), `the page names ${s}`);
      const dev = Fastify();
      await dev.register(homePlugin, { devTokens: true });
      const redirect = await dev.inject({ method: 'GET', url: '/' });
      assert.equal(redirect.statusCode, 302);
      assert.equal(redirect.headers.location, '/console');
      await dev.close();
      // As the browser shows it.
      const page = await browser.newPage();
      await page.setContent(res.body);
      await page.screenshot({ path: screenshotPath('newcomer-07-home-production'), fullPage: true });
      await page.close();
    } finally {
      await app.close();
    }
  });
});
