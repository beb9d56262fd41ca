/**
 * Built-in layouts with `external_css_url`, end to end: two Node publishers (red and blue, no
 * sound, so that no speaker reorders the tiles) in a call; a grid broadcast to a real nginx-rtmp
 * ingest drawn by the native compositor, then the same layout with a stylesheet served by the test
 * on 127.0.0.1 (a green background and a 60 px tile radius, with selectors of no specificity),
 * drawn by the built-in layouts page in the layout browser. The ingest's frames of the stylesheet version show the green background and
 * rounded tile corners (a pixel at the corner is background, one a little inside the participant's
 * colour); both versions show each participant's colour at the tile centres the scene engine
 * computes; spotlight and single-participant with the stylesheet show each tile's colour where
 * the scene engine puts it. A non-http stylesheet answers 400 naming the key; one from an origin outside
 * CALLCAST_LAYOUT_URL_ALLOW fails the broadcast (the page itself, Callcast's own, is not subject to it).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { StreamClient } from '@stream-io/node-sdk';
import { pino } from 'pino';
import type { Callcast } from '../../src/app.js';
import type { WireEvent } from '../../src/events/contract.js';
import { composeScene, type Rect } from '../../src/layout/scene.js';
import { runningLayoutBrowsers } from '../../src/render/browser/index.js';
import { grabFrameRgb, pixelAt } from '../support/ffprobe.js';
import { TestPublisher } from '../support/publisher.js';
import { freePort, startNginxIngest, type NginxIngest } from '../support/rtmp-ingest.js';
import { startTestCallcast, type TestCallcast } from '../support/callcast.js';
import { sleep, waitFor } from '../support/wait.js';
import { i420PixelRgb } from '../media/helpers.js';
import { buildWebPages, REPO_ROOT, WEB_ROOT } from '../web/harness.js';
import { closeServer, listenOnLoopback } from '../support/http-server.js';

const OUTPUT_DIR = join(REPO_ROOT, 'test-output/e2e');

const W = 640;
const H = 360;
const QUALITY = '360p';
const CID = 'default:themed';
const OPTIONS = { 'participant_label.display': false };
const RADIUS = 60;

type Rgb = [number, number, number];
const COLOURS: Record<string, { ffmpeg: string; rgb: Rgb }> = {
  alice: { ffmpeg: 'red', rgb: [255, 0, 0] },
  bob: { ffmpeg: 'blue', rgb: [0, 0, 255] },
};
const GREEN: Rgb = [0, 160, 0];
/** Selectors of no specificity (:where): they win over the page's own rules by not being in a cascade layer. */
const STYLESHEET = `/* a theme of the test's own */
:where(.str-video) { background: rgb(${GREEN.join(', ')}); }
:where(.str-video__participant-view) { border-radius: ${RADIUS}px; }
`;

const near = (a: readonly number[], b: readonly number[], tol = 60) => a.every((v, i) => Math.abs(v - b[i]!) <= tol);

describe('built-in layouts with external_css_url', { timeout: 300_000 }, () => {
  let ingest: NginxIngest;
  let server: Callcast;
  let client: StreamClient;
  let svc: TestCallcast;
  let sheets: Server;
  let cssUrl: string;
  const events: WireEvent[] = [];
  const publishers: TestPublisher[] = [];
  const logLines: string[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
  const layoutLog = () => logLines.filter((l) => /layout/.test(l)).join('');
  let sheetRequests = 0;

  before(async () => {
    await buildWebPages();
    sheets = createServer((req, res) => {
      sheetRequests += 1;
      if (req.url !== '/theme.css') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/css; charset=utf-8', 'cache-control': 'no-store' });
      res.end(STYLESHEET);
    });
    const origin = await listenOnLoopback(sheets);
    cssUrl = `${origin}/theme.css`;
    ingest = await startNginxIngest();
    svc = await startTestCallcast({
      log,
      webRoot: WEB_ROOT,
      // Only the test's stylesheet server; the built-in page (the service's own origin) is exempt.
      config: { layoutReadyTimeoutMs: 30_000, layoutUrlAllow: [origin] },
      egress: { retry: { initialDelayMs: 200, maxDelayMs: 1000, giveUpAfterMs: 10_000 } },
    });
    server = svc.server;
    client = svc.client;
    server.bus.subscribe((e) => events.push(e));
    await client.upsertUsers(Object.keys(COLOURS).map((id) => ({ id, name: id, role: 'user' })));
  });
  after(async () => {
    await Promise.all(publishers.map((p) => p.close()));
    await svc?.close();
    await ingest?.stop();
    await closeServer(sheets);
  });

  const failureOf = (name: string) =>
    events.find((e) => e.type === 'call.rtmp_broadcast_failed' && e.name === name) as (WireEvent & { error?: string }) | undefined;

  /** Each participant's tile in the layout the scene engine composes for the call now (labels off). */
  const tiles = (layout: 'grid' | 'spotlight' | 'single-participant' = 'grid'): Array<{ user: string; rect: Rect }> => {
    const ps = server.media.participants(CID);
    const scene = composeScene({
      canvas: { width: W, height: H },
      participants: ps,
      layout: { name: layout, external_app_url: '', external_css_url: '', options: OPTIONS },
      nowMs: 0,
    });
    return scene.items.flatMap((i) =>
      i.kind === 'tile' ? [{ user: ps.find((p) => p.sessionId === i.sessionId)?.userId ?? '?', rect: i.rect }] : [],
    );
  };
  const centre = (r: Rect): [number, number] => [Math.round(r.x + r.width / 2), Math.round(r.y + r.height / 2)];
  /** A pixel in the tile's top-left corner, well outside a 60 px rounding (19 px from the arc). */
  const corner = (r: Rect): [number, number] => [Math.round(r.x + 4), Math.round(r.y + 4)];
  /** A pixel a little inside the corner: inside a 60 px rounding (18 px from the arc). */
  const insideCorner = (r: Rect): [number, number] => [Math.round(r.x + RADIUS / 2), Math.round(r.y + RADIUS / 2)];
  /** Background, away from every tile (8 px clear of each); null when the tiles cover the picture. */
  const backgroundPoint = (layout: Parameters<typeof tiles>[0] = 'grid'): [number, number] | null => {
    const rects = tiles(layout).map((t) => t.rect);
    const top = Math.min(...rects.map((r) => r.y));
    if (top >= 16) return [W / 2, Math.floor(top / 2)];
    const clear = ([x, y]: [number, number]) =>
      rects.every((r) => x < r.x - 8 || x > r.x + r.width + 8 || y < r.y - 8 || y > r.y + r.height + 8);
    const candidates: Array<[number, number]> = [];
    for (let y = 4; y < H; y += 8) for (let x = 4; x < W; x += 8) candidates.push([x, y]);
    return candidates.find(clear) ?? null;
  };

  /** The colours at `points` of the latest composed picture, or null before the first. */
  const showing = (points: Record<string, [number, number]>) => {
    const frame = server.previews.latestFrame(CID, QUALITY);
    if (!frame) return null;
    return Object.fromEntries(
      Object.entries(points).map(([k, [x, y]]) => {
        const c = i420PixelRgb(frame.data, frame.width, frame.height, x, y);
        return [k, [c.r, c.g, c.b]];
      }),
    ) as Record<string, number[]>;
  };

  /**
   * Runs one broadcast of the call until `expected` (colours at `points`) has been on screen for
   * 3 s of recording; the time in the recording to grab.
   */
  const record = async (
    t: { diagnostic(msg: string): void },
    name: string,
    layout: Record<string, unknown>,
    points: Record<string, [number, number]>,
    expected: Record<string, Rgb>,
  ): Promise<number> => {
    const call = client.video.call('default', 'themed');
    const shows = () => {
      const s = showing(points);
      return s !== null && Object.entries(expected).every(([k, rgb]) => near(s[k]!, rgb));
    };
    const startedAt = Date.now();
    await call.startRTMPBroadcasts({
      broadcasts: [{ name, stream_url: ingest.url(), stream_key: `themed-${name}`, quality: QUALITY, layout: layout as never }],
    });
    await waitFor(() => events.some((e) => e.type === 'call.rtmp_broadcast_started' && e.name === name), `${name} live`, 30_000);
    await waitFor(shows, `${name} drawn`, 60_000, 100).catch((err) => {
      throw new Error(`${(err as Error).message}: showing ${JSON.stringify(showing(points))}\n${layoutLog()}`);
    });
    t.diagnostic(`${name} on screen ${Date.now() - startedAt} ms after the request`);
    const position = () => (server.engine.stats(CID).find((s) => s.name === name)?.videoFramesSent ?? 0) / 30;
    // The encoder lags what the source shows: grab a second before the position 3 s after it was seen.
    await sleep(3000);
    await waitFor(() => position() >= 4, `${name}: four seconds recorded`, 60_000, 100);
    const at = position() - 1;
    assert.equal(failureOf(name), undefined, `${name} did not fail`);
    await call.stopRTMPBroadcast({ name });
    await waitFor(() => events.some((e) => e.type === 'call.rtmp_broadcast_stopped' && e.name === name), `${name} stopped`, 20_000);
    return at;
  };

  /** The recorded frame of broadcast `name` at `at` s shows `expected` at `points` (and is saved as a picture). */
  const assertRecorded = async (
    name: string,
    at: number,
    points: Record<string, [number, number]>,
    expected: Record<string, Rgb>,
  ): Promise<void> => {
    const recording = ingest.recordingPath(`themed-${name}`);
    // For people: the frame checked, as a picture.
    mkdirSync(OUTPUT_DIR, { recursive: true });
    await promisify(execFile)(
      'ffmpeg',
      ['-v', 'error', '-y', '-ss', at.toFixed(3), '-i', recording, '-frames:v', '1', join(OUTPUT_DIR, `layout-css-${name}.png`)],
      { timeout: 30_000 },
    );
    const frame = await grabFrameRgb(recording, at, W, H);
    for (const [k, [x, y]] of Object.entries(points)) {
      if (!expected[k]) continue;
      const px = pixelAt(frame, W, x, y);
      assert.ok(
        near(px, expected[k]),
        `${name} at ${at.toFixed(2)} s, ${k} (${x},${y}): rgb(${px.join(',')}), expected about rgb(${expected[k].join(',')})`,
      );
    }
  };

  it('draws the stylesheet (background, tile radius) over the native geometry', async (t) => {
    const call = client.video.call('default', 'themed');
    const created = await call.getOrCreate({
      data: { created_by_id: 'alice', members: Object.keys(COLOURS).map((user_id) => ({ user_id })) },
    });
    const whip = created.call.ingress.whip.address;
    // One after the other, so that the join order (the grid's order without speakers) is alice, bob.
    for (const [user, c] of Object.entries(COLOURS)) {
      const token = client.generateUserToken({ user_id: user, validity_in_seconds: 600 });
      publishers.push(await TestPublisher.start({ url: whip, token, color: c.ffmpeg, audio: false }));
      await waitFor(
        () => server.media.participants(CID).some((p) => p.userId === user && p.hasVideo && p.videoSize),
        `${user} decoded`,
        60_000,
      );
    }
    const layoutTiles = tiles();
    assert.deepEqual(
      layoutTiles.map((x) => x.user),
      ['alice', 'bob'],
      'the grid shows alice then bob',
    );
    for (const { rect } of layoutTiles) assert.ok(Math.min(rect.width, rect.height) >= 2 * RADIUS, 'tiles fit the radius');
    const bgPoint = backgroundPoint();
    assert.ok(bgPoint, 'the grid leaves background');

    const points: Record<string, [number, number]> = { background: bgPoint };
    const expectedCss: Record<string, Rgb> = { background: GREEN };
    const expectedNative: Record<string, Rgb> = {};
    for (const { user, rect } of layoutTiles) {
      const rgb = COLOURS[user]!.rgb;
      points[`${user} centre`] = centre(rect);
      points[`${user} corner`] = corner(rect);
      points[`${user} inside the corner`] = insideCorner(rect);
      expectedCss[`${user} centre`] = rgb;
      expectedCss[`${user} corner`] = GREEN;
      expectedCss[`${user} inside the corner`] = rgb;
      expectedNative[`${user} centre`] = rgb;
      expectedNative[`${user} inside the corner`] = rgb;
    }
    const nativeAt = await record(t, 'native', { name: 'grid', options: OPTIONS }, points, expectedNative);
    assert.equal(runningLayoutBrowsers().length, 0, 'no browser without a stylesheet');
    assert.equal(sheetRequests, 0, 'the native compositor does not load the stylesheet');
    const cssAt = await record(t, 'css', { name: 'grid', options: OPTIONS, external_css_url: cssUrl }, points, expectedCss);
    assert.ok(sheetRequests > 0, 'the page loaded the stylesheet');
    await waitFor(() => runningLayoutBrowsers().length === 0, 'no layout browser after the stop', 20_000, 100);
    await sleep(500);

    await assertRecorded('native', nativeAt, points, expectedNative);
    await assertRecorded('css', cssAt, points, expectedCss);
    // The native background is not the stylesheet's.
    const nativeFrame = await grabFrameRgb(ingest.recordingPath('themed-native'), nativeAt, W, H);
    assert.ok(!near(pixelAt(nativeFrame, W, bgPoint[0], bgPoint[1]), GREEN), 'the native background is its own');
  });

  it("draws spotlight and single-participant through the page at the scene engine's geometry, with the stylesheet", async (t) => {
    // The call and its two publishers of the test above.
    for (const layout of ['spotlight', 'single-participant'] as const) {
      const layoutTiles = tiles(layout);
      assert.ok(layoutTiles.length >= 1, `${layout} shows someone`);
      const points: Record<string, [number, number]> = {};
      const expected: Record<string, Rgb> = {};
      const bg = backgroundPoint(layout);
      if (bg) {
        points.background = bg;
        expected.background = GREEN;
      }
      for (const { user, rect } of layoutTiles) {
        points[`${user} centre`] = centre(rect);
        expected[`${user} centre`] = COLOURS[user]!.rgb;
      }
      // The largest tile's corner is rounded away (the stylesheet's radius).
      const big = [...layoutTiles].sort((a, b) => b.rect.width * b.rect.height - a.rect.width * a.rect.height)[0]!;
      if (Math.min(big.rect.width, big.rect.height) >= 2 * RADIUS) {
        points[`${big.user} corner`] = corner(big.rect);
        expected[`${big.user} corner`] = GREEN;
      }
      const name = `css-${layout}`;
      const at = await record(t, name, { name: layout, options: OPTIONS, external_css_url: cssUrl }, points, expected);
      await waitFor(() => runningLayoutBrowsers().length === 0, 'no layout browser after the stop', 20_000, 100);
      await sleep(500);
      await assertRecorded(name, at, points, expected);
    }
  });

  it('refuses a non-http stylesheet (400 naming the key) and fails one from an origin outside CALLCAST_LAYOUT_URL_ALLOW', async () => {
    const call = client.video.call('default', 'themed-refused');
    await call.getOrCreate({ data: { created_by_id: 'alice' } });
    await assert.rejects(
      call.startRTMPBroadcasts({
        broadcasts: [
          {
            name: 'file',
            stream_url: ingest.url(),
            stream_key: 'refused-file',
            quality: QUALITY,
            layout: { name: 'spotlight', external_css_url: 'file:///etc/passwd' } as never,
          },
        ],
      }),
      (err: Error) =>
        /external_css_url must be an http:\/\/ or https:\/\/ URL/.test(err.message) &&
        /400|code/.test(`${err.message} ${JSON.stringify(err)}`),
    );
    const elsewhere = `http://127.0.0.1:${await freePort()}/theme.css`;
    await call.startRTMPBroadcasts({
      broadcasts: [
        {
          name: 'elsewhere',
          stream_url: ingest.url(),
          stream_key: 'refused-elsewhere',
          quality: QUALITY,
          layout: { name: 'spotlight', external_css_url: elsewhere } as never,
        },
      ],
    });
    const failed = await waitFor(() => failureOf('elsewhere'), 'elsewhere failed', 60_000, 100);
    assert.match(String(failed.error), /external_css_url\) is not allowed by CALLCAST_LAYOUT_URL_ALLOW/);
    await waitFor(() => runningLayoutBrowsers().length === 0, 'no layout browser', 20_000, 100);
  });
});
