/**
 * Figure 1, composite overhead: CPU of the whole service (Node and its ffmpeg children) during a
 * broadcast of a call with 4 participants publishing 640x360 over WHIP, against two baselines
 * measured in the same run:
 * - the encode floor: ffmpeg alone encoding the very pictures and sound the service composed (from
 *   the ingest's recording of that broadcast) with the same encoder settings (bench/lib/encode-floor.ts);
 * - what a user would run instead: one ffmpeg decoding the four participants' streams (recorded as
 *   the publishers send them), composing the same spotlight geometry with its filters and encoding
 *   with the same settings (bench/lib/ffmpeg-composition.ts).
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { extractRawClip, floorArgs, scratchDir } from '../lib/encode-floor.js';
import { benchParticipants, compositionArgs, recordClips, spotlightScene, type ParticipantClip } from '../lib/ffmpeg-composition.js';
import { ffmpegPath, stopFfmpeg } from '../lib/ffmpeg-run.js';
import { FlvFollower } from '../lib/flv.js';
import { callWithPublishers, COLOURS, toneOf } from '../lib/participants.js';
import { sampleTree, type TreeSample } from '../lib/proc.js';
import {
  cpuWindows,
  notMeasured,
  sleep,
  startBroadcast,
  stopBroadcast,
  type FigureResult,
  type Quality,
  type RunContext,
  type Timings,
} from '../lib/scenario.js';
import { median, pairedRatios, round, summarize } from '../lib/stats.js';

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

/** One ffmpeg process (a baseline) with `args`, sending to the local ingest's `tag`, measured like the service. */
export async function measureEncode(ctx: RunContext, args: (output: string) => string[], t: Timings, tag: string): Promise<CpuRun> {
  const child = spawn(ffmpegPath(), args(`${ctx.ingest.url()}/${tag}`), { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-2000);
  });
  const exited = new Promise((r) => child.once('exit', r));
  try {
    const follower = new FlvFollower(ctx.ingest.recordingPath(tag), 20);
    try {
      await Promise.race([
        follower.waitFrames(1, 20_000),
        exited.then(() => {
          throw new Error(`the baseline ffmpeg exited: ${err.trim().split('\n').pop() ?? ''}`);
        }),
      ]);
      await sleep(t.warmupS * 1000);
      return await windowsWithFps(follower, () => sampleTree(child.pid!), t);
    } finally {
      follower.close();
    }
  } finally {
    await stopFfmpeg(child);
  }
}

/** The service broadcasting one call at `quality` to the local ingest, with `participants` WHIP publishers. */
export async function measureService(ctx: RunContext, quality: Quality, t: Timings, tag: string, participants: number): Promise<CpuRun> {
  const joined = await callWithPublishers(ctx, tag, participants);
  try {
    const follower = new FlvFollower(ctx.ingest.recordingPath(tag), 20);
    try {
      await startBroadcast(joined.call, 'main', ctx.ingest.url(), tag, quality);
      await follower.waitFrames(1, 20_000);
      await sleep(t.warmupS * 1000);
      const run = await windowsWithFps(follower, ctx.service.sample, t);
      await stopBroadcast(joined.call, 'main');
      return run;
    } finally {
      follower.close();
    }
  } finally {
    await joined.leave();
  }
}

interface Baseline {
  /** In words, for `against`. */
  what: string;
  run: CpuRun;
}

function ratioFigure(
  id: string,
  title: string,
  service: CpuRun,
  baseline: Baseline,
  others: Record<string, Baseline>,
  target: { text: string; limit: number; strict: boolean },
  method: string,
): FigureResult {
  const ratios = pairedRatios(service.cpuPerS, baseline.run.cpuPerS);
  const warnings: string[] = [];
  if (service.ingestFps < MIN_FULL_FPS)
    warnings.push(
      `the service delivered ${service.ingestFps} fps at the ingest during the measurement (not the full 30), so its CPU covers fewer frames`,
    );
  for (const b of [baseline, ...Object.values(others)])
    if (b.run.ingestFps < MIN_FULL_FPS)
      warnings.push(`${b.what} delivered ${b.run.ingestFps} fps at the ingest during the measurement (not the full 30)`);
  const s = summarize(ratios);
  const cores = (r: CpuRun) => round(median(r.cpuPerS), 2);
  return {
    id,
    title,
    value: round(s.median),
    unit: 'x',
    summary: { ...s, samples: s.samples.map((x) => round(x)) },
    target: target.text,
    met: target.strict ? s.median < target.limit : s.median <= target.limit,
    against: [
      `${baseline.what}: ${cores(baseline.run)} cores`,
      ...Object.values(others).map((b) => `${b.what}: ${cores(b.run)} cores`),
      `service: ${cores(service)} cores`,
    ].join('; '),
    method,
    ...(warnings.length ? { warnings } : {}),
    details: {
      serviceCpuCoresPerWindow: service.cpuPerS.map((x) => round(x)),
      baselineCpuCoresPerWindow: baseline.run.cpuPerS.map((x) => round(x)),
      serviceRssMiB: service.rssBytes.map((x) => round(x / 2 ** 20, 1)),
      serviceCoresByProcess: service.coresByCommand,
      serviceIngestFps: service.ingestFps,
      baselineIngestFps: baseline.run.ingestFps,
      ...Object.fromEntries(
        Object.entries(others).map(([k, b]) => [k, { cpuCoresPerWindow: b.run.cpuPerS.map((x) => round(x)), ingestFps: b.run.ingestFps }]),
      ),
    },
  };
}

/** Seconds of the measured broadcast's recording the floor baseline loops (the pictures are still: a few seconds suffice). */
const FLOOR_CLIP_S = 6;

export async function compositeOverhead(ctx: RunContext, t: Timings): Promise<FigureResult[]> {
  const out: FigureResult[] = [];
  const method = `service CPU (Node + ffmpeg children, /proc utime+stime) over ${t.windows} window(s) of ${t.windowS} s of a ${t.warmupS + t.windows * t.windowS} s spotlight broadcast of 4 WHIP participants to nginx-rtmp, divided window by window by the encode floor: ffmpeg alone re-encoding ${FLOOR_CLIP_S} s of that broadcast's recording (decoded to raw once, looped with -re) with the same encoderArgs, to nginx-rtmp`;
  const compMethod = `the same service CPU divided window by window by one ffmpeg decoding the 4 participants' streams (VP8 640x360 + Opus as the publishers send them, looped with -re), composing the same spotlight geometry (scale/crop, overlay, drawtext labels; no rounded corners), mixing the sound (amix) and encoding with the same encoderArgs, to nginx-rtmp`;
  if (!ctx.service.media.composited) {
    for (const q of ['720p', '1080p'] as const) {
      out.push(
        notMeasured(
          `composite_overhead_${q}30`,
          `Composite overhead, ${q}30, 4 WHIP participants`,
          'x',
          method,
          ctx.service.media.reason ?? 'no media plane',
        ),
      );
    }
    return out;
  }
  const clipDir = scratchDir('callcast-participants-');
  try {
    const names = COLOURS.map((_, i) => `p${i}`);
    const participants = benchParticipants(names);
    ctx.log("figure 1: recording the participants' streams for the ffmpeg composition");
    const paths = await recordClips(
      clipDir,
      COLOURS,
      COLOURS.map((_, i) => toneOf(i)),
      ctx.smoke ? 2 : 10,
    );
    const clips: ParticipantClip[] = paths.map((path, i) => ({ sessionId: participants[i]!.sessionId, path }));
    for (const quality of ['720p', '1080p'] as const) {
      const id = `composite_overhead_${quality}30`;
      const title = `Composite overhead vs the encode floor, ${quality}30, 4 WHIP participants`;
      const limit = quality === '720p' ? 1.2 : 1.1;
      const target = `<= ${limit}`;
      const compId = `composition_vs_ffmpeg_${quality}30`;
      const compTitle = `Service vs an ffmpeg filter-graph composition of the same call, ${quality}30`;
      try {
        ctx.log(`figure 1 (${quality}): service with 4 participants`);
        const tag = `overhead-${quality}`;
        const service = await measureService(ctx, quality, t, tag, 4);
        ctx.log(`figure 1 (${quality}): encode floor (the service's own pictures re-encoded)`);
        const size = quality === '720p' ? { width: 1280, height: 720 } : { width: 1920, height: 1080 };
        const clipS = ctx.smoke ? 1 : FLOOR_CLIP_S;
        const raw = await extractRawClip(ctx.ingest.recordingPath(tag), t.warmupS, clipS, size);
        let floor: CpuRun;
        try {
          floor = await measureEncode(ctx, (o) => floorArgs(quality, raw, o), t, `floor-${quality}`);
        } finally {
          raw.remove();
        }
        ctx.log(`figure 1 (${quality}): ffmpeg filter-graph composition of the same participants`);
        const scene = spotlightScene(quality, participants);
        const ffcomp = await measureEncode(ctx, (o) => compositionArgs(quality, scene, clips, o), t, `ffcomp-${quality}`);
        const floorB = { what: "encode floor (ffmpeg re-encoding the service's pictures)", run: floor };
        const compB = { what: 'ffmpeg composition (decode 4, compose, encode)', run: ffcomp };
        out.push(ratioFigure(id, title, service, floorB, { ffmpegComposition: compB }, { text: target, limit, strict: false }, method));
        out.push(
          ratioFigure(compId, compTitle, service, compB, { encodeFloor: floorB }, { text: '< 1', limit: 1, strict: true }, compMethod),
        );
      } catch (err) {
        const reason = `the measurement failed: ${(err as Error).message}`;
        out.push(notMeasured(id, title, 'x', method, reason, target));
        out.push(notMeasured(compId, compTitle, 'x', compMethod, reason, '< 1'));
      }
    }
  } finally {
    rmSync(clipDir, { recursive: true, force: true });
  }
  return out;
}
