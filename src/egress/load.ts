/**
 * The service's recent CPU use, for admission: the CPU time of this process (process.cpuUsage)
 * and of its child processes (encoders, decoders, packagers: /proc/<pid>/stat of every
 * descendant, on Linux) over a sliding window, as a share of all cores (1 = every core busy).
 * A sample every `intervalMs`; `cpuShare()` is null until a whole interval has been measured.
 * The arithmetic is the pure `cpuShareOf`; the /proc reading and the timer sit here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ: 100 on Linux). */
const USER_HZ = 100;

export interface LoadSample {
  /** When it was taken (ms, monotonic). */
  atMs: number;
  /** CPU ms the service used since the previous sample. */
  cpuMs: number;
}

/** The share of `cores` the samples used over the window ending at the last one; null without samples. Pure. */
export function cpuShareOf(samples: readonly LoadSample[], sinceMs: number, cores: number): number | null {
  if (samples.length === 0 || cores <= 0) return null;
  const last = samples[samples.length - 1]!;
  const wall = last.atMs - sinceMs;
  if (wall <= 0) return null;
  let cpu = 0;
  for (const s of samples) cpu += s.cpuMs;
  return cpu / (wall * cores);
}

/** utime + stime (ms) from the text of /proc/<pid>/stat, or null. Pure. */
export function procStatCpuMs(stat: string): number | null {
  // The command name (field 2) is in parentheses and may hold spaces: count from the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null;
  return ((utime + stime) * 1000) / USER_HZ;
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** Direct children of a process (every thread's), from /proc; empty where /proc has no such file. */
function childrenOf(pid: number): number[] {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const tid of tasks) {
    const text = readText(`/proc/${pid}/task/${tid}/children`);
    if (text) for (const c of text.trim().split(/\s+/)) if (c) out.push(Number(c));
  }
  return out;
}

/** CPU ms of every descendant of `root` now (pid -> ms). */
function descendantsCpu(root: number): Map<number, number> {
  const out = new Map<number, number>();
  const queue = childrenOf(root);
  while (queue.length > 0 && out.size < 4096) {
    const pid = queue.shift()!;
    if (out.has(pid)) continue;
    const stat = readText(`/proc/${pid}/stat`);
    const ms = stat === null ? null : procStatCpuMs(stat);
    if (ms === null) continue;
    out.set(pid, ms);
    queue.push(...childrenOf(pid));
  }
  return out;
}

export interface ServiceLoadOptions {
  /** How often a sample is taken; default 2 s. */
  intervalMs?: number;
  /** The window the share is computed over; default 10 s. */
  windowMs?: number;
  /** Cores of the machine; default os.availableParallelism(). */
  cores?: number;
}

export class ServiceLoad {
  private readonly intervalMs: number;
  private readonly windowMs: number;
  private readonly cores: number;
  private samples: LoadSample[] = [];
  private windowStart = 0;
  private lastSelfMs = 0;
  private lastChildren = new Map<number, number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(opts: ServiceLoadOptions = {}) {
    this.intervalMs = opts.intervalMs ?? 2_000;
    this.windowMs = opts.windowMs ?? 10_000;
    this.cores = opts.cores ?? availableParallelism();
  }

  /** Starts sampling (idempotent). */
  start(): this {
    if (this.timer) return this;
    this.windowStart = performance.now();
    this.lastSelfMs = selfCpuMs();
    this.lastChildren = descendantsCpu(process.pid);
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** The share of all cores the service used over the last window; null until one interval was measured. */
  cpuShare(): number | null {
    return cpuShareOf(this.samples, this.windowStart, this.cores);
  }

  private sample(): void {
    const now = performance.now();
    const self = selfCpuMs();
    const children = descendantsCpu(process.pid);
    let cpu = Math.max(0, self - this.lastSelfMs);
    // A child seen before counts what it used since; a new one all it used (it started since).
    // A child that exited meanwhile loses its last interval (an underestimate, never more).
    for (const [pid, ms] of children) cpu += Math.max(0, ms - (this.lastChildren.get(pid) ?? 0));
    this.lastSelfMs = self;
    this.lastChildren = children;
    this.samples.push({ atMs: now, cpuMs: cpu });
    while (this.samples.length > 1 && now - this.samples[0]!.atMs >= this.windowMs) {
      this.windowStart = this.samples.shift()!.atMs;
    }
  }
}

function selfCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
