/**
 * A publish session that packages the group's FLV into files instead of sending it to a server:
 * one ffmpeg process reading FLV on stdin and copying the streams (`-c copy`, no second encode)
 * into the muxer its arguments name (HLS, MP4). A destination drives it like an RTMP session:
 * it starts at a keyframe after the cached metadata and sequence headers, and a full pipe drops
 * tags up to the next keyframe instead of queueing without bound.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { FlvTag } from '../flv/tag.js';
import { flvFileHeader, flvTagBytes } from '../flv/writer.js';
import type { Logger } from '../log.js';
import type { PublishSession } from './destination.js';

export interface PackagerOptions {
  /** ffmpeg's output arguments (after `-i pipe:0`): codecs, muxer, options, the output path. */
  outputArgs: string[];
  log: Logger;
  /** The ffmpeg executable; default "ffmpeg" on PATH. */
  ffmpegPath?: string;
  /** Bytes allowed to queue in the pipe before tags are refused; default 8 MiB. */
  maxQueuedBytes?: number;
  /** Milliseconds close() waits for ffmpeg to finish its files before SIGKILL; default 5000. */
  stopTimeoutMs?: number;
  /**
   * Whether an unexpected exit may be retried with a new process (HLS: yes, it appends to its
   * playlist); when false the destination fails at once.
   */
  retryable?: boolean;
  logContext?: Record<string, unknown>;
}

/** The error an unexpected packager exit closes the session with. */
export class PackagerError extends Error {
  override readonly name = 'PackagerError';
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

/** The input half of every packager command line: FLV on stdin, timestamps as they come. */
export function packagerInputArgs(): string[] {
  return ['-hide_banner', '-loglevel', 'warning', '-nostats', '-nostdin', '-f', 'flv', '-i', 'pipe:0'];
}

/** ffmpeg's arguments that take the group's video and its audio (when there is any) as they are. */
export function copyGroupStreamsArgs(): string[] {
  return ['-map', '0:v:0', '-map', '0:a:0?', '-c', 'copy'];
}

export class PackagerSession extends EventEmitter<{ close: [err: Error | null] }> implements PublishSession {
  private child: ChildProcess | null = null;
  private exited = false;
  private closingStarted = false;
  private exitPromise: Promise<void> = Promise.resolve();
  private closePromise: Promise<void> | null = null;
  private lastStderr: string[] = [];
  private readonly maxQueuedBytes: number;
  bytesSent = 0;
  /** The last AVC and AAC sequence headers sent (the codecs of what the files hold). */
  videoConfig: Buffer | null = null;
  audioConfig: Buffer | null = null;

  constructor(private readonly opts: PackagerOptions) {
    super();
    this.maxQueuedBytes = opts.maxQueuedBytes ?? 8 * 1024 * 1024;
  }

  get pid(): number | undefined {
    return this.exited ? undefined : this.child?.pid;
  }

  get backedUp(): boolean {
    const stdin = this.child?.stdin;
    return !stdin || stdin.writableLength > this.maxQueuedBytes;
  }

  connect(): Promise<void> {
    if (this.child) return Promise.reject(new Error('packager already started'));
    const child = spawn(this.opts.ffmpegPath || 'ffmpeg', [...packagerInputArgs(), ...this.opts.outputArgs], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    this.child = child;
    let resolveExit!: () => void;
    this.exitPromise = new Promise((r) => (resolveExit = r));
    child.stdin?.on('error', () => undefined); // a dying ffmpeg breaks the pipe; its exit is what counts
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (s: string) => this.onStderr(s));
    return new Promise<void>((resolve, reject) => {
      let spawned = false;
      child.once('spawn', () => {
        spawned = true;
        child.stdin?.write(flvFileHeader());
        resolve();
      });
      child.once('error', (err) => {
        if (!spawned) reject(err);
      });
      child.once('close', (code, signal) => {
        this.exited = true;
        resolveExit();
        if (!spawned) return;
        if (this.closingStarted) {
          this.emit('close', null);
          return;
        }
        const tail = this.lastStderr.join(' | ');
        const err = new PackagerError(
          `the packager (ffmpeg) exited (${signal ?? `code ${code}`})${tail ? `: ${tail}` : ''}`,
          this.opts.retryable ?? true,
        );
        this.opts.log.warn({ ...this.opts.logContext, code, signal }, 'packager exited unexpectedly');
        this.emit('close', err);
      });
    });
  }

  sendTag(tag: FlvTag, timestamp: number): boolean {
    const stdin = this.child?.stdin;
    if (this.closingStarted || this.exited || !stdin || stdin.destroyed || !stdin.writable) return false;
    if (stdin.writableLength > this.maxQueuedBytes) return false;
    if (tag.sequenceHeader) {
      if (tag.type === 'video') this.videoConfig = tag.data;
      else this.audioConfig = tag.data;
    }
    const bytes = flvTagBytes(tag, timestamp);
    stdin.write(bytes);
    this.bytesSent += bytes.length;
    return true;
  }

  /** Ends the input and waits for ffmpeg to finish its files (killed after stopTimeoutMs). Idempotent. */
  close(): Promise<void> {
    if (this.closePromise) return this.closePromise;
    this.closingStarted = true;
    this.closePromise = (async () => {
      const child = this.child;
      if (!child || this.exited) return;
      child.stdin?.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), this.opts.stopTimeoutMs ?? 5000);
      try {
        await this.exitPromise;
      } finally {
        clearTimeout(timer);
      }
    })();
    return this.closePromise;
  }

  private stderrBuf = '';
  private stderrLines = 0;

  private onStderr(s: string): void {
    this.stderrBuf += s;
    let nl: number;
    while ((nl = this.stderrBuf.indexOf('\n')) >= 0) {
      const line = this.stderrBuf.slice(0, nl).trim().slice(0, 300);
      this.stderrBuf = this.stderrBuf.slice(nl + 1);
      if (!line) continue;
      this.lastStderr.push(line);
      if (this.lastStderr.length > 3) this.lastStderr.shift();
      if (this.stderrLines++ < 30) this.opts.log.warn({ ...this.opts.logContext, ffmpeg: line }, 'packager ffmpeg');
    }
    if (this.stderrBuf.length > 16 * 1024) this.stderrBuf = '';
  }
}
