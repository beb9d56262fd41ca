/**
 * Composite recording of a call: a packager attached to the broadcast group of the recording's
 * (call, quality, layout), copying the encode (no second encode) into a fragmented MP4 while it
 * runs (`frag_keyframe+empty_moov`: whatever was written before a crash stays readable), remuxed
 * at the end into an MP4 with its index at the front (`+faststart`). The command lines are pure
 * and exported for tests.
 */
import { execFile } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { LayoutSettings, Quality } from '../layout/settings.js';
import type { Logger } from '../log.js';
import type { OutputHandle } from './engine.js';
import type { OutputAttacher } from './hls.js';
import { copyGroupStreamsArgs, PackagerSession } from './packager.js';

/** ffmpeg's output arguments that copy the group's FLV into a fragmented MP4 at `partPath`. */
export function recordingPartArgs(partPath: string): string[] {
  return [...copyGroupStreamsArgs(), '-movflags', '+frag_keyframe+empty_moov+default_base_moof', '-y', '-f', 'mp4', partPath];
}

/** ffmpeg's arguments that remux a (possibly truncated) fragmented MP4 into a faststart MP4. */
export function faststartArgs(input: string, output: string): string[] {
  return [
    '-hide_banner',
    '-loglevel',
    'error',
    '-nostdin',
    '-i',
    input,
    '-map',
    '0',
    '-c',
    'copy',
    '-movflags',
    '+faststart',
    '-y',
    '-f',
    'mp4',
    output,
  ];
}

export interface FinishedRecording {
  path: string;
  bytes: number;
}

/**
 * Remuxes the part file into `output` (written next to it first, then renamed) and removes the
 * part. Rejects (keeping the part) when ffmpeg cannot read it, e.g. nothing was ever written.
 */
export async function finishRecording(
  partPath: string,
  output: string,
  opts: { ffmpegPath?: string; timeoutMs?: number } = {},
): Promise<FinishedRecording> {
  await mkdir(dirname(output), { recursive: true });
  const tmp = `${output}.tmp`;
  await new Promise<void>((resolve, reject) => {
    execFile(opts.ffmpegPath || 'ffmpeg', faststartArgs(partPath, tmp), { timeout: opts.timeoutMs ?? 120_000 }, (err, _out, stderr) => {
      if (err)
        reject(new Error(`the recording could not be finished: ${String(stderr).trim().split('\n').slice(-2).join(' | ') || err.message}`));
      else resolve();
    });
  }).catch(async (err: unknown) => {
    await rm(tmp, { force: true });
    throw err;
  });
  await rename(tmp, output);
  await rm(partPath, { force: true });
  const { size } = await stat(output);
  return { path: output, bytes: size };
}

export interface RecordingOutputOptions {
  engine: OutputAttacher;
  callCid: string;
  quality: Quality;
  layout: LayoutSettings;
  /** Where the fragmented MP4 is written while recording. */
  partPath: string;
  log: Logger;
  ffmpegPath?: string;
}

export interface RecordingOutputEvents {
  /** The first keyframe went into the file. Once. */
  started: [];
  /** The packager died or the encode could not be produced; the part holds what was written. Once. */
  failed: [reason: string];
}

export class RecordingOutput extends EventEmitter<RecordingOutputEvents> {
  private handle: OutputHandle | null = null;
  private session: PackagerSession | null = null;
  private stopping: Promise<void> | null = null;

  constructor(private readonly opts: RecordingOutputOptions) {
    super();
  }

  get partPath(): string {
    return this.opts.partPath;
  }

  /** The packager process (for tests). */
  get packagerPid(): number | undefined {
    return this.session?.pid;
  }

  /** Attaches to the group; outcome as events. Throws if it cannot attach. */
  async start(): Promise<void> {
    await mkdir(dirname(this.opts.partPath), { recursive: true });
    const handle = this.opts.engine.attach({
      callCid: this.opts.callCid,
      name: 'recording',
      quality: this.opts.quality,
      layout: this.opts.layout,
      describe: `recording of ${this.opts.callCid}`,
      createSession: () => {
        const s = new PackagerSession({
          outputArgs: recordingPartArgs(this.opts.partPath),
          log: this.opts.log,
          // A second process would overwrite the part: a dead packager fails the recording.
          retryable: false,
          logContext: { callCid: this.opts.callCid, output: 'recording' },
          ...(this.opts.ffmpegPath ? { ffmpegPath: this.opts.ffmpegPath } : {}),
        });
        this.session = s;
        return s;
      },
    });
    this.handle = handle;
    handle.destination.once('started', () => this.emit('started'));
    handle.destination.once('failed', (reason) => {
      if (!this.stopping) this.emit('failed', reason);
    });
  }

  /** Video frames written into the file so far (30 per second of recording). */
  get videoFramesWritten(): number {
    return this.handle?.destination.stats().videoFramesSent ?? 0;
  }

  /** Moves the recording to the encode of `layout` at its next keyframe (the same file goes on). Throws when that encode cannot start. */
  changeLayout(layout: LayoutSettings): void {
    if (this.stopping || !this.handle) return;
    this.opts.engine.changeOutputLayout(this.opts.callCid, 'recording', layout);
  }

  /** Ends the recording: the packager closes its fragmented MP4. Idempotent. */
  stop(): Promise<void> {
    return (this.stopping ??= this.handle?.stop() ?? Promise.resolve());
  }
}
