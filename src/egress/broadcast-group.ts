/**
 * One encode shared by every destination with the same (call, quality, layout): one frame source,
 * one pacer, one encoder, one GOP cache, N destinations. The encoder is restarted (at a bounded
 * rate) when it dies; the destinations keep their sessions. A destination of another group of the
 * same call and quality can move in (a layout change): it switches at this group's next keyframe.
 * The group ends with its last destination.
 */
import { EventEmitter } from 'node:events';
import type { FlvTag } from '../flv/tag.js';
import type { LayoutSettings, Quality } from '../layout/settings.js';
import type { Logger } from '../log.js';
import { backoffDelay } from './backoff.js';
import { groupKey } from './group-key.js';
import { Destination, type DestinationOptions } from './destination.js';
import { Encoder, type EncoderExit } from './encoder.js';
import type { FrameSource, FrameSourceFactory } from './frame-source.js';
import { GopCache } from './gop-cache.js';
import { Pacer, type PacerTick } from './pacer.js';
import { qualityProfile, type QualityProfile } from './qualities.js';
import { DEFAULT_REALTIME_POLICY, nextDegraded, RealtimeMeter, type RealtimePolicy } from './realtime.js';

export interface EncoderRestartPolicy {
  /** Delay before restarting after the first crash in a while. */
  initialDelayMs: number;
  maxDelayMs: number;
  /** Crashes older than this no longer count towards the delay. */
  windowMs: number;
}

export const DEFAULT_ENCODER_RESTART: EncoderRestartPolicy = { initialDelayMs: 200, maxDelayMs: 10_000, windowMs: 60_000 };

export interface BroadcastGroupOptions {
  callCid: string;
  quality: Quality;
  layout: LayoutSettings;
  sourceFactory: FrameSourceFactory;
  log: Logger;
  /** The ffmpeg executable; default "ffmpeg" on PATH. */
  ffmpegPath?: string;
  restart?: Partial<EncoderRestartPolicy>;
  gopCacheMaxBytes?: number;
  /** When the group counts as behind real time (degraded). */
  realtime?: Partial<RealtimePolicy>;
}

/** What a group reports of its encode (for /metrics, the destinations' stats and admission). */
export interface BroadcastGroupHealth {
  callCid: string;
  quality: Quality;
  layout: string;
  destinations: number;
  encoderRunning: boolean;
  /** Encoder processes restarted after a crash. */
  encoderRestarts: number;
  /** Clock ticks run. */
  ticks: number;
  /** Clock ticks skipped because the process was late (stalls). */
  skippedTicks: number;
  /** Frames dropped because the encoder did not keep up with its input. */
  droppedFrames: number;
  /** Output media time per wall time over the last window (1 = real time); null while unknown. */
  realtimeRatio: number | null;
  /** The group has fallen behind real time (see realtime.ts). */
  degraded: boolean;
}

/** How often the group judges whether it keeps up with real time. */
const HEALTH_INTERVAL_MS = 1_000;

export interface BroadcastGroupEvents {
  /** The group has closed (after its last destination left, or close()): encoder and source released. Once. */
  close: [];
}

/**
 * A group's losses and catch-ups since it started. Sound is counted in 48 kHz sample frames:
 * `skippedSampleFrames` went with ticks the clock skipped after a long stall, `underrunSampleFrames`
 * were filled with silence because a participant's decoder had not delivered them yet (they are
 * played when they arrive, later), `droppedSampleFrames` were dropped to keep a participant's sound
 * within the latency bound.
 */
export interface GroupStats {
  ticks: number;
  /** ticks run late, after a stall, to keep the output continuous */
  lateTicks: number;
  /** times the encoder could not take a tick at once (it was offered again) */
  deferredTicks: number;
  skippedTicks: number;
  audio: { skippedSampleFrames: number; underrunSampleFrames: number; droppedSampleFrames: number };
}

export type JoinOptions = Omit<DestinationOptions, 'snapshot' | 'frameMs' | 'callCid'>;

/** What a group tells about a destination moving in (see `adopt`). */
export interface AdoptCallbacks {
  /** The destination now streams from this group (it left the other one). */
  moved(): void;
  /** The move did not happen (this group closed first, or the move was called off with `leave`). */
  cancelled(): void;
}

interface Arrival {
  from: BroadcastGroup;
  callbacks: AdoptCallbacks;
}

/**
 * A listener of the group's output that is not a destination (live previews): every FLV tag the
 * encoder emits, the PCM of every tick written to it (s16le at the profile's rate and channels),
 * and `closed` once when the group closes. Called synchronously; must not throw or block.
 */
export interface GroupTap {
  tag(tag: FlvTag): void;
  audio(pcm: Buffer): void;
  closed(): void;
}

export class BroadcastGroup extends EventEmitter<BroadcastGroupEvents> {
  readonly key: string;
  readonly profile: QualityProfile;
  private readonly destinations = new Set<Destination>();
  /** Destinations of other groups moving in at this group's next keyframe. */
  private readonly arriving = new Map<Destination, Arrival>();
  private readonly cache: GopCache;
  private readonly restartPolicy: EncoderRestartPolicy;
  private source: FrameSource | null = null;
  private pacer: Pacer | null = null;
  private encoder: Encoder | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private crashTimes: number[] = [];
  private closing: Promise<void> | null = null;
  private sourceErrors = 0;
  private readonly realtimePolicy: RealtimePolicy;
  private readonly meter: RealtimeMeter;
  private healthTimer: NodeJS.Timeout | null = null;
  private degradedValue = false;
  /** Frames dropped by encoders that have exited. */
  private droppedBefore = 0;
  /** Encoder processes started over the group's life. */
  encoderStarts = 0;
  private readonly taps = new Set<GroupTap>();

  constructor(private readonly opts: BroadcastGroupOptions) {
    super();
    this.key = groupKey(opts.callCid, opts.quality, opts.layout);
    this.profile = qualityProfile(opts.quality);
    this.cache = new GopCache(opts.gopCacheMaxBytes);
    this.restartPolicy = { ...DEFAULT_ENCODER_RESTART, ...(opts.restart ?? {}) };
    this.realtimePolicy = { ...DEFAULT_REALTIME_POLICY, ...(opts.realtime ?? {}) };
    this.meter = new RealtimeMeter(this.realtimePolicy.windowMs);
  }

  /** The group has fallen behind real time. */
  get degraded(): boolean {
    return this.degradedValue;
  }

  /** Whether the group keeps up with real time, and what it lost (for /metrics and admission). */
  health(now = performance.now()): BroadcastGroupHealth {
    return {
      callCid: this.opts.callCid,
      quality: this.opts.quality,
      layout: this.opts.layout.name,
      destinations: this.destinations.size,
      encoderRunning: this.encoderRunning,
      encoderRestarts: Math.max(0, this.encoderStarts - 1),
      ticks: this.pacer?.ticks ?? 0,
      skippedTicks: this.pacer?.skippedTicks ?? 0,
      droppedFrames: this.droppedBefore + (this.encoder?.framesDropped ?? 0),
      realtimeRatio: this.meter.ratio(now),
      degraded: this.degradedValue,
    };
  }

  /** Judges the group against real time; a change is logged. */
  private checkHealth(): void {
    const now = performance.now();
    const ratio = this.meter.ratio(now);
    const next = nextDegraded(this.degradedValue, ratio, this.meter.observedMs(now), this.realtimePolicy);
    if (next === this.degradedValue) return;
    this.degradedValue = next;
    const ctx = {
      callCid: this.opts.callCid,
      quality: this.opts.quality,
      realtimeRatio: ratio === null ? null : Math.round(ratio * 1000) / 1000,
      skippedTicks: this.pacer?.skippedTicks ?? 0,
      droppedFrames: this.droppedBefore + (this.encoder?.framesDropped ?? 0),
    };
    if (next) this.opts.log.warn(ctx, 'broadcast group falls behind real time (degraded)');
    else this.opts.log.info(ctx, 'broadcast group back to real time');
  }

  get callCid(): string {
    return this.opts.callCid;
  }

  /** close() was called (or the last destination left). */
  get closed(): boolean {
    return this.closing !== null;
  }

  /** The encoder process is running. */
  get encoderRunning(): boolean {
    return this.encoder?.running ?? false;
  }

  get encoderPid(): number | undefined {
    return this.encoder?.running ? this.encoder.pid : undefined;
  }

  /** Follows the group's output (see GroupTap) until the returned function is called. */
  tap(listener: GroupTap): () => void {
    if (this.closing) {
      queueMicrotask(() => listener.closed());
      return () => undefined;
    }
    this.taps.add(listener);
    return () => {
      this.taps.delete(listener);
    };
  }

  /** The current encoder's AVC sequence header (SPS/PPS), once it produced one. */
  avcSequenceHeader(): FlvTag | null {
    return this.cache.snapshotForJoin().sequenceHeaders.find((t) => t.type === 'video') ?? null;
  }

  members(): Destination[] {
    return [...this.destinations];
  }

  /** Adds a destination and starts it (its events follow asynchronously); starts the encode if this is the first. */
  join(options: JoinOptions): Destination {
    if (this.closing) throw new Error('broadcast group is closed');
    const dest = new Destination({
      ...options,
      callCid: this.opts.callCid,
      frameMs: 1000 / this.profile.fps,
      snapshot: () => this.cache.snapshotForJoin(),
    });
    this.ensureMedia();
    this.destinations.add(dest);
    dest.start();
    return dest;
  }

  /**
   * Takes over a destination of `from` (another group of the same call and quality) for a layout
   * change. A destination that is publishing keeps streaming `from` until this group's next video
   * keyframe (a new group's first), then switches to it there with this encode's sequence headers
   * and continuous timestamps (Destination.changeFeed), and leaves `from`; one that is not
   * publishing (connecting, reconnecting) switches at once. Its session stays. Starts the encode
   * if this group has none yet; throws (and closes the group) when it cannot start.
   */
  adopt(dest: Destination, from: BroadcastGroup, callbacks: AdoptCallbacks): void {
    if (this.closing) throw new Error('broadcast group is closed');
    if (from === this || this.destinations.has(dest)) return;
    this.ensureMedia();
    const arrival: Arrival = { from, callbacks };
    if (dest.publishing) this.arriving.set(dest, arrival);
    else this.takeOver(dest, arrival);
  }

  /** Removes a finished or stopping destination (or calls off its move in); the group closes after its last one. */
  leave(dest: Destination): void {
    this.destinations.delete(dest);
    const arrival = this.arriving.get(dest);
    if (arrival) {
      this.arriving.delete(dest);
      arrival.callbacks.cancelled();
    }
    if (this.destinations.size === 0 && this.arriving.size === 0) void this.close();
  }

  /** A destination moving in switches to this group's encode now. */
  private takeOver(dest: Destination, arrival: Arrival): void {
    this.arriving.delete(dest);
    if (dest.closed) {
      arrival.callbacks.cancelled();
      return;
    }
    dest.changeFeed(() => this.cache.snapshotForJoin());
    this.destinations.add(dest);
    arrival.from.leave(dest);
    arrival.callbacks.moved();
  }

  /** Starts the frame source, encoder and clock if they are not running yet. */
  private ensureMedia(): void {
    if (this.source) return;
    try {
      this.startMedia();
    } catch (err) {
      // Nothing to broadcast from: the group cannot start.
      this.pacer?.stop();
      void this.encoder?.close();
      this.source = null;
      void this.close();
      throw err;
    }
  }

  /** Stops the encode and closes every destination still in the group (without reporting them). Idempotent. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = (async () => {
      if (this.restartTimer) clearTimeout(this.restartTimer);
      this.restartTimer = null;
      if (this.healthTimer) clearInterval(this.healthTimer);
      this.healthTimer = null;
      this.pacer?.stop();
      const members = [...this.destinations];
      this.destinations.clear();
      // Destinations moving in still belong to their own groups: the move is called off.
      const arrivals = [...this.arriving.values()];
      this.arriving.clear();
      for (const a of arrivals) a.callbacks.cancelled();
      await Promise.all([...members.map((d) => d.close()), this.encoder?.close() ?? Promise.resolve()]);
      try {
        this.source?.close();
      } catch (err) {
        this.opts.log.warn({ callCid: this.opts.callCid, err: String(err) }, 'frame source failed to close');
      }
      this.opts.log.info({ callCid: this.opts.callCid, quality: this.opts.quality, stats: this.stats() }, 'broadcast group stopped');
      const taps = [...this.taps];
      this.taps.clear();
      for (const t of taps) this.safeTap(() => t.closed());
      this.emit('close');
    })();
    return this.closing;
  }

  /** Kills the encoder process as if it had crashed (for operators and tests); it is restarted. */
  killEncoder(): void {
    const pid = this.encoderPid;
    if (pid !== undefined) process.kill(pid, 'SIGKILL');
  }

  private startMedia(): void {
    const source = this.opts.sourceFactory(this.opts.callCid, this.opts.quality, this.opts.layout);
    this.source = source;
    source.onFailure?.((reason) => {
      if (this.source !== source || this.closing) return;
      this.opts.log.error({ callCid: this.opts.callCid, quality: this.opts.quality, reason }, 'frame source failed; failing the broadcast');
      for (const d of [...this.destinations]) d.fail(reason);
    });
    this.startEncoder();
    this.pacer = new Pacer({
      fps: this.profile.fps,
      sampleRate: this.profile.audioSampleRate,
      onTick: (tick) => this.onTick(tick),
    });
    this.pacer.start();
    this.healthTimer = setInterval(() => this.checkHealth(), HEALTH_INTERVAL_MS);
    this.healthTimer.unref();
    this.opts.log.info({ callCid: this.opts.callCid, quality: this.opts.quality }, 'broadcast group started');
  }

  private startEncoder(): void {
    const encoder = new Encoder({
      profile: this.profile,
      log: this.opts.log,
      ffmpegPath: this.opts.ffmpegPath,
      logContext: { callCid: this.opts.callCid, quality: this.opts.quality },
    });
    if (this.encoder) this.droppedBefore += this.encoder.framesDropped;
    this.encoder = encoder;
    this.meter.reset(performance.now());
    this.cache.reset();
    if (this.encoderStarts > 0) for (const d of this.destinations) d.encoderRestarted();
    this.encoderStarts += 1;
    encoder.on('tag', (tag) => this.onTag(encoder, tag));
    encoder.on('exit', (exit) => this.onEncoderExit(encoder, exit));
    encoder.start();
  }

  /** What the group's clock, encoder and sound have lost or made up for (see GroupStats). */
  stats(): GroupStats {
    const audio = this.source?.audioStats?.() ?? { underrunSampleFrames: 0, droppedSampleFrames: 0 };
    return {
      ticks: this.pacer?.ticks ?? 0,
      lateTicks: this.pacer?.lateTicks ?? 0,
      deferredTicks: this.pacer?.deferredTicks ?? 0,
      skippedTicks: this.pacer?.skippedTicks ?? 0,
      audio: {
        skippedSampleFrames: this.pacer?.skippedSampleFrames ?? 0,
        underrunSampleFrames: audio.underrunSampleFrames,
        droppedSampleFrames: audio.droppedSampleFrames,
      },
    };
  }

  private onTick(tick: PacerTick): boolean {
    const encoder = this.encoder;
    const source = this.source;
    if (!encoder || !source || !encoder.running) return true;
    // An encoder that is not keeping up gets the tick again shortly: reading the sound now and
    // dropping it would cut the output's audio.
    if (!encoder.accepting) return false;
    let video: Buffer;
    let audio: Buffer;
    try {
      video = source.videoFrame(tick.ptsMs);
      audio = source.audioSamples(tick.ptsMs, tick.sampleFrames);
    } catch (err) {
      if (this.sourceErrors++ % 300 === 0) {
        this.opts.log.error({ callCid: this.opts.callCid, err: String(err) }, 'frame source failed; frame skipped');
      }
      return true;
    }
    const releaseFrame = source.releaseFrame?.bind(source);
    const written = encoder.write(video, audio, releaseFrame ? () => releaseFrame(video) : undefined);
    if (written) for (const t of this.taps) this.safeTap(() => t.audio(audio));
    return true;
  }

  private safeTap(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.opts.log.error({ callCid: this.opts.callCid, err: String(err) }, 'broadcast group tap failed');
    }
  }

  private onTag(encoder: Encoder, tag: FlvTag): void {
    if (encoder !== this.encoder || this.closing) return;
    if (tag.type === 'video' && !tag.sequenceHeader) this.meter.observe(performance.now(), tag.timestamp);
    this.cache.push(tag);
    if (this.arriving.size > 0 && tag.type === 'video' && tag.keyframe && !tag.sequenceHeader && this.cache.hasSequenceHeaders) {
      // Destinations moving in switch here: this keyframe is the first tag they get from this encode.
      for (const [d, arrival] of [...this.arriving]) this.takeOver(d, arrival);
    }
    for (const t of this.taps) this.safeTap(() => t.tag(tag));
    for (const d of this.destinations) {
      try {
        d.deliver(tag);
      } catch (err) {
        // One destination's trouble must not reach the others or the encoder.
        this.opts.log.error({ callCid: this.opts.callCid, name: d.name, err: String(err) }, 'broadcast destination failed to take a tag');
      }
    }
  }

  private onEncoderExit(encoder: Encoder, exit: EncoderExit): void {
    if (encoder !== this.encoder || this.closing || exit.expected) return;
    const ctx = { callCid: this.opts.callCid, quality: this.opts.quality, code: exit.code, signal: exit.signal };
    const errno = (exit.error as NodeJS.ErrnoException | undefined)?.code;
    if (errno === 'ENOENT' || errno === 'EACCES') {
      const reason = `the encoder (ffmpeg) could not be started (${errno}); install ffmpeg or set CALLCAST_FFMPEG`;
      this.opts.log.error(ctx, reason);
      for (const d of [...this.destinations]) d.fail(reason);
      // Destinations moving in stay where they are; the group cannot run.
      void this.close();
      return;
    }
    const now = Date.now();
    this.crashTimes = this.crashTimes.filter((t) => now - t < this.restartPolicy.windowMs);
    this.crashTimes.push(now);
    const delay = backoffDelay(this.crashTimes.length - 1, {
      initialDelayMs: this.restartPolicy.initialDelayMs,
      maxDelayMs: this.restartPolicy.maxDelayMs,
      jitter: 0.1,
    });
    this.opts.log.warn({ ...ctx, restartInMs: delay, error: exit.error ? String(exit.error) : undefined }, 'encoder exited; restarting it');
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (!this.closing) this.startEncoder();
    }, delay);
  }
}
