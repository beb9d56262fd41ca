/**
 * A custom-layout broadcast at 720p30 with two participants: the layout app of the end-to-end test
 * (test/e2e/fixtures/custom-layout-app.html, served here on 127.0.0.1) shows two WHIP publishers
 * through WHEP, plays their sound and a tone of its own, and with `?animate` moves a block on
 * every animation frame. Chromium draws it on its own Xvfb display, x11grab and a PulseAudio
 * monitor capture it, and the service encodes it to the local nginx-rtmp ingest.
 *
 * Figures: the CPU of the browser stack (Chromium's processes, Xvfb, pulseaudio and the two capture
 * ffmpegs), the CPU of the rest of the service (Node, the encoder, the participants' decoders), and
 * the distinct pictures per second the ingest received (frames whose animated block moved; the
 * encoder sends 30 frames a second whatever the page delivers, so only a changing picture tells
 * the page's own rate).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { promisify } from 'node:util';
import { TestPublisher } from '../../test/support/publisher.js';
import { grabFrameRgb, pixelAt } from '../../test/support/ffprobe.js';
import { FlvFollower } from '../lib/flv.js';
import { cpuByCommand, type TreeSample } from '../lib/proc.js';
import {
  createCall,
  notMeasured,
  sleep,
  stopBroadcast,
  waitQuiet,
  whipLeave,
  type FigureResult,
  type RunContext,
  type Timings,
} from '../lib/scenario.js';
import { median, round, summarize } from '../lib/stats.js';

const execFileP = promisify(execFile);
const FPS = 30;
const APP_HTML = new URL('../../test/e2e/fixtures/custom-layout-app.html', import.meta.url);
/** Below this many distinct pictures a second, the page did not reach the full rate. */
const MIN_FULL_FPS = 29;

/** Process names of the browser stack (the rest of the service's tree is the service). */
export function isBrowserStack(label: string): boolean {
  return label === 'chromium' || label === 'Xvfb' || label === 'pulseaudio' || label.startsWith('ffmpeg capture');
}

const FIGURES = {
  browser: ['custom_layout_browser_cpu', 'Custom layout 720p30, 2 participants: CPU of the browser stack', 'cores'],
  service: ['custom_layout_service_cpu', 'Custom layout 720p30, 2 participants: CPU of the service (without the browser)', 'cores'],
  fps: ['custom_layout_ingest_fps', 'Custom layout 720p30, 2 participants: distinct pictures per second at the ingest', 'fps'],
} as const;

function failedAll(method: string, reason: string): FigureResult[] {
  return Object.values(FIGURES).map(([id, title, unit]) =>
    notMeasured(id, title, unit, method, reason, id.endsWith('fps') ? '>= 29' : undefined),
  );
}

/**
 * Distinct pictures in `[fromS, fromS + durationS)` of a recording: the animated strip (bottom left)
 * decoded small and grey, a frame counted when it differs from the one before (a moved block
 * changes a tenth of the strip; encoding noise on a repeated frame stays far below).
 */
export async function distinctPictures(path: string, fromS: number, durationS: number): Promise<{ frames: number; distinct: number }> {
  const sw = 64;
  const sh = 4;
  const { stdout } = await execFileP(
    'ffmpeg',
    [
      '-v',
      'error',
      '-ss',
      String(fromS),
      '-t',
      String(durationS),
      '-i',
      path,
      '-an',
      '-vf',
      `crop=iw/2:ih/10:0:ih*9/10,scale=${sw}:${sh},format=gray`,
      '-f',
      'rawvideo',
      'pipe:1',
    ],
    { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024, timeout: 120_000 },
  );
  const size = sw * sh;
  const frames = Math.floor(stdout.length / size);
  let distinct = 0;
  for (let i = 1; i < frames; i++) {
    let diff = 0;
    for (let j = 0; j < size; j++) diff += Math.abs(stdout[i * size + j]! - stdout[(i - 1) * size + j]!);
    if (diff / size > 6) distinct += 1;
  }
  return { frames, distinct };
}

export async function customLayout(ctx: RunContext, t: Timings): Promise<FigureResult[]> {
  const method = `a call of 2 WHIP publishers (640x360 VP8 + Opus) broadcast at 720p30 with layout custom (the e2e fixture app with ?animate: both participants through WHEP, heard, a WebAudio tone, a block moving every animation frame) to nginx-rtmp; after the app shows and ${t.warmupS} s of warm-up, ${t.windows} window(s) of ${t.windowS} s: CPU (/proc utime+stime) of the browser stack (chromium processes, Xvfb, pulseaudio, the x11grab and pulse capture ffmpegs) and of the rest of the service tree (Node, encoder, decoders); distinct pictures per second of the recorded window (the animated strip changed)`;
  const html = readFileSync(APP_HTML, 'utf8');
  const app: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(html);
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', () => resolve()));
  const addr = app.address();
  const appUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/layout.html?animate`;
  const tag = 'custom-layout';
  const members = [`${tag}-a`, `${tag}-b`];
  const publishers: TestPublisher[] = [];
  const { service } = ctx;
  try {
    const call = await createCall(service.client, tag, members);
    for (const [i, m] of members.entries()) {
      const token = service.client.generateUserToken({ user_id: m, validity_in_seconds: 3600 });
      publishers.push(
        await TestPublisher.start({
          url: service.whipUrl('default', tag),
          token,
          color: i === 0 ? 'red' : 'blue',
          size: { width: 640, height: 360 },
          toneHz: 440 * (i + 1),
        }),
      );
    }
    const path = ctx.ingest.recordingPath(tag);
    const follower = new FlvFollower(path, 20);
    try {
      await call.startRTMPBroadcasts({
        broadcasts: [
          {
            name: 'main',
            stream_url: ctx.ingest.url(),
            stream_key: tag,
            quality: '720p',
            layout: { name: 'custom', external_app_url: appUrl } as never,
          },
        ],
      });
      await follower.waitFrames(1, 30_000);
      // The app is on screen when its magenta marker (top-left quarter) is in the recording.
      const shownBy = performance.now() + 60_000;
      for (;;) {
        const at = Math.max(0, follower.frameTimes.length / FPS - 1.5);
        const px = await grabFrameRgb(path, at, 160, 90).then(
          (f) => pixelAt(f, 160, 20, 11),
          () => [0, 0, 0] as [number, number, number],
        );
        if (px[0] > 195 && px[1] < 60 && px[2] > 195) break;
        if (performance.now() > shownBy) throw new Error(`the layout app did not show within 60 s (pixel ${px.join(',')})`);
        await sleep(1000);
      }
      await sleep(t.warmupS * 1000);
      const browserCores: number[] = [];
      const serviceCores: number[] = [];
      const fps: number[] = [];
      const sentFps: number[] = [];
      const byProcess: Record<string, number> = {};
      let measuredS = 0;
      for (let w = 0; w < t.windows; w++) {
        const from = performance.now();
        const startFrame = follower.frameTimes.length;
        const a: TreeSample = service.sample();
        await sleep(t.windowS * 1000);
        const b: TreeSample = service.sample();
        const to = performance.now();
        const secs = (b.at - a.at) / 1000;
        const split = cpuByCommand(a, b);
        let browser = 0;
        let rest = 0;
        for (const [label, cpu] of Object.entries(split)) {
          if (isBrowserStack(label)) browser += cpu;
          else rest += cpu;
          byProcess[label] = (byProcess[label] ?? 0) + cpu;
        }
        measuredS += secs;
        browserCores.push(browser / secs);
        serviceCores.push(rest / secs);
        const sent = follower.framesBetween(from, to);
        sentFps.push(sent / ((to - from) / 1000));
        // The recorded frames of this window, by position in the stream (frames sent / 30).
        const d = await distinctPictures(path, startFrame / FPS, sent / FPS);
        fps.push(d.frames > 1 ? (d.distinct * FPS) / (d.frames - 1) : 0);
      }
      await stopBroadcast(call, 'main');
      const coresByProcess = Object.fromEntries(Object.entries(byProcess).map(([k, v]) => [k, round(v / measuredS)]));
      const warnings: string[] = [];
      if (median(sentFps) < MIN_FULL_FPS)
        warnings.push(`the encoder delivered ${round(median(sentFps), 1)} frames per second at the ingest, not 30`);
      const details = {
        browserCoresPerWindow: browserCores.map((x) => round(x)),
        serviceCoresPerWindow: serviceCores.map((x) => round(x)),
        distinctFpsPerWindow: fps.map((x) => round(x, 1)),
        ingestFramesPerSecond: sentFps.map((x) => round(x, 1)),
        coresByProcess,
      };
      const figure = (key: keyof typeof FIGURES, samples: number[], extra: Partial<FigureResult> = {}): FigureResult => {
        const [id, title, unit] = FIGURES[key];
        const s = summarize(samples);
        return {
          id,
          title,
          value: round(s.median, key === 'fps' ? 1 : 3),
          unit,
          summary: { ...s, samples: s.samples.map((x) => round(x)) },
          met: null,
          method,
          ...(warnings.length ? { warnings } : {}),
          details,
          ...extra,
        };
      };
      return [
        figure('browser', browserCores, { against: `service without the browser: ${round(median(serviceCores), 2)} cores` }),
        figure('service', serviceCores),
        figure('fps', fps, { target: '>= 29', met: median(fps) >= MIN_FULL_FPS }),
      ];
    } finally {
      follower.close();
    }
  } catch (err) {
    return failedAll(method, `the custom-layout broadcast failed: ${(err as Error).message}`);
  } finally {
    for (const p of publishers) {
      await whipLeave(ctx, p.location);
      await p.close();
    }
    await new Promise<void>((resolve) => {
      app.close(() => resolve());
      app.closeAllConnections();
    });
    await waitQuiet(ctx);
  }
}
