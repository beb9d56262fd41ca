/**
 * The receiving end of the latency measurement: an RTMP ingest (ffmpeg -listen) that decodes the
 * broadcast as it arrives and reports when the centre of the picture turns bright (a flash).
 * The picture is scaled down to 16x9 grey pixels so the centre reading averages a large area.
 * Decoding runs single-threaded with the low-delay flag, every decoded frame is written out
 * (no frame-rate conversion) and flushed at once, so no frames are held back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../../test/support/rtmp-ingest.js';

const W = 16;
const H = 9;

/** Mean luma of the 4x3 centre block of a 16x9 grey frame. Pure. */
export function centreLuma(frame: Buffer): number {
  let sum = 0;
  let n = 0;
  for (let y = 3; y < 6; y++)
    for (let x = 6; x < 10; x++) {
      sum += frame[y * W + x]!;
      n += 1;
    }
  return sum / n;
}

/**
 * Pairs each flash send time with the first bright edge seen after it and before the next flash
 * (or `windowMs` later): the delays, ms. Pure.
 */
export function matchFlashes(sent: readonly number[], edges: readonly number[], windowMs: number): number[] {
  const delays: number[] = [];
  for (let i = 0; i < sent.length; i++) {
    const from = sent[i]!;
    const until = Math.min(from + windowMs, sent[i + 1] ?? Infinity);
    const e = edges.find((t) => t >= from && t < until);
    if (e !== undefined) delays.push(e - from);
  }
  return delays;
}

export class FlashObserver {
  /** performance.now() of each dark-to-bright transition at the picture's centre. */
  readonly edges: number[] = [];
  frames = 0;
  private child: ChildProcess | undefined;
  private bright = false;
  private pending: Buffer = Buffer.alloc(0);

  private constructor(
    readonly url: string,
    readonly appUrl: string,
    readonly streamName: string,
  ) {}

  static async start(): Promise<FlashObserver> {
    const port = await freePort();
    const obs = new FlashObserver(`rtmp://127.0.0.1:${port}/live/flash`, `rtmp://127.0.0.1:${port}/live`, 'flash');
    const child = spawn(
      process.env.CALLCAST_FFMPEG || 'ffmpeg',
      [
        '-hide_banner',
        '-loglevel',
        'error',
        '-nostdin',
        '-flags',
        'low_delay',
        '-threads',
        '1',
        '-analyzeduration',
        '500000',
        '-listen',
        '1',
        '-timeout',
        '120',
        '-i',
        obs.url,
        '-an',
        '-vf',
        `scale=${W}:${H},format=gray`,
        '-fps_mode',
        'passthrough',
        '-flush_packets',
        '1',
        '-f',
        'rawvideo',
        'pipe:1',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    obs.child = child;
    child.stderr!.resume();
    child.stdout!.on('data', (d: Buffer) => obs.onData(d));
    // Wait until it listens.
    const { readFileSync } = await import('node:fs');
    const hex = port.toString(16).toUpperCase().padStart(4, '0');
    const deadline = Date.now() + 15_000;
    for (;;) {
      const tcp = readFileSync('/proc/net/tcp', 'utf8');
      if (
        tcp.split('\n').some((l) => {
          const c = l.trim().split(/\s+/);
          return c[1]?.endsWith(`:${hex}`) && c[3] === '0A';
        })
      )
        break;
      if (child.exitCode !== null || Date.now() > deadline) throw new Error('the observing ingest did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
    return obs;
  }

  private onData(d: Buffer): void {
    const now = performance.now();
    this.pending = this.pending.length ? Buffer.concat([this.pending, d]) : d;
    while (this.pending.length >= W * H) {
      const frame = this.pending.subarray(0, W * H);
      this.pending = this.pending.subarray(W * H);
      this.frames += 1;
      const y = centreLuma(frame);
      if (!this.bright && y > 180) {
        this.bright = true;
        this.edges.push(now);
      } else if (this.bright && y < 100) {
        this.bright = false;
      }
    }
  }

  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  }
}
