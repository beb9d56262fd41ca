/**
 * CPU time and resident memory of a process and all its descendants, from /proc (Linux).
 * The parsers are pure; `sampleTree` does the reading.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

export interface ProcStat {
  pid: number;
  comm: string;
  /** utime + stime, clock ticks. */
  ticks: number;
  /** cutime + cstime (reaped children), clock ticks. */
  childTicks: number;
}

/** Parses /proc/<pid>/stat (the command name may hold spaces and parentheses). */
export function parseProcStat(text: string): ProcStat {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw new Error('not a /proc stat line');
  const pid = Number(text.slice(0, open).trim());
  const comm = text.slice(open + 1, close);
  // Fields after the command: state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17).
  const rest = text
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  const field = (n: number) => Number(rest[n - 3]);
  return { pid, comm, ticks: field(14) + field(15), childTicks: field(16) + field(17) };
}

/** Resident set size in bytes from /proc/<pid>/status ("VmRSS: 1234 kB"); 0 when absent. */
export function parseVmRss(statusText: string): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(statusText);
  return m ? Number(m[1]) * 1024 : 0;
}

let clockTicks: number | undefined;
/** Clock ticks per second (getconf CLK_TCK; 100 on Linux unless configured otherwise). */
export function clockTicksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Direct children of a process (all its threads' children). */
export function childrenOf(pid: number): number[] {
  const out = new Set<number>();
  let tasks: string[] = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  for (const tid of tasks) {
    const text = readOr(`/proc/${pid}/task/${tid}/children`);
    if (!text) continue;
    for (const c of text.trim().split(/\s+/)) if (c) out.add(Number(c));
  }
  return [...out];
}

/** The command name of a process ('' when it is gone). */
export function procComm(pid: number): string {
  const stat = readOr(`/proc/${pid}/stat`);
  return stat ? parseProcStat(stat).comm : '';
}

/** The process and all its descendants, root first. */
export function processTree(root: number): number[] {
  const seen: number[] = [];
  const queue = [root];
  while (queue.length) {
    const pid = queue.shift()!;
    if (seen.includes(pid)) continue;
    if (readOr(`/proc/${pid}/stat`) === undefined) continue;
    seen.push(pid);
    queue.push(...childrenOf(pid));
  }
  return seen;
}

/**
 * A readable name for a process of the service: ffmpeg processes are told apart by their role
 * (the egress encoder writes H.264, the media plane's decoders read RTP, a layout browser's
 * captures read its X display or its PulseAudio sink). Pure.
 */
export function processLabel(comm: string, cmdline: string): string {
  if (comm !== 'ffmpeg') return comm;
  const args = cmdline.split('\0');
  if (args.includes('libx264')) return 'ffmpeg encoder';
  // A browser-rendered layout's captures (src/render/browser/screen-capture.ts).
  if (args.includes('x11grab')) return 'ffmpeg capture display';
  if (args.includes('pulse')) return 'ffmpeg capture sound';
  if (args.some((a) => a.endsWith('.sdp'))) return args.includes('pcm_s16le') ? 'ffmpeg audio decoder' : 'ffmpeg video decoder';
  return 'ffmpeg';
}

export interface TreeSample {
  /** When sampled (performance.now(), ms). */
  at: number;
  /** CPU seconds per pid (own utime+stime plus reaped children). */
  cpuByPid: Map<number, number>;
  /** Command name per pid. */
  commByPid: Map<number, string>;
  /** Resident bytes of the whole tree. */
  rssBytes: number;
}

/** Reads CPU and RSS of the whole tree rooted at `root`. */
export function sampleTree(root: number): TreeSample {
  const hz = clockTicksPerSecond();
  const cpuByPid = new Map<number, number>();
  const commByPid = new Map<number, string>();
  let rssBytes = 0;
  for (const pid of processTree(root)) {
    const stat = readOr(`/proc/${pid}/stat`);
    if (!stat) continue;
    const s = parseProcStat(stat);
    cpuByPid.set(pid, (s.ticks + s.childTicks) / hz);
    commByPid.set(pid, processLabel(s.comm, readOr(`/proc/${pid}/cmdline`) ?? ''));
    rssBytes += parseVmRss(readOr(`/proc/${pid}/status`) ?? '');
  }
  return { at: performance.now(), cpuByPid, commByPid, rssBytes };
}

/**
 * CPU seconds the tree spent between two samples: the growth of every process alive at both ends,
 * plus everything a process born in between has used (it started inside the window).
 */
export function cpuBetween(a: TreeSample, b: TreeSample): number {
  let total = 0;
  for (const [pid, cpu] of b.cpuByPid) {
    const before = a.cpuByPid.get(pid);
    total += before === undefined ? cpu : Math.max(0, cpu - before);
  }
  return total;
}

/** CPU seconds per command name between two samples (e.g. node vs ffmpeg). */
export function cpuByCommand(a: TreeSample, b: TreeSample): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [pid, cpu] of b.cpuByPid) {
    const before = a.cpuByPid.get(pid);
    const comm = b.commByPid.get(pid) ?? '?';
    out[comm] = (out[comm] ?? 0) + (before === undefined ? cpu : Math.max(0, cpu - before));
  }
  return out;
}

/** Whole-machine load and identity, for the report. */
export function loadAverage(): number[] {
  const text = readOr('/proc/loadavg') ?? '';
  return text.trim().split(/\s+/).slice(0, 3).map(Number);
}
