/**
 * One ffmpeg process encoding one quality: raw I420 frames on stdin and s16le PCM on fd 3 in,
 * FLV on stdout out, demuxed into tags. Reports its exit; its stderr goes to the log (bounded).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Writable } from 'node:stream';
import { FlvDemuxer } from '../flv/demuxer.js';
import type { FlvTag } from '../flv/tag.js';
import type { Logger } from '../log.js';
import { encoderArgs, i420FrameBytes, type QualityProfile } from './qualities.js';

export interface EncoderExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when the exit followed close(). */
  expected: boolean;
  /** Set when the process could not be started or its pipes failed. */
  error?: Error;
}

export interface EncoderOptions {
  profile: QualityProfile;
  log: Logger;
  /** The ffmpeg executable; default "ffmpeg" on PATH. */
  ffmpegPath?: string;
  /** Input bytes allowed to queue in the pipes before ticks are dropped; default 4 video frames. */
  maxQueuedBytes?: number;
  /** Milliseconds close() waits for a clean exit before SIGKILL; default 2000. */
  stopTimeoutMs?: number;
  /** Extra context for log lines. */
  logContext?: Record<string, unknown>;
}

const STDERR_LINES_PER_MINUTE = 30;
const STDERR_LINE_MAX = 500;

export interface EncoderEvents {
  /** One FLV tag of the output (script, sequence headers, frames). */
  tag: [tag: FlvTag];
  /** The process ended (after close(), or on its own: `expected` says which). Once. */
  exit: [exit: EncoderExit];
}

export class Encoder extends EventEmitter<EncoderEvents> {
  private child: ChildProcess | null = null;
  private videoIn: Writable | null = null;
  private audioIn: Writable | null = null;
  private readonly demuxer = new FlvDemuxer();
  private readonly maxQueuedBytes: number;
  private stopping = false;
  private exited = false;
  private exitPromise: Promise<void> | null = null;
  private closing: Promise<void> | null = null;
  private stderrBuf = '';
  private stderrWindowStart = 0;
  private stderrLinesInWindow = 0;
  private stderrSuppressed = 0;
  /** Ticks written. */
  framesWritten = 0;
  /** Ticks dropped because the encoder could not keep up. */
  framesDropped = 0;

  constructor(private readonly opts: EncoderOptions) {
    super();
    this.maxQueuedBytes = opts.maxQueuedBytes ?? 4 * i420FrameBytes(opts.profile.width, opts.profile.height);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Running: started, not exited. */
  get running(): boolean {
    return this.child !== null && !this.exited;
  }

  /** close() was called or the process ended. */
  get closed(): boolean {
    return this.stopping || this.exited;
  }

  start(): void {
    if (this.child) throw new Error('encoder already started');
    if (this.closing) throw new Error('encoder is closed');
    const child = spawn(this.opts.ffmpegPath || 'ffmpeg', encoderArgs(this.opts.profile), { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
    this.child = child;
    let resolveExit!: () => void;
    this.exitPromise = new Promise((r) => (resolveExit = r));
    let pipeError: Error | undefined;
    const finish = (code: number | null, signal: NodeJS.Signals | null, error?: Error) => {
      if (this.exited) return;
      this.exited = true;
      this.flushStderr();
      const exit: EncoderExit = { code, signal, expected: this.stopping };
      const err = error ?? (this.stopping ? undefined : pipeError);
      if (err) exit.error = err;
      resolveExit();
      this.emit('exit', exit);
    };
    child.on('error', (err) => finish(null, null, err));
    child.on('close', (code, signal) => finish(code, signal));

    this.videoIn = child.stdin;
    this.audioIn = child.stdio[3] as Writable;
    // A dying encoder breaks its pipes (EPIPE); the exit is what gets reported.
    const onPipeError = (err: Error) => {
      pipeError ??= err;
    };
    this.videoIn?.on('error', onPipeError);
    this.audioIn?.on('error', onPipeError);
    child.stdout?.on('error', onPipeError);
    child.stdout?.on('data', (chunk: Buffer) => this.onOutput(chunk));
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (s: string) => this.onStderr(s));
  }

  /** Whether `write` would take a tick now (running, and the pipes are not backed up). */
  get accepting(): boolean {
    const v = this.videoIn;
    const a = this.audioIn;
    if (!this.running || this.stopping || !v || !a || v.destroyed || a.destroyed) return false;
    return v.writableLength + a.writableLength <= this.maxQueuedBytes;
  }

  /**
   * Queues one tick: a video frame and its PCM. Returns false (and writes neither, keeping the
   * two in step) when the encoder is not running or is not keeping up. `videoTaken` is called
   * once the pipe no longer needs the video buffer (also when the frame is not written).
   */
  write(video: Buffer, audio: Buffer, videoTaken?: () => void): boolean {
    const v = this.videoIn;
    const a = this.audioIn;
    if (!this.running || this.stopping || !v || !a || v.destroyed || a.destroyed) {
      videoTaken?.();
      return false;
    }
    if (v.writableLength + a.writableLength > this.maxQueuedBytes) {
      this.framesDropped += 1;
      videoTaken?.();
      return false;
    }
    v.write(video, videoTaken ? () => videoTaken() : undefined);
    a.write(audio);
    this.framesWritten += 1;
    return true;
  }

  /**
   * Ends the input and waits for ffmpeg to flush and exit; kills it if it takes longer than
   * stopTimeoutMs. Idempotent; resolves once the process is gone.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = this.endProcess();
    return this.closing;
  }

  private async endProcess(): Promise<void> {
    if (!this.child || this.exited) {
      this.stopping = true;
      return;
    }
    this.stopping = true;
    this.videoIn?.end();
    this.audioIn?.end();
    const timeout = this.opts.stopTimeoutMs ?? 2000;
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), timeout);
    try {
      await this.exitPromise;
    } finally {
      clearTimeout(timer);
    }
  }

  private onOutput(chunk: Buffer): void {
    let tags: FlvTag[];
    try {
      tags = this.demuxer.push(chunk);
    } catch (err) {
      this.opts.log.error({ ...this.opts.logContext, err: String(err) }, 'encoder output is not valid FLV; restarting the encoder');
      this.child?.kill('SIGKILL');
      return;
    }
    for (const tag of tags) this.emit('tag', tag);
  }

  private onStderr(s: string): void {
    this.stderrBuf += s;
    if (this.stderrBuf.length > 64 * 1024) this.stderrBuf = this.stderrBuf.slice(-STDERR_LINE_MAX);
    let nl: number;
    while ((nl = this.stderrBuf.indexOf('\n')) >= 0) {
      const line = this.stderrBuf.slice(0, nl).trim();
      this.stderrBuf = this.stderrBuf.slice(nl + 1);
      if (line) this.logStderr(line);
    }
  }

  private flushStderr(): void {
    const line = this.stderrBuf.trim();
    this.stderrBuf = '';
    if (line) this.logStderr(line);
  }

  private logStderr(line: string): void {
    const now = Date.now();
    if (now - this.stderrWindowStart > 60_000) {
      if (this.stderrSuppressed > 0) {
        this.opts.log.warn({ ...this.opts.logContext, suppressed: this.stderrSuppressed }, 'ffmpeg: lines suppressed');
      }
      this.stderrWindowStart = now;
      this.stderrLinesInWindow = 0;
      this.stderrSuppressed = 0;
    }
    if (this.stderrLinesInWindow >= STDERR_LINES_PER_MINUTE) {
      this.stderrSuppressed += 1;
      return;
    }
    this.stderrLinesInWindow += 1;
    this.opts.log.warn({ ...this.opts.logContext, ffmpeg: line.slice(0, STDERR_LINE_MAX) }, 'ffmpeg');
  }
}
