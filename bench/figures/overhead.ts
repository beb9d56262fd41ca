/**
 * Figure 1, composite overhead: CPU of the whole service (Node and its ffmpeg children) during a
 * broadcast of a call with 4 participants publishing 640x360 over WHIP, divided by the CPU of
 * ffmpeg alone encoding testsrc2 + a tone with the same encoder settings, in the same run.
 */
import { TestPublisher } from '../../test/support/publisher.js';
import { startBaseline } from '../lib/baseline.js';
import { FlvFollower } from '../lib/flv.js';
import { sampleTree, type TreeSample } from '../lib/proc.js';
import {
  cpuWindows,
  createCall,
  notMeasured,
  sleep,
  startBroadcast,
  stopBroadcast,
  waitQuiet,
  whipLeave,
  type FigureResult,
  type Quality,
  type RunContext,
  type Timings,
} from '../lib/scenario.js';
import { median, pairedRatios, round, summarize } from '../lib/stats.js';

const COLOURS = ['red', 'green', 'blue', 'yellow'];
/** Below this many frames per second at the ingest, a run is flagged as not at full rate. */
export const MIN_FULL_FPS = 29;

export interface CpuRun {
  cpuPerS: number[];
  rssBytes: number[];
  coresByCommand: Record<string, number>;
  /** Video frames per second the ingest received during the windows. */
  ingestFps: number;
}

async function windowsWithFps(follower: FlvFollower, sample: () => TreeSample, t: Timings): Promise<CpuRun> {
  const from = performance.now();
  const run = await cpuWindows(sample, t);
  const to = performance.now();
  return { ...run, ingestFps: round(follower.framesBetween(from, to) / ((to - from) / 1000), 2) };
}

/** ffmpeg alone: testsrc2 + sine, encoder settings of the egress, sent to the local ingest. */
export async function measureBaseline(ctx: RunContext, quality: Quality, t: Timings, tag: string, source?: string): Promise<CpuRun> {
  const enc = startBaseline(quality, `${ctx.ingest.url()}/${tag}`, source);
  try {
    const follower = new FlvFollower(ctx.ingest.recordingPath(tag), 20);
    try {
      await follower.waitFrames(1, 20_000);
      await sleep(t.warmupS * 1000);
      return await windowsWithFps(follower, () => sampleTree(enc.pid), t);
    } finally {
      follower.close();
    }
  } finally {
    await enc.stop();
  }
}

/** The service broadcasting one call at `quality` to the local ingest, with `participants` WHIP publishers. */
export async function measureService(ctx: RunContext, quality: Quality, t: Timings, tag: string, participants: number): Promise<CpuRun> {
  const { service } = ctx;
  const members = Array.from({ length: participants }, (_, i) => `${tag}-p${i}`);
  const call = await createCall(service.client, tag, members);
  const publishers: TestPublisher[] = [];
  try {
    for (let i = 0; i < participants; i++) {
      const token = service.client.generateUserToken({ user_id: members[i]!, validity_in_seconds: 3600 });
      publishers.push(
        await TestPublisher.start({
          url: service.whipUrl('default', tag),
          token,
          color: COLOURS[i % COLOURS.length]!,
          size: { width: 640, height: 360 },
          toneHz: 300 + 100 * i,
        }),
      );
    }
    const follower = new FlvFollower(ctx.ingest.recordingPath(tag), 20);
    try {
      await startBroadcast(call, 'main', ctx.ingest.url(), tag, quality);
      await follower.waitFrames(1, 20_000);
      await sleep(t.warmupS * 1000);
      const run = await windowsWithFps(follower, service.sample, t);
      await stopBroadcast(call, 'main');
      return run;
    } finally {
      follower.close();
    }
  } finally {
    for (const p of publishers) {
      await whipLeave(ctx, p.location);
      await p.close();
    }
    await waitQuiet(ctx);
  }
}

function ratioFigure(
  id: string,
  title: string,
  service: CpuRun,
  baseline: CpuRun,
  target: string | undefined,
  limit: number | undefined,
  method: string,
  staticBaseline?: CpuRun,
): FigureResult {
  const extra: Record<string, unknown> = {};
  if (staticBaseline) {
    const m = median(staticBaseline.cpuPerS);
    extra.staticPictureBaselineCores = staticBaseline.cpuPerS.map((x) => round(x));
    extra.ratioToStaticPictureBaseline = m > 0 ? round(median(service.cpuPerS) / m) : null;
  }
  const ratios = pairedRatios(service.cpuPerS, baseline.cpuPerS);
  const warnings: string[] = [];
  if (service.ingestFps < MIN_FULL_FPS)
    warnings.push(
      `the service delivered ${service.ingestFps} fps at the ingest during the measurement (not the full 30), so its CPU covers fewer frames`,
    );
  if (baseline.ingestFps < MIN_FULL_FPS)
    warnings.push(`the baseline delivered ${baseline.ingestFps} fps at the ingest during the measurement (not the full 30)`);
  const s = summarize(ratios);
  return {
    id,
    title,
    value: round(s.median),
    unit: 'x',
    summary: { ...s, samples: s.samples.map((x) => round(x)) },
    ...(target ? { target } : {}),
    met: limit === undefined ? null : s.median <= limit,
    against: `ffmpeg alone: ${round(median(baseline.cpuPerS), 2)} cores; service: ${round(median(service.cpuPerS), 2)} cores`,
    method,
    ...(warnings.length ? { warnings } : {}),
    details: {
      serviceCpuCoresPerWindow: service.cpuPerS.map((x) => round(x)),
      baselineCpuCoresPerWindow: baseline.cpuPerS.map((x) => round(x)),
      serviceRssMiB: service.rssBytes.map((x) => round(x / 2 ** 20, 1)),
      serviceCoresByProcess: service.coresByCommand,
      serviceIngestFps: service.ingestFps,
      baselineIngestFps: baseline.ingestFps,
      ...extra,
    },
  };
}

export async function compositeOverhead(ctx: RunContext, t: Timings): Promise<FigureResult[]> {
  const out: FigureResult[] = [];
  const composited = ctx.service.media.composited;
  const method = `service CPU (Node + ffmpeg children, /proc utime+stime) over ${t.windows} window(s) of ${t.windowS} s of a ${t.warmupS + t.windows * t.windowS} s broadcast to nginx-rtmp, divided window by window by ffmpeg alone (testsrc2 + sine, same encoderArgs, -re, to nginx-rtmp)`;
  for (const quality of ['720p', '1080p'] as const) {
    const id = `composite_overhead_${quality}30`;
    const title = `Composite overhead, ${quality}30, 4 WHIP participants`;
    const target = quality === '720p' ? '<= 1.5' : undefined;
    ctx.log(`figure 1 (${quality}): baseline encode`);
    const baseline = await measureBaseline(ctx, quality, t, `baseline-${quality}`);
    // For reading the ratio: the same encoder on a still, flat picture (easier than testsrc2,
    // closer to a call of still participants), one window.
    let still: CpuRun | undefined;
    if (quality === '720p') {
      ctx.log(`figure 1 (${quality}): still-picture baseline (for reference)`);
      still = await measureBaseline(ctx, quality, { ...t, windows: 1 }, `still-${quality}`, 'gray');
    }
    if (composited) {
      ctx.log(`figure 1 (${quality}): service with 4 participants`);
      try {
        const service = await measureService(ctx, quality, t, `overhead-${quality}`, 4);
        out.push(ratioFigure(id, title, service, baseline, target, quality === '720p' ? 1.5 : undefined, method, still));
      } catch (err) {
        out.push(notMeasured(id, title, 'x', method, `the broadcast with WHIP participants failed: ${(err as Error).message}`, target));
      }
    } else {
      out.push(notMeasured(id, title, 'x', method, ctx.service.media.reason ?? 'no media plane', target));
      // What can be measured meanwhile: the egress alone (its placeholder picture, no participants).
      ctx.log(`figure 1 (${quality}): service without participants (egress only)`);
      const service = await measureService(ctx, quality, t, `egress-${quality}`, 0);
      out.push(
        ratioFigure(
          `egress_overhead_${quality}30`,
          `Egress-only overhead, ${quality}30, no participants (background picture)`,
          service,
          baseline,
          undefined,
          undefined,
          `${method}; the service shows its layout background (no compositing), so this is the egress pipeline's cost against a harder-to-encode synthetic picture`,
          still,
        ),
      );
    }
  }
  return out;
}
