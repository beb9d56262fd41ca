/**
 * Captured JPEG pictures -> I420 frames of a fixed size, by one ffmpeg process (so decoding and
 * scaling run beside the service's event loop). The latest whole frame is kept; pictures that
 * arrive while ffmpeg is still busy with earlier ones are dropped (the newest picture matters).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../../log.js';
import { i420Bytes } from '../i420-frame.js';

/** ffmpeg's arguments: a pipe of JPEG images in, raw I420 of `width` x `height` out, one frame per image. */
export function jpegDecoderArgs(width: number, height: number): string[] {
  return [
    '-hide_banner',
    '-loglevel',
    'error',
    '-nostdin',
    '-probesize',
    '32',
    '-analyzeduration',
    '0',
    '-fflags',
    'nobuffer',
    '-f',
    'image2pipe',
    '-c:v',
    'mjpeg',
    '-i',
    'pipe:0',
    '-vf',
    `scale=${width}:${height}:flags=bilinear,format=yuv420p`,
    '-fps_mode',
    'passthrough',
    '-f',
    'rawvideo',
    '-pix_fmt',
    'yuv420p',
    'pipe:1',
  ];
}

/** Bytes queued to ffmpeg beyond which new pictures are dropped. */
const MAX_PENDING_BYTES = 2 * 1024 * 1024;

export class JpegI420Decoder {
  private readonly proc: ChildProcess;
  private readonly frameBytes: number;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private latestFrame: Buffer | null = null;
  private closed = false;
  /** Pictures written, dropped (ffmpeg busy) and frames decoded. */
  readonly counts = { written: 0, dropped: 0, decoded: 0 };

  constructor(
    readonly width: number,
    readonly height: number,
    opts: { ffmpegPath?: string; log: Logger; logContext?: Record<string, unknown> },
  ) {
    this.frameBytes = i420Bytes(width, height);
    this.proc = spawn(opts.ffmpegPath ?? 'ffmpeg', jpegDecoderArgs(width, height), { stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stdout?.on('data', (chunk: Buffer) => this.onData(chunk));
    this.proc.stdin?.on('error', () => undefined);
    let stderr = '';
    this.proc.stderr?.on('data', (c: Buffer) => {
      if (stderr.length < 4096) stderr += c.toString();
    });
    this.proc.once('error', (err) => opts.log.warn({ ...opts.logContext, err: err.message }, 'layout capture decoder could not start'));
    this.proc.once('exit', (code, signal) => {
      if (!this.closed) opts.log.warn({ ...opts.logContext, code, signal, stderr: stderr.trim() }, 'layout capture decoder exited');
    });
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** The latest decoded frame (never modified afterwards), or null before the first. */
  latest(): Buffer | null {
    return this.latestFrame;
  }

  /** Queues one JPEG picture; returns false when it was dropped because ffmpeg is behind. */
  write(jpeg: Buffer): boolean {
    const stdin = this.proc.stdin;
    if (this.closed || !stdin || stdin.destroyed) return false;
    if (stdin.writableLength > MAX_PENDING_BYTES) {
      this.counts.dropped += 1;
      return false;
    }
    this.counts.written += 1;
    stdin.write(jpeg);
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.proc.stdin?.destroy();
    this.proc.kill('SIGKILL');
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.buffered < this.frameBytes) return;
    const all = Buffer.concat(this.chunks, this.buffered);
    const whole = Math.floor(all.length / this.frameBytes);
    const last = whole - 1;
    // A fresh buffer: the frame handed out is never written again.
    this.latestFrame = Buffer.from(all.subarray(last * this.frameBytes, whole * this.frameBytes));
    this.counts.decoded += whole;
    const rest = all.subarray(whole * this.frameBytes);
    this.chunks = rest.length > 0 ? [Buffer.from(rest)] : [];
    this.buffered = rest.length;
  }
}
