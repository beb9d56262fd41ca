/**
 * Figure 5, capacity: how many simultaneous 720p30 spotlight broadcast groups (one per call, one
 * destination each, each call with 4 live WHIP participants) the machine sustains at full frame
 * rate, measured at the ingest, against how many ffmpeg compositions of the same four participants
 * (bench/lib/ffmpeg-composition.ts: decode, compose, encode with the egress's settings) it
 * sustains. The participants are replayed recordings (bench/lib/rtp-replay.ts), so that no
 * encoder runs for them. Also yields figure 6a, resident memory per broadcast group.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { TestPublisher } from '../../test/support/publisher.js';
import { scratchDir } from '../lib/encode-floor.js';
import { benchParticipants, compositionArgs, recordClips, spotlightScene, type ParticipantClip } from '../lib/ffmpeg-composition.js';
import { ffmpegPath, stopFfmpeg } from '../lib/ffmpeg-run.js';
import { FlvFollower } from '../lib/flv.js';
import { COLOURS, toneOf } from '../lib/participants.js';
import { RtpReplay } from '../lib/rtp-replay.js';
import { cpuBetween, sampleTree, type TreeSample } from '../lib/proc.js';
import {
  createCall,
  secondsLeft,
  sleep,
  startBroadcast,
  stopBroadcast,
  waitQuiet,
  whipLeave,
  type Call,
  type FigureResult,
  type RunContext,
} from '../lib/scenario.js';
import { round } from '../lib/stats.js';

export const MIN_FPS = 29;

export interface TrialResult {
  n: number;
  seconds: number;
  pass: boolean;
  /** Frames per second each stream delivered to the ingest over the window. */
  fps: number[];
  cpuCores: number;
  rssBytes: number;
  idleRssBytes: number;
  error?: string;
}

let trialNo = 0;

async function measureStreams(
  followers: FlvFollower[],
  sample: () => TreeSample,
  seconds: number,
  warmupS: number,
  n: number,
  idleRss: number,
): Promise<TrialResult> {
  await Promise.all(followers.map((f) => f.waitFrames(1, 30_000)));
  await sleep(warmupS * 1000);
  const a = sample();
  await sleep(seconds * 1000);
  const b = sample();
  const secs = (b.at - a.at) / 1000;
  const fps = followers.map((f) => f.framesBetween(a.at, b.at) / secs);
  return {
    n,
    seconds,
    fps: fps.map((x) => round(x, 2)),
    pass: fps.every((x) => x >= MIN_FPS),
    cpuCores: round(cpuBetween(a, b) / secs),
    rssBytes: b.rssBytes,
    idleRssBytes: idleRss,
  };
}

const PARTICIPANTS = 4;

/** n broadcast groups of different calls on the service, each call with 4 replayed WHIP participants, each to its own ingest stream. */
export async function serviceTrial(
  ctx: RunContext,
  replays: readonly RtpReplay[],
  n: number,
  seconds: number,
  warmupS: number,
): Promise<TrialResult> {
  const tag = `cap${++trialNo}`;
  await waitQuiet(ctx);
  const idleRss = ctx.service.sample().rssBytes;
  const calls: Call[] = [];
  const publishers: TestPublisher[] = [];
  const followers: FlvFollower[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const key = `${tag}-${i}`;
      const members = Array.from({ length: PARTICIPANTS }, (_, j) => `${key}-p${j}`);
      const call = await createCall(ctx.service.client, key, members);
      calls.push(call);
      for (let j = 0; j < PARTICIPANTS; j++) {
        const token = ctx.service.client.generateUserToken({ user_id: members[j]!, validity_in_seconds: 3600 });
        publishers.push(
          await TestPublisher.start({ url: ctx.service.whipUrl('default', key), token, rtpSource: replays[j % replays.length]! }),
        );
      }
      followers.push(new FlvFollower(ctx.ingest.recordingPath(key), 20));
      await startBroadcast(call, 'main', ctx.ingest.url(), key, '720p');
    }
    return await measureStreams(followers, ctx.service.sample, seconds, warmupS, n, idleRss);
  } catch (err) {
    return { n, seconds, pass: false, fps: [], cpuCores: 0, rssBytes: 0, idleRssBytes: idleRss, error: (err as Error).message };
  } finally {
    for (const f of followers) f.close();
    for (const c of calls) await stopBroadcast(c, 'main').catch(() => undefined);
    for (const p of publishers) {
      await whipLeave(ctx, p.location);
      await p.close();
    }
    await sleep(2000);
  }
}

/** n ffmpeg compositions of the same 4 participants, each to its own ingest stream. */
export async function ffmpegTrial(
  ctx: RunContext,
  clips: readonly ParticipantClip[],
  n: number,
  seconds: number,
  warmupS: number,
): Promise<TrialResult> {
  const tag = `ffcomp${++trialNo}`;
  const children: ChildProcess[] = [];
  const followers: FlvFollower[] = [];
  const scene = spotlightScene('720p', benchParticipants(COLOURS.map((_, i) => `p${i}`)));
  try {
    for (let i = 0; i < n; i++) {
      const key = `${tag}-${i}`;
      followers.push(new FlvFollower(ctx.ingest.recordingPath(key), 20));
      const child = spawn(ffmpegPath(), compositionArgs('720p', scene, clips, `${ctx.ingest.url()}/${key}`), {
        stdio: ['ignore', 'ignore', 'ignore'],
      });
      children.push(child);
    }
    const sample = (): TreeSample => {
      const parts = children.map((c) => sampleTree(c.pid!));
      return {
        at: performance.now(),
        cpuByPid: new Map(parts.flatMap((p) => [...p.cpuByPid])),
        commByPid: new Map(parts.flatMap((p) => [...p.commByPid])),
        rssBytes: parts.reduce((s, p) => s + p.rssBytes, 0),
      };
    };
    return await measureStreams(followers, sample, seconds, warmupS, n, 0);
  } catch (err) {
    return { n, seconds, pass: false, fps: [], cpuCores: 0, rssBytes: 0, idleRssBytes: 0, error: (err as Error).message };
  } finally {
    for (const f of followers) f.close();
    await Promise.all(children.map(stopFfmpeg));
    await sleep(2000);
  }
}

/**
 * Next count to try, given the highest count known to pass (lo, 0 if none) and the lowest known
 * to fail (hi, undefined if none); undefined when the boundary is found. Pure.
 */
export function nextCount(lo: number, hi: number | undefined, maxN: number): number | undefined {
  if (hi === undefined) return lo >= maxN ? undefined : Math.min(maxN, lo + Math.max(1, Math.ceil(lo * 0.3)));
  if (hi - lo <= 1) return undefined;
  return Math.floor((lo + hi) / 2);
}

export interface CapacityPlan {
  /** First count to try. */
  start: number;
  maxN: number;
  /** Length of a search trial, s. */
  searchS: number;
  /** Length of the confirming trial, s (0: none). */
  confirmS: number;
  warmupS: number;
  /** Most search trials per side. */
  maxTrials: number;
}

async function search(
  ctx: RunContext,
  trial: (n: number, s: number) => Promise<TrialResult>,
  plan: CapacityPlan,
  label: string,
): Promise<{ capacity: number; confirmed: boolean; trials: TrialResult[] }> {
  const trials: TrialResult[] = [];
  let lo = 0;
  let hi: number | undefined;
  let n: number | undefined = Math.max(1, Math.min(plan.maxN, plan.start));
  while (n !== undefined && trials.length < plan.maxTrials) {
    if (secondsLeft(ctx) < n * 2 + plan.searchS + plan.warmupS + 30) break;
    ctx.log(`figure 5 (${label}): ${n} at once for ${plan.searchS} s`);
    const r = await trial(n, plan.searchS);
    trials.push(r);
    if (r.pass) lo = Math.max(lo, n);
    else hi = hi === undefined ? n : Math.min(hi, n);
    n = lo === 0 && hi !== undefined ? (hi > 1 ? Math.max(1, Math.floor(hi * 0.7)) : undefined) : nextCount(lo, hi, plan.maxN);
    if (n !== undefined && trials.some((t) => t.n === n)) n = undefined;
  }
  let capacity = lo;
  let confirmed = plan.confirmS === 0;
  while (!confirmed && capacity > 0 && secondsLeft(ctx) > plan.confirmS + plan.warmupS + 30) {
    ctx.log(`figure 5 (${label}): confirming ${capacity} for ${plan.confirmS} s`);
    const r = await trial(capacity, plan.confirmS);
    trials.push(r);
    if (r.pass) confirmed = true;
    else capacity -= 1;
  }
  return { capacity, confirmed, trials };
}

export async function capacity(ctx: RunContext, plan: CapacityPlan): Promise<FigureResult[]> {
  ctx.log('figure 5: recording the participants (RTP to replay, streams for the ffmpeg composition)');
  const replays = await Promise.all(COLOURS.map((c, i) => RtpReplay.record(c, toneOf(i))));
  const dir = scratchDir('callcast-capacity-');
  let svc: Awaited<ReturnType<typeof search>>;
  let bare: Awaited<ReturnType<typeof search>>;
  try {
    const paths = await recordClips(
      dir,
      COLOURS,
      COLOURS.map((_, i) => toneOf(i)),
      ctx.smoke ? 2 : 10,
    );
    const clips = paths.map((path, i) => ({ sessionId: `s${i}`, path }));
    svc = await search(ctx, (n, s) => serviceTrial(ctx, replays, n, s, plan.warmupS), plan, 'service');
    bare = await search(ctx, (n, s) => ffmpegTrial(ctx, clips, n, s, plan.warmupS), plan, 'ffmpeg composition');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const summary = (t: TrialResult) => ({
    n: t.n,
    seconds: t.seconds,
    pass: t.pass,
    minFps: t.fps.length ? Math.min(...t.fps) : null,
    cpuCores: t.cpuCores,
    ...(t.error ? { error: t.error } : {}),
  });
  const method = `trials of N simultaneous 720p30 streams to nginx-rtmp (service: N calls of 4 WHIP participants replaying recorded VP8 640x360 + Opus, one spotlight broadcast each; baseline: N ffmpeg processes each decoding the same 4 participants' streams, composing the spotlight and encoding with the egress's settings); a trial passes when every stream delivers >= ${MIN_FPS} video frames/s at the ingest over the window; search trials of ${plan.searchS} s, the result confirmed by a ${plan.confirmS} s trial`;
  const out: FigureResult[] = [
    {
      id: 'capacity_720p30_groups',
      title: 'Capacity: simultaneous 720p30 broadcast groups of 4 live participants at full frame rate',
      value: svc.capacity,
      unit: 'groups',
      met: null,
      against: `ffmpeg composition: ${bare.capacity} processes`,
      method,
      details: {
        ffmpegCompositions: bare.capacity,
        serviceConfirmed: svc.confirmed,
        ffmpegConfirmed: bare.confirmed,
        serviceTrials: svc.trials.map(summary),
        ffmpegTrials: bare.trials.map(summary),
      },
    },
    {
      id: 'capacity_ffmpeg_composition',
      title: 'Capacity baseline: simultaneous ffmpeg compositions of 4 participants, 720p30, at full frame rate',
      value: bare.capacity,
      unit: 'processes',
      met: null,
      method,
    },
  ];
  // Memory per group from the service trial at the capacity found
  // (the trial that established the capacity: passing at that count, the longest such).
  const passing = svc.trials.filter((t) => t.pass);
  const best =
    passing.filter((t) => t.n === svc.capacity).sort((a, b) => b.seconds - a.seconds)[0] ??
    passing.sort((a, b) => b.n - a.n || b.seconds - a.seconds)[0];
  if (best) {
    out.push({
      id: 'memory_per_group',
      title: 'Memory per broadcast group (service RSS, N groups vs idle, / N)',
      value: round((best.rssBytes - best.idleRssBytes) / best.n / 2 ** 20, 1),
      unit: 'MiB',
      met: null,
      against: `idle service: ${Math.round(best.idleRssBytes / 2 ** 20)} MiB`,
      method: `resident memory of the service tree (Node + ffmpeg, VmRSS) at the end of a ${best.seconds} s trial with ${best.n} group(s), minus the tree's RSS just before it, divided by ${best.n}`,
      details: { groups: best.n, rssMiB: round(best.rssBytes / 2 ** 20, 1), idleRssMiB: round(best.idleRssBytes / 2 ** 20, 1) },
    });
  } else {
    out.push({
      id: 'memory_per_group',
      title: 'Memory per broadcast group (service RSS, N groups vs idle, / N)',
      value: null,
      unit: 'MiB',
      met: null,
      notMeasured: 'not measured: no capacity trial passed',
      method: 'from the capacity trials',
    });
  }
  return out;
}
