/**
 * What a layout browser shows and plays, taken by ffmpeg: its X display through x11grab as raw
 * I420 frames of the canvas size at the broadcast's frame rate, and its PulseAudio sink's monitor
 * as s16le 48 kHz stereo. Each runs in a process group of its own, beside the service's event loop.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_UNIX_SOCKET_PATH, readUnixOutput } from '../../media/unix-output.js';
import { FixedSizeReader } from '../../media/rtp-process.js';
import type { FramePool } from '../frame-pool.js';
import { i420Bytes } from '../i420-frame.js';
import { ChildGroup } from './child-group.js';
import { PULSE_SINK } from './pulse-server.js';

/** ffmpeg's arguments: display `display` (e.g. `:42`) at `width` x `height`, `fps` frames a second, raw I420 out. */
export function x11grabArgs(display: string, width: number, height: number, fps: number): string[] {
  return [
    '-hide_banner',
    '-loglevel',
    'error',
    '-nostdin',
    '-f',
    'x11grab',
    '-draw_mouse',
    '0',
    '-framerate',
    String(fps),
    '-video_size',
    `${width}x${height}`,
    '-i',
    `${display}.0`,
    '-fps_mode',
    'passthrough',
    '-f',
    'rawvideo',
    '-pix_fmt',
    'yuv420p',
    'pipe:1',
  ];
}

/** 20 ms of s16le stereo 48 kHz: how much PulseAudio hands the capture at a time. */
const PULSE_FRAGMENT_BYTES = 3840;

/** ffmpeg's arguments: the monitor of the PulseAudio sink, s16le 48 kHz stereo out. */
export function pulseCaptureArgs(): string[] {
  return [
    '-hide_banner',
    '-loglevel',
    'error',
    '-nostdin',
    '-f',
    'pulse',
    '-sample_rate',
    '48000',
    '-channels',
    '2',
    '-fragment_size',
    String(PULSE_FRAGMENT_BYTES),
    '-i',
    `${PULSE_SINK}.monitor`,
    '-f',
    's16le',
    '-ar',
    '48000',
    '-ac',
    '2',
    'pipe:1',
  ];
}

/**
 * Captured frames waiting for the encoder's ticks. The capture and the encoder both run at the
 * broadcast's frame rate on the wall clock, but each with its own jitter: showing only the newest
 * frame at each tick would show one frame twice and skip the next whenever the two clocks meet.
 * Each tick takes the oldest waiting frame instead (or the last one again when none is waiting),
 * so every captured frame gets a tick of its own; beyond `maxWaiting` the oldest are dropped, which
 * bounds the added latency to a few frames.
 */
export class FrameQueue {
  private waiting: Buffer[] = [];
  private current: Buffer | null = null;
  /** Frames dropped because too many were waiting. */
  dropped = 0;
  /** Ticks that showed the last frame again because none was waiting (after the first frame). */
  repeated = 0;

  /**
   * `release` is called with each frame the queue lets go of: dropped unshown, or replaced as the
   * one shown last.
   */
  constructor(
    private readonly maxWaiting = 3,
    private readonly release: (frame: Buffer) => void = () => undefined,
  ) {}

  push(frame: Buffer): void {
    this.waiting.push(frame);
    while (this.waiting.length > this.maxWaiting) {
      this.release(this.waiting.shift()!);
      this.dropped += 1;
    }
  }

  /** The frame for this tick: the oldest waiting one, else the one shown last (null before the first). */
  next(): Buffer | null {
    const frame = this.waiting.shift();
    if (frame) {
      if (this.current) this.release(this.current);
      this.current = frame;
    } else if (this.current) this.repeated += 1;
    return this.current;
  }

  /** Lets go of every frame (the capture stopped). */
  clear(): void {
    for (const f of this.waiting) this.release(f);
    this.waiting = [];
    if (this.current) this.release(this.current);
    this.current = null;
  }

  /** Whether a frame has been shown yet. */
  get started(): boolean {
    return this.current !== null || this.waiting.length > 0;
  }
}

export interface CaptureOptions {
  ffmpegPath?: string;
}

/**
 * x11grab of a display: calls `onFrame` with each new I420 frame, a buffer of `pool` held once on
 * the callback's behalf (release it when done). ffmpeg writes the pictures to a Unix socket they
 * are read from into pool buffers: no allocation per picture (a pipe would allocate each read).
 */
export function startVideoCapture(
  opts: CaptureOptions & {
    display: string;
    /** The display's Xauthority file. */
    xauthority?: string;
    width: number;
    height: number;
    fps: number;
    pool: FramePool;
    onFrame: (frame: Buffer) => void;
  },
): ChildGroup {
  const dir = mkdtempSync(join(tmpdir(), 'callcast-capture-'));
  const path = join(dir, 'pictures.sock');
  const viaSocket = path.length <= MAX_UNIX_SOCKET_PATH;
  const args = x11grabArgs(opts.display, opts.width, opts.height, opts.fps);
  if (viaSocket) args.splice(args.length - 1, 1, '-listen', '1', `unix:${path}`);
  const proc = ChildGroup.spawn('the display capture', opts.ffmpegPath ?? 'ffmpeg', args, {
    stdio: ['ignore', viaSocket ? 'ignore' : 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...(opts.xauthority ? { XAUTHORITY: opts.xauthority } : {}) },
  });
  const reader = new FixedSizeReader(i420Bytes(opts.width, opts.height), opts.onFrame, { pool: opts.pool });
  if (viaSocket) {
    const output = readUnixOutput(path, (chunk) => reader.push(chunk));
    proc.onExit(() => {
      output.close();
      reader.close();
      rmSync(dir, { recursive: true, force: true });
    });
  } else {
    rmSync(dir, { recursive: true, force: true });
    proc.child.stdout?.on('data', (chunk: Buffer) => reader.push(chunk));
    proc.onExit(() => reader.close());
  }
  return proc;
}

/** Recording of the PulseAudio server's sink: calls `onPcm` with s16le stereo 48 kHz as it comes. */
export function startAudioCapture(opts: CaptureOptions & { pulseServer: string; onPcm: (pcm: Buffer) => void }): ChildGroup {
  const proc = ChildGroup.spawn('the sound capture', opts.ffmpegPath ?? 'ffmpeg', pulseCaptureArgs(), {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PULSE_SERVER: opts.pulseServer },
  });
  proc.child.stdout?.on('data', (chunk: Buffer) => opts.onPcm(chunk));
  return proc;
}
