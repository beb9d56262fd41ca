/**
 * Custom layouts rendered by a browser, end to end: a layout app of the test's own (served on
 * 127.0.0.1: a magenta marker top left, each participant a WHEP subscription stacked in the right
 * half and heard, and a 1760 Hz WebAudio tone of its own) is the layout of a broadcast started
 * with the node SDK to a real nginx-rtmp ingest. Two Node publishers send red and blue with their
 * tones. The frames the ingest recorded (captured from the browser's X display) show the marker
 * and each participant where the app put them; the sound is the page's (captured from its
 * PulseAudio sink): the page's own 1760 Hz, which the call's mix does not have, and the
 * participants' tones the page plays; without PulseAudio the page is muted and the sound is the
 * call's mix. A renderer crash is recovered under the same RTMP session; a
 * page that never signals readiness, an unreachable URL and a non-http URL each fail the
 * broadcast; no process of the browser's stack (Chromium, Xvfb, pulseaudio, the capture ffmpegs)
 * is left after stop.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { StreamClient } from '@stream-io/node-sdk';
import type { Callcast } from '../../src/app.js';
import type { WireEvent } from '../../src/events/contract.js';
import { runningLayoutBrowsers } from '../../src/render/browser/index.js';
import { runningLayoutProcesses } from '../../src/render/browser/browser-frame-source.js';
import { decodePcm, grabFrameRgb, pixelAt, probe } from '../support/ffprobe.js';
import { pino } from 'pino';
import { TestPublisher } from '../support/publisher.js';
import { freePort, startNginxIngest, type NginxIngest } from '../support/rtmp-ingest.js';
import { startTestCallcast, type TestCallcast } from '../support/callcast.js';
import { sleep, waitFor } from '../support/wait.js';
import { i420PixelRgb, tonePower } from '../media/helpers.js';
import { closeServer, listenOnLoopback } from '../support/http-server.js';

const W = 640;
const H = 360;
const QUALITY = '360p';
const APP = readFileSync(new URL('./fixtures/custom-layout-app.html', import.meta.url), 'utf8');

type Rgb = [number, number, number];
const COLOURS: Record<string, { ffmpeg: string; rgb: Rgb; tone: number }> = {
  alice: { ffmpeg: 'red', rgb: [255, 0, 0], tone: 440 },
  bob: { ffmpeg: 'blue', rgb: [0, 0, 255], tone: 880 },
};
const MARKER: Rgb = [255, 0, 255];
/** Where the app draws: the marker (top-left quarter), alice (right half, top), bob (right half, bottom). */
const POINTS: Record<string, [number, number]> = { marker: [W / 8, H / 8], alice: [(W * 3) / 4, H / 4], bob: [(W * 3) / 4, (H * 3) / 4] };
const EXPECTED: Record<string, Rgb> = { marker: MARKER, alice: COLOURS.alice!.rgb, bob: COLOURS.bob!.rgb };

/** The tone only the layout app plays (WebAudio). */
const PAGE_TONE = 1760;
/** The call the app is drawn for. */
const APP_CID = 'default:custom-app';

/**
 * The README's layout app (a few lines with /sdk/layout.js): the participants side by side in join
 * order, drawn only (muted videos); the module plays their sound.
 */
const sdkApp = (callcast: string) => `<!doctype html>
<style>body { margin: 0; background: #111; display: flex; height: 100vh } video { flex: 1; min-width: 0; object-fit: cover }</style>
<script type="module">
  import { layoutConfig, connectLayout, attachStream, markReady } from '${callcast}/sdk/layout.js';
  const call = await connectLayout(await layoutConfig());
  const videos = new Map();
  call.onChange((participants) => {
    for (const p of participants) {
      if (!videos.has(p.sessionId)) videos.set(p.sessionId, document.body.appendChild(document.createElement('video')));
      attachStream(videos.get(p.sessionId), p.stream);
    }
    for (const [id, v] of videos) if (!participants.some((p) => p.sessionId === id)) { v.remove(); videos.delete(id); }
    if (participants.length > 0 && participants.every((p) => p.stream)) markReady();
  });
</script>`;

const near = (a: number[], b: number[], tol = 60) => a.every((v, i) => Math.abs(v - b[i]!) <= tol);

/** Every process under `root` (children first found through /proc/<pid>/stat's ppid). */
function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(e), Number(fields[1]));
    } catch {
      // gone
    }
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    for (const [child, pp] of parent) {
      if (pp !== pid) continue;
      out.push(child);
      walk(child);
    }
  };
  walk(root);
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1');
  } catch {
    return '';
  }
}

/** This process's children that belong to a layout browser's stack: its X display, sound server and captures. */
function stackHelpers(): number[] {
  return descendants(process.pid).filter((pid) => {
    const args = cmdline(pid).split('\0');
    const exe = args[0]?.split('/').pop() ?? '';
    return (
      exe === 'Xvfb' ||
      exe === 'pulseaudio' ||
      (exe === 'ffmpeg' && args.includes('x11grab')) ||
      (exe === 'ffmpeg' && args.includes('pulse') && args.some((a) => a.endsWith('.monitor')))
    );
  });
}

function helperKinds(pids: number[]): string[] {
  return [
    ...new Set(
      pids.map((pid) => {
        const args = cmdline(pid).split('\0');
        const exe = args[0]?.split('/').pop() ?? '';
        return exe === 'ffmpeg' ? (args.includes('x11grab') ? 'ffmpeg x11grab' : 'ffmpeg pulse') : exe;
      }),
    ),
  ].sort();
}

describe('custom layout apps rendered by a browser', { timeout: 300_000 }, () => {
  let ingest: NginxIngest;
  let server: Callcast;
  let client: StreamClient;
  let svc: TestCallcast;
  let app: Server;
  let appUrl: string;
  const events: WireEvent[] = [];
  const publishers: TestPublisher[] = [];
  const logLines: string[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
  /** The service's lines about layout apps (for a failure's message). */
  const layoutLog = () => logLines.filter((l) => /layout/.test(l)).join('');

  before(async () => {
    app = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(req.url?.startsWith('/sdk-app.html') ? sdkApp(svc.url) : APP);
    });
    appUrl = `${await listenOnLoopback(app)}/layout.html`;
    ingest = await startNginxIngest();
    svc = await startTestCallcast({
      log,
      config: { layoutReadyTimeoutMs: 20_000 },
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
    await closeServer(app);
  });

  /** What the call's broadcast at QUALITY shows at the app's points, and whether it is the app. */
  const showing = () => {
    const frame = server.previews.latestFrame(APP_CID, QUALITY);
    if (!frame) return {};
    return Object.fromEntries(
      Object.entries(POINTS).map(([k, [x, y]]) => {
        const c = i420PixelRgb(frame.data, frame.width, frame.height, x, y);
        return [k, [c.r, c.g, c.b]];
      }),
    ) as Record<string, number[]>;
  };
  const showsApp = () => {
    const s = showing();
    return Object.entries(EXPECTED).every(([k, rgb]) => s[k] && near(s[k]!, rgb));
  };

  const failureOf = (name: string) =>
    events.find((e) => e.type === 'call.rtmp_broadcast_failed' && e.name === name) as (WireEvent & { error?: string }) | undefined;

  it("draws the app: the marker and each participant where the app put them, the page's sound; a crash reloads under the same RTMP session", async (t) => {
    const call = client.video.call('default', 'custom-app');
    const created = await call.getOrCreate({
      data: { created_by_id: 'alice', members: Object.keys(COLOURS).map((user_id) => ({ user_id })) },
    });
    const whip = created.call.ingress.whip.address;
    const cid = APP_CID;
    for (const [user, c] of Object.entries(COLOURS)) {
      const token = client.generateUserToken({ user_id: user, validity_in_seconds: 600 });
      publishers.push(await TestPublisher.start({ url: whip, token, color: c.ffmpeg, toneHz: c.tone }));
    }
    await waitFor(
      () => server.media.participants(cid).filter((p) => p.hasVideo && p.videoSize).length === 2,
      'two decoded publishers',
      60_000,
    );

    const startedAt = Date.now();
    await call.startRTMPBroadcasts({
      broadcasts: [
        {
          name: 'app',
          stream_url: ingest.url(),
          stream_key: 'custom-app',
          quality: QUALITY,
          layout: { name: 'custom', external_app_url: appUrl },
        },
      ],
    });
    await waitFor(() => events.some((e) => e.type === 'call.rtmp_broadcast_started' && e.name === 'app'), 'broadcast live', 30_000);
    await waitFor(() => runningLayoutBrowsers().length > 0, 'a layout browser', 30_000, 50);
    const browsers = runningLayoutBrowsers();
    assert.equal(browsers.length, 1, 'one layout browser');
    const started = new Set<number>([...browsers, ...descendants(browsers[0]!)]);
    const helpers = stackHelpers();
    assert.deepEqual(helperKinds(helpers), ['Xvfb', 'ffmpeg pulse', 'ffmpeg x11grab', 'pulseaudio'], 'the browser stack');
    for (const pid of [...helpers, ...runningLayoutProcesses()]) started.add(pid);
    /** The private directories of the display (its Xauthority) and the sound server (its socket), from their command lines. */
    const privateDirs = () =>
      helpers.flatMap((pid) => [...cmdline(pid).matchAll(/\/[^\0\s]*\/callcast-(?:x|pulse)-[^/\0\s]+/g)].map((m) => m[0]));
    const dirs = privateDirs();
    assert.equal(dirs.length, 2, `the display's and the sound server's directories: ${dirs.join(' ')}`);
    for (const d of dirs) assert.ok(existsSync(d), d);

    await waitFor(showsApp, 'the app drawn in the broadcast', 60_000, 100).catch((err) => {
      throw new Error(`${(err as Error).message}: showing ${JSON.stringify(showing())}\n${layoutLog()}`);
    });
    t.diagnostic(`app on screen ${Date.now() - startedAt} ms after the broadcast request`);
    const position = () => (server.engine.stats(cid).find((s) => s.name === 'app')?.videoFramesSent ?? 0) / 30;
    // Frames the encoder has sent lag what the source shows (encoder latency, more under load):
    // the frame grabbed is taken a second before the position reached 3 s after the app was seen.
    await sleep(3000);
    await waitFor(() => position() >= 4, 'four seconds recorded', 60_000, 100);
    const drawnAt = position() - 1;
    const encoderPids = server.egress.encoderPids();

    // The page's renderer crashes: a new browser opens the app again; the RTMP session goes on.
    const renderers = descendants(browsers[0]!).filter((pid) => cmdline(pid).includes('--type=renderer'));
    assert.ok(renderers.length > 0, 'the browser has renderers');
    for (const pid of renderers) process.kill(pid, 'SIGKILL');
    const crashedAt = Date.now();
    await waitFor(() => runningLayoutBrowsers().length === 1 && runningLayoutBrowsers()[0] !== browsers[0], 'a new browser', 30_000, 100);
    const reloaded = runningLayoutBrowsers()[0]!;
    // Until the reloaded page calls for capture the last picture stays: wait for its capture.
    const capturingAgain = () => logLines.some((l) => l.includes('"msg":"layout app ready; capturing"') && l.includes('"reloads":1'));
    await waitFor(
      () => capturingAgain() && showsApp() && descendants(reloaded).some((pid) => cmdline(pid).includes('--type=renderer')),
      'the app drawn again',
      60_000,
      100,
    );
    t.diagnostic(`app drawn again ${Date.now() - crashedAt} ms after the crash`);
    for (const pid of [reloaded, ...descendants(reloaded), ...stackHelpers(), ...runningLayoutProcesses()]) started.add(pid);
    await sleep(3000);
    const stats = server.engine.stats(cid).find((s) => s.name === 'app');
    assert.equal(stats?.reconnects, 0, 'same RTMP session');
    assert.deepEqual(server.egress.encoderPids(), encoderPids, 'same encoder');
    assert.equal(failureOf('app'), undefined);
    const afterReload = position() - 1;

    await call.stopAllRTMPBroadcasts();
    await waitFor(() => events.some((e) => e.type === 'call.rtmp_broadcast_stopped' && e.name === 'app'), 'stopped', 20_000);
    await waitFor(() => runningLayoutBrowsers().length === 0, 'no layout browser', 20_000, 100);
    await waitFor(() => [...started].every((pid) => !alive(pid)), 'every browser process gone', 20_000, 100);
    await waitFor(
      () => stackHelpers().length === 0 && runningLayoutProcesses().length === 0,
      'no display, sound server or capture',
      20_000,
      100,
    );
    for (const d of dirs) assert.equal(existsSync(d), false, `${d} removed`);
    t.diagnostic(`browser stack processes started and gone: ${started.size}`);
    await sleep(500);

    const path = ingest.recordingPath('custom-app');
    t.diagnostic(
      `recorded ${(await probe(path)).format.duration} s; frames grabbed at ${drawnAt.toFixed(2)} s and ${afterReload.toFixed(2)} s`,
    );
    for (const at of [drawnAt, afterReload]) {
      const frame = await grabFrameRgb(path, at, W, H);
      for (const [k, [x, y]] of Object.entries(POINTS)) {
        const px = pixelAt(frame, W, x, y);
        assert.ok(near(px, EXPECTED[k]!), `${k} at ${at.toFixed(2)} s: rgb(${px.join(',')})`);
      }
    }
    // The page's sound: its own tone (not in the call's mix) and the participants it plays.
    for (const at of [drawnAt, afterReload]) {
      const pcm = await decodePcm(path, Math.max(0, at - 1), 2);
      const off = tonePower(pcm, 660);
      for (const hz of [PAGE_TONE, 440, 880])
        assert.ok(tonePower(pcm, hz) > 10 * off, `${hz} Hz at ${at.toFixed(2)} s: ${tonePower(pcm, hz)} vs ${off}`);
    }
  });

  it("plays the call's mix, the page muted, when PulseAudio cannot be started", async () => {
    // The same call (its publishers still in it), with pulseaudio missing from PATH: every other
    // program the service and the stack run is there as a link.
    const bin = mkdtempSync(join(tmpdir(), 'callcast-nopulse-'));
    const savedPath = process.env.PATH;
    for (const dir of (savedPath ?? '').split(':')) {
      let names: string[] = [];
      try {
        names = readdirSync(dir);
      } catch {
        continue;
      }
      for (const name of names) if (name !== 'pulseaudio' && !existsSync(join(bin, name))) symlinkSync(join(dir, name), join(bin, name));
    }
    const call = client.video.call('default', 'custom-app');
    const position = () => (server.engine.stats(APP_CID).find((s) => s.name === 'muted')?.videoFramesSent ?? 0) / 30;
    let at: number;
    process.env.PATH = bin;
    try {
      await call.startRTMPBroadcasts({
        broadcasts: [
          {
            name: 'muted',
            stream_url: ingest.url(),
            stream_key: 'custom-muted',
            quality: QUALITY,
            layout: { name: 'custom', external_app_url: appUrl },
          },
        ],
      });
      await waitFor(() => logLines.some((l) => l.includes('PulseAudio could not be started')), 'the sound server refused', 30_000, 100);
      await waitFor(showsApp, 'the app drawn in the broadcast', 60_000, 100).catch((err) => {
        throw new Error(`${(err as Error).message}: showing ${JSON.stringify(showing())}\n${layoutLog()}`);
      });
      const shownAt = position();
      await waitFor(() => position() >= shownAt + 3, 'three more seconds recorded', 60_000, 100);
      at = position() - 1;
      await call.stopRTMPBroadcast({ name: 'muted' });
      await waitFor(() => events.some((e) => e.type === 'call.rtmp_broadcast_stopped' && e.name === 'muted'), 'stopped', 20_000);
      await waitFor(() => runningLayoutProcesses().length === 0 && stackHelpers().length === 0, 'no layout process', 20_000, 100);
    } finally {
      process.env.PATH = savedPath;
      rmSync(bin, { recursive: true, force: true });
    }
    assert.equal(failureOf('muted'), undefined);
    await sleep(500);
    const pcm = await decodePcm(ingest.recordingPath('custom-muted'), Math.max(0, at - 1), 2);
    const off = tonePower(pcm, 660);
    for (const hz of [440, 880]) assert.ok(tonePower(pcm, hz) > 10 * off, `${hz} Hz: ${tonePower(pcm, hz)} vs ${off}`);
    assert.ok(
      tonePower(pcm, PAGE_TONE) < tonePower(pcm, 440) / 100,
      `no page tone: ${tonePower(pcm, PAGE_TONE)} vs 440 Hz ${tonePower(pcm, 440)}`,
    );
  });

  it('an app of a few lines with /sdk/layout.js: each participant where it put them, and their sound (the module plays it)', async () => {
    const call = client.video.call('default', 'custom-app');
    const position = () => (server.engine.stats(APP_CID).find((s) => s.name === 'sdk')?.videoFramesSent ?? 0) / 30;
    const sideBySide = () => {
      const frame = server.previews.latestFrame(APP_CID, QUALITY);
      if (!frame) return false;
      const at = (x: number) => {
        const c = i420PixelRgb(frame.data, frame.width, frame.height, x, H / 2);
        return [c.r, c.g, c.b];
      };
      return near(at(W / 4), COLOURS.alice!.rgb) && near(at((W * 3) / 4), COLOURS.bob!.rgb);
    };
    await call.startRTMPBroadcasts({
      broadcasts: [
        {
          name: 'sdk',
          stream_url: ingest.url(),
          stream_key: 'custom-sdk',
          quality: QUALITY,
          layout: { name: 'custom', external_app_url: appUrl.replace('/layout.html', '/sdk-app.html') },
        },
      ],
    });
    await waitFor(sideBySide, 'the participants side by side', 60_000, 100).catch((err) => {
      throw new Error(`${(err as Error).message}\n${layoutLog()}`);
    });
    const shownAt = position();
    await waitFor(() => position() >= shownAt + 4, 'four more seconds recorded', 60_000, 100);
    const at = position() - 1.5;
    await call.stopRTMPBroadcast({ name: 'sdk' });
    await waitFor(() => events.some((e) => e.type === 'call.rtmp_broadcast_stopped' && e.name === 'sdk'), 'stopped', 20_000);
    await waitFor(() => runningLayoutProcesses().length === 0 && stackHelpers().length === 0, 'no layout process', 20_000, 100);
    assert.equal(failureOf('sdk'), undefined);
    await sleep(500);
    const path = ingest.recordingPath('custom-sdk');
    const frame = await grabFrameRgb(path, at, W, H);
    assert.ok(near(pixelAt(frame, W, W / 4, H / 2), COLOURS.alice!.rgb), `alice left: ${pixelAt(frame, W, W / 4, H / 2).join(',')}`);
    assert.ok(
      near(pixelAt(frame, W, (W * 3) / 4, H / 2), COLOURS.bob!.rgb),
      `bob right: ${pixelAt(frame, W, (W * 3) / 4, H / 2).join(',')}`,
    );
    const pcm = await decodePcm(path, Math.max(0, at - 1), 2);
    const off = tonePower(pcm, 660);
    for (const hz of [440, 880]) assert.ok(tonePower(pcm, hz) > 10 * off, `${hz} Hz: ${tonePower(pcm, hz)} vs ${off}`);
  });

  it('fails the broadcast when the app never signals readiness, cannot be reached, or is not http(s)', async () => {
    const call = client.video.call('default', 'custom-fail');
    await call.getOrCreate({ data: { created_by_id: 'alice' } });
    const deadPort = await freePort();
    const cases = [
      { name: 'never-ready', url: `${appUrl}?never-ready`, reason: /did not add #egress-ready-for-capture within 20 s/ },
      {
        name: 'unreachable',
        url: `http://127.0.0.1:${deadPort}/layout.html`,
        reason: /could not be loaded \(net::ERR_CONNECTION_REFUSED\)/,
      },
    ];
    for (const c of cases) {
      await call.startRTMPBroadcasts({
        broadcasts: [
          {
            name: c.name,
            stream_url: ingest.url(),
            stream_key: `fail-${c.name}`,
            quality: QUALITY,
            layout: { name: 'custom', external_app_url: c.url },
          },
        ],
      });
    }
    for (const c of cases) {
      const failed = await waitFor(() => failureOf(c.name), `${c.name} failed`, 60_000, 100);
      assert.match(String(failed.error), c.reason);
    }
    await waitFor(() => runningLayoutBrowsers().length === 0, 'no layout browser', 20_000, 100);
    await waitFor(
      () => stackHelpers().length === 0 && runningLayoutProcesses().length === 0,
      'no display, sound server or capture',
      20_000,
      100,
    );
    await assert.rejects(
      call.startRTMPBroadcasts({
        broadcasts: [
          {
            name: 'file',
            stream_url: ingest.url(),
            stream_key: 'fail-file',
            quality: QUALITY,
            layout: { name: 'custom', external_app_url: 'file:///etc/passwd' },
          },
        ],
      }),
      (err: Error) =>
        /external_app_url must be an http:\/\/ or https:\/\/ URL/.test(err.message) &&
        /400|code/.test(`${err.message} ${JSON.stringify(err)}`),
    );
  });
});
