/**
 * HLS output of a call: one packager per quality track, each attached to the broadcast group of
 * its (call, quality, layout) (sharing a running RTMP encode of the same picture), each writing a
 * variant playlist and ~2 s MPEG-TS segments (one per 2 s GOP) into the broadcast's directory,
 * with a bounded live window (older segments are deleted). The master playlist over the tracks is
 * written once every track has its first segment. The pure parts (command line, codec strings,
 * master playlist) are exported for tests.
 */
import { EventEmitter } from 'node:events';
import { access, mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LayoutSettings, Quality } from '../layout/settings.js';
import type { Logger } from '../log.js';
import type { OutputHandle, OutputSpec } from './engine.js';
import { copyGroupStreamsArgs, PackagerSession } from './packager.js';
import { qualityProfile } from './qualities.js';

export const MASTER_PLAYLIST = 'master.m3u8';

export interface HlsPackagingOptions {
  /** Target segment length, s (the encoder's GOP is 2 s, so segments are 2 s). */
  segmentSeconds: number;
  /** Segments listed in the live playlist. */
  listSize: number;
  /** Segments kept on disk beyond the list before deletion (for players still fetching them). */
  deleteThreshold: number;
}

export const DEFAULT_HLS_PACKAGING: HlsPackagingOptions = { segmentSeconds: 2, listSize: 6, deleteThreshold: 3 };

/** The file names of one track: "720p.m3u8" and "720p_000001.ts". */
export function trackPlaylistName(quality: Quality): string {
  return `${quality}.m3u8`;
}

/** ffmpeg's output arguments that package one track into `dir`. */
export function hlsOutputArgs(dir: string, quality: Quality, opts: HlsPackagingOptions = DEFAULT_HLS_PACKAGING): string[] {
  return [
    ...copyGroupStreamsArgs(),
    '-f',
    'hls',
    '-hls_time',
    String(opts.segmentSeconds),
    '-hls_list_size',
    String(opts.listSize),
    '-hls_delete_threshold',
    String(opts.deleteThreshold),
    // A restarted packager appends to the playlist (sequence numbers continue) instead of starting over.
    '-hls_flags',
    'independent_segments+delete_segments+append_list+temp_file',
    '-hls_segment_type',
    'mpegts',
    '-hls_segment_filename',
    join(dir, `${quality}_%06d.ts`),
    join(dir, trackPlaylistName(quality)),
  ];
}

const hex2 = (n: number) => n.toString(16).padStart(2, '0');

/** RFC 6381 codec string of an FLV AVC sequence header ("avc1.640028"), or null. */
export function avcCodecString(flvVideoBody: Buffer | null): string | null {
  // [frame type|codec][packet type][cts x3][AVCDecoderConfigurationRecord: version, profile, compat, level, ...]
  if (!flvVideoBody || flvVideoBody.length < 9 || (flvVideoBody[0]! & 0x0f) !== 7 || flvVideoBody[1] !== 0) return null;
  return `avc1.${hex2(flvVideoBody[6]!)}${hex2(flvVideoBody[7]!)}${hex2(flvVideoBody[8]!)}`;
}

/** RFC 6381 codec string of an FLV AAC sequence header ("mp4a.40.2"), or null. */
export function aacCodecString(flvAudioBody: Buffer | null): string | null {
  if (!flvAudioBody || flvAudioBody.length < 3 || flvAudioBody[0]! >> 4 !== 10 || flvAudioBody[1] !== 0) return null;
  return `mp4a.40.${flvAudioBody[2]! >> 3}`;
}

export interface MasterTrack {
  uri: string;
  /** Peak bits per second (video + audio + container overhead). */
  bandwidth: number;
  width: number;
  height: number;
  fps: number;
  codecs: string[];
}

/** The master playlist over the tracks, highest bandwidth first. */
export function masterPlaylist(tracks: readonly MasterTrack[]): string {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-INDEPENDENT-SEGMENTS'];
  for (const t of [...tracks].sort((a, b) => b.bandwidth - a.bandwidth)) {
    const codecs = t.codecs.length > 0 ? `,CODECS="${t.codecs.join(',')}"` : '';
    lines.push(`#EXT-X-STREAM-INF:BANDWIDTH=${t.bandwidth},RESOLUTION=${t.width}x${t.height},FRAME-RATE=${t.fps.toFixed(3)}${codecs}`);
    lines.push(t.uri);
  }
  return `${lines.join('\n')}\n`;
}

/** The master entry of a quality: its nominal rates plus ~10% MPEG-TS overhead. */
export function masterTrackOf(quality: Quality, codecs: string[]): MasterTrack {
  const p = qualityProfile(quality);
  return {
    uri: trackPlaylistName(quality),
    bandwidth: Math.round((p.videoKbps + p.audioKbps) * 1000 * 1.1),
    width: p.width,
    height: p.height,
    fps: p.fps,
    codecs,
  };
}

export interface OutputAttacher {
  attach(spec: OutputSpec): OutputHandle;
  /** Moves an attached output to the encode of another layout (see EgressEngine.changeOutputLayout). */
  changeOutputLayout(callCid: string, name: string, layout: LayoutSettings): boolean;
}

export interface HlsOutputOptions {
  engine: OutputAttacher;
  callCid: string;
  layout: LayoutSettings;
  /** settings.broadcasting.hls.quality_tracks (1 to 3). */
  qualities: readonly Quality[];
  /** The broadcast's directory (created if missing). */
  dir: string;
  log: Logger;
  ffmpegPath?: string;
  packaging?: Partial<HlsPackagingOptions>;
  /** How often to look for the first segments; default 200 ms. */
  pollMs?: number;
  /** Give up if a track has no playlist after this long; default 30 s. */
  firstSegmentTimeoutMs?: number;
}

export interface HlsOutputEvents {
  /** Every track has its first segment and the master playlist is written. Once. */
  started: [];
  /** A track gave up; the others are stopped. Once. */
  failed: [reason: string];
}

interface Track {
  quality: Quality;
  handle: OutputHandle | null;
  session: PackagerSession | null;
}

export class HlsOutput extends EventEmitter<HlsOutputEvents> {
  private readonly tracks: Track[];
  private readonly packaging: HlsPackagingOptions;
  private stopped = false;
  private startedReported = false;
  private failedReported = false;
  private poll: NodeJS.Timeout | null = null;

  constructor(private readonly opts: HlsOutputOptions) {
    super();
    if (opts.qualities.length === 0) throw new Error('HLS needs at least one quality track');
    this.tracks = [...new Set(opts.qualities)].map((quality) => ({ quality, handle: null, session: null }));
    this.packaging = { ...DEFAULT_HLS_PACKAGING, ...(opts.packaging ?? {}) };
  }

  get masterPath(): string {
    return join(this.opts.dir, MASTER_PLAYLIST);
  }

  get qualities(): Quality[] {
    return this.tracks.map((t) => t.quality);
  }

  /** The packager processes (for tests). */
  packagerPids(): number[] {
    return this.tracks.map((t) => t.session?.pid).filter((p): p is number => p !== undefined);
  }

  /** Creates the directory and attaches every track; outcome as events. Throws if a track cannot attach. */
  async start(): Promise<void> {
    await mkdir(this.opts.dir, { recursive: true });
    try {
      for (const track of this.tracks) {
        const handle = this.opts.engine.attach({
          callCid: this.opts.callCid,
          name: `hls/${track.quality}`,
          quality: track.quality,
          layout: this.opts.layout,
          describe: `HLS ${track.quality} of ${this.opts.callCid}`,
          createSession: () => {
            const s = new PackagerSession({
              outputArgs: hlsOutputArgs(this.opts.dir, track.quality, this.packaging),
              log: this.opts.log,
              retryable: true,
              logContext: { callCid: this.opts.callCid, output: 'hls', quality: track.quality },
              ...(this.opts.ffmpegPath ? { ffmpegPath: this.opts.ffmpegPath } : {}),
            });
            track.session = s;
            return s;
          },
        });
        track.handle = handle;
        handle.destination.once('failed', (reason) => this.onTrackFailed(track, reason));
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.watchFirstSegments();
  }

  /**
   * Moves every track to the encode of `layout` (each at that encode's next keyframe, with
   * continuous timestamps: the playlists go on without a discontinuity). Throws when an encode
   * cannot start; tracks moved before it keep the new layout.
   */
  changeLayout(layout: LayoutSettings): void {
    if (this.stopped) return;
    for (const track of this.tracks) {
      if (track.handle) this.opts.engine.changeOutputLayout(this.opts.callCid, `hls/${track.quality}`, layout);
    }
  }

  /** Stops every track (each packager writes its final playlist). Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.poll) clearTimeout(this.poll);
    this.poll = null;
    await Promise.all(this.tracks.map((t) => t.handle?.stop() ?? Promise.resolve()));
  }

  private onTrackFailed(track: Track, reason: string): void {
    if (this.stopped || this.failedReported) return;
    this.failedReported = true;
    this.opts.log.error({ callCid: this.opts.callCid, quality: track.quality, reason }, 'HLS track failed');
    void this.stop().finally(() => this.emit('failed', `HLS ${track.quality}: ${reason}`));
  }

  private watchFirstSegments(): void {
    const deadline = Date.now() + (this.opts.firstSegmentTimeoutMs ?? 30_000);
    const check = async () => {
      this.poll = null;
      if (this.stopped) return;
      const ready = await Promise.all(this.tracks.map((t) => exists(join(this.opts.dir, trackPlaylistName(t.quality)))));
      if (this.stopped) return;
      if (ready.every(Boolean) && this.tracks.every((t) => t.session?.videoConfig)) {
        await this.writeMaster();
        if (this.stopped || this.startedReported) return;
        this.startedReported = true;
        this.emit('started');
        return;
      }
      if (Date.now() > deadline) {
        const missing = this.tracks.filter((_, i) => !ready[i]).map((t) => t.quality);
        this.onTrackFailed(
          this.tracks[0]!,
          `no segment after ${Math.round((this.opts.firstSegmentTimeoutMs ?? 30_000) / 1000)} s (${missing.join(', ') || 'codecs unknown'})`,
        );
        return;
      }
      this.poll = setTimeout(() => void check(), this.opts.pollMs ?? 200);
    };
    this.poll = setTimeout(() => void check(), this.opts.pollMs ?? 200);
  }

  private async writeMaster(): Promise<void> {
    const tracks = this.tracks.map((t) =>
      masterTrackOf(
        t.quality,
        [avcCodecString(t.session?.videoConfig ?? null), aacCodecString(t.session?.audioConfig ?? null)].filter(
          (c): c is string => c !== null,
        ),
      ),
    );
    const tmp = `${this.masterPath}.tmp`;
    await writeFile(tmp, masterPlaylist(tracks));
    await rename(tmp, this.masterPath);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
