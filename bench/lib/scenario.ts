/**
 * What the figures share: the run context, calls with broadcasts driven through the API, CPU
 * windows over the service's process tree, and the result record of a figure.
 */
import type { StreamClient } from '@stream-io/node-sdk';
import type { NginxIngest } from '../../test/support/rtmp-ingest.js';
import { cpuBetween, cpuByCommand, procComm, processTree, type TreeSample } from './proc.js';
import type { ServiceHandle } from './service.js';
import { median, type Summary } from './stats.js';

export type Quality = '720p' | '1080p';

export interface Timings {
  /** Warm-up before measuring, s. */
  warmupS: number;
  /** One CPU window, s. */
  windowS: number;
  /** Windows per configuration. */
  windows: number;
}

export interface RunContext {
  smoke: boolean;
  service: ServiceHandle;
  ingest: NginxIngest;
  /** performance.now() by which the whole run must be over. */
  deadline: number;
  log(msg: string): void;
}

export interface FigureResult {
  id: string;
  title: string;
  /** The figure (median), or null when not measured. */
  value: number | null;
  unit: string;
  /** Spread of the samples the median came from. */
  summary?: Summary;
  /** E.g. "<= 1.5". */
  target?: string;
  /** Whether the target is met (null: no target or not measured). */
  met: boolean | null;
  /** "not measured: <reason>" when value is null. */
  notMeasured?: string;
  /** How it was measured, and the raw inputs. */
  method: string;
  /** The same-run baseline the figure is read against, in words (e.g. "ffmpeg alone: 0.26 cores"). */
  against?: string;
  /** What makes this run's figure doubtful (e.g. frames not delivered at full rate). */
  warnings?: string[];
  details?: Record<string, unknown>;
}

export function notMeasured(id: string, title: string, unit: string, method: string, reason: string, target?: string): FigureResult {
  return { id, title, value: null, unit, met: null, notMeasured: `not measured: ${reason}`, method, ...(target ? { target } : {}) };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

let callTypeReady = false;
const hostUser = 'bench-host';

/** A call of the 'default' type with broadcasting enabled, its creator an admin. */
export async function createCall(
  client: StreamClient,
  id: string,
  members: string[] = [],
): Promise<ReturnType<StreamClient['video']['call']>> {
  if (!callTypeReady) {
    await client.upsertUsers([{ id: hostUser, name: 'Bench host', role: 'admin' }]);
    await client.video.updateCallType({
      name: 'default',
      settings: {
        broadcasting: { enabled: true, rtmp: { enabled: true, quality: '720p', layout: { name: 'spotlight' } } },
      } as never,
    });
    callTypeReady = true;
  }
  if (members.length) await client.upsertUsers(members.map((m) => ({ id: m, name: m, role: 'user' })));
  const call = client.video.call('default', id);
  await call.getOrCreate({
    data: { created_by_id: hostUser, members: members.map((m) => ({ user_id: m, role: 'host' })) },
  });
  return call;
}

export type Call = Awaited<ReturnType<typeof createCall>>;

export async function startBroadcast(call: Call, name: string, url: string, key: string, quality: Quality): Promise<void> {
  await call.startRTMPBroadcasts({
    broadcasts: [{ name, stream_url: url, stream_key: key, quality, layout: { name: 'spotlight' } as never }],
  });
}

export async function stopBroadcast(call: Call, name: string): Promise<void> {
  await call.stopRTMPBroadcast({ name });
}

/** States of a call's broadcasts as the API reports them. */
export async function broadcastStates(call: Call): Promise<Array<{ name: string; state?: string }>> {
  const res = await call.get();
  return (res.call.egress.rtmps ?? []).map((r) => ({ name: r.name, state: (r as { state?: string }).state }));
}

/** CPU seconds per wall-clock second of a process tree over `windows` consecutive windows. */
export async function cpuWindows(
  sample: () => TreeSample,
  t: Pick<Timings, 'windowS' | 'windows'>,
): Promise<{ cpuPerS: number[]; rssBytes: number[]; coresByCommand: Record<string, number> }> {
  const cpuPerS: number[] = [];
  const rssBytes: number[] = [];
  const first = sample();
  let a = first;
  for (let i = 0; i < t.windows; i++) {
    // Resident memory moves with garbage collection: take the median of one reading a second.
    const rss: number[] = [];
    const end = performance.now() + t.windowS * 1000;
    while (end - performance.now() > 1000) {
      await sleep(1000);
      rss.push(sample().rssBytes);
    }
    await sleep(Math.max(0, end - performance.now()));
    const b = sample();
    rss.push(b.rssBytes);
    cpuPerS.push(cpuBetween(a, b) / ((b.at - a.at) / 1000));
    rssBytes.push(median(rss));
    a = b;
  }
  // Where the CPU went over all windows (e.g. node vs ffmpeg), in cores.
  const coresByCommand: Record<string, number> = {};
  const secs = (a.at - first.at) / 1000;
  for (const [comm, cpu] of Object.entries(cpuByCommand(first, a))) coresByCommand[comm] = Math.round((cpu / secs) * 1000) / 1000;
  return { cpuPerS, rssBytes, coresByCommand };
}

/** Seconds left before the run's deadline. */
export function secondsLeft(ctx: RunContext): number {
  return (ctx.deadline - performance.now()) / 1000;
}

/** The service's media processes (its ffmpeg encoders and decoders) running now. */
export function mediaProcesses(ctx: RunContext): number {
  return processTree(ctx.service.pid)
    .slice(1)
    .filter((pid) => procComm(pid) === 'ffmpeg').length;
}

/**
 * Waits (at most `timeoutMs`) until the service runs no media process: the encoders of stopped
 * broadcasts and the decoders of participants who left would otherwise be counted in the next
 * measurement. Other children (the TypeScript loader's esbuild service) live as long as the
 * service and are not waited for.
 */
export async function waitQuiet(ctx: RunContext, timeoutMs = 20_000): Promise<boolean> {
  const until = performance.now() + timeoutMs;
  while (performance.now() < until) {
    if (mediaProcesses(ctx) === 0) return true;
    await sleep(250);
  }
  ctx.log(`the service still runs ${mediaProcesses(ctx)} media process(es) after ${timeoutMs} ms`);
  return false;
}

/**
 * Leaves a call the WHIP way (DELETE of the session resource), so the service releases the
 * participant at once instead of after its disconnect grace. The resource path is resolved
 * against the service's own address. Errors are ignored: closing the peer follows anyway.
 */
export async function whipLeave(ctx: RunContext, location: string | undefined): Promise<void> {
  if (!location) return;
  try {
    const url = new URL(new URL(location).pathname, ctx.service.url);
    const res = await fetch(url, { method: 'DELETE', signal: AbortSignal.timeout(5000) });
    await res.arrayBuffer();
  } catch {
    /* the peer is closed next anyway */
  }
}
