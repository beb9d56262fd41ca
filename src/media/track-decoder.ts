/**
 * Decoders of published tracks: one ffmpeg process per track, fed the track's RTP over loopback.
 *
 * Video (`TrackDecoder`) comes out as raw I420 at the size(s) the layout asks for: ffmpeg scales,
 * fits (cover: scale up and crop; contain: scale down and letterbox) and mirrors, so frames are
 * ready to copy into their tile. Several broadcast groups (qualities) may ask for different sizes
 * of the same track: one process decodes once and splits into one output per size (each a Unix
 * socket read into recycled buffers, see rtp-process.ts). When the sizes change, a new process
 * starts beside the running one and takes over once it has produced frames; until then the last
 * frame is shown, scaled to the new size, so nothing flickers. A keyframe is requested whenever a
 * process starts (and again until it yields a frame).
 *
 * Audio (`AudioTrackDecoder`) comes out as s16le 48 kHz stereo PCM chunks.
 *
 * Lip sync (arrival-time alignment): both kinds are decoded as soon as their packets arrive and
 * presented on arrival, with the same clock (the server's): the frame source takes the latest
 * decoded video frame at each output tick (0-33 ms old) and the audio from a short per-track PCM
 * queue (mixer.ts, PcmTimeline), an adaptive jitter buffer that a reader enters 60 ms behind the
 * newest sample, that waits for sound that comes late (the reader never runs ahead of the
 * decoder), and that takes back the latency such waits leave (a standing excess over the target
 * is skipped; a reader never falls more than 560 ms behind).
 * RTP timestamps are used by ffmpeg only within a stream; every decoder output is flushed per packet, so neither path buffers.
 * A participant's audio and video therefore stay within about -33..+150 ms of each other, as
 * long as the publisher sends them together (browsers do). Not done: RTCP sender-report (NTP)
 * alignment, which would also correct publishers whose audio and video leave them skewed.
 */
import { EventEmitter } from 'node:events';
import { describeError, silentLogger, type Logger } from '../log.js';
import { FixedSizeReader, RtpProcess, outputTarget, type RtpCodec, type RtpProcessOptions } from './rtp-process.js';
import type { Rgb } from '../layout/color.js';
import { i420Bytes, type I420Frame } from '../render/i420-frame.js';
import { scaleI420 } from './i420-scale.js';

export interface VideoOutputSpec {
  width: number;
  height: number;
  /** cover (default): fill the box, cropping; contain: fit inside, letterboxing with `background` */
  fit?: 'cover' | 'contain';
  mirror?: boolean;
  background?: Rgb;
}

export interface DecodedFrame extends I420Frame {
  at: number;
}

export function outputKey(spec: VideoOutputSpec): string {
  const bg = spec.background ? `${spec.background.r},${spec.background.g},${spec.background.b}` : '0,0,0';
  return `${spec.width}x${spec.height}:${spec.fit ?? 'cover'}:${spec.mirror ? 'm' : ''}:${bg}`;
}

function even(n: number): number {
  return Math.max(2, Math.round(n / 2) * 2);
}

function normalize(spec: VideoOutputSpec): VideoOutputSpec {
  return { ...spec, width: even(spec.width), height: even(spec.height) };
}

const hex = (n: number) =>
  Math.max(0, Math.min(255, Math.round(n)))
    .toString(16)
    .padStart(2, '0');

/** The ffmpeg filter chain that turns decoded pictures into one output spec. */
export function outputFilter(spec: VideoOutputSpec): string {
  const { width: w, height: h } = spec;
  const parts: string[] = [];
  if ((spec.fit ?? 'cover') === 'cover') {
    parts.push(`scale=${w}:${h}:force_original_aspect_ratio=increase:force_divisible_by=2:flags=bilinear`, `crop=${w}:${h}`);
  } else {
    const bg = spec.background ?? { r: 0, g: 0, b: 0 };
    parts.push(
      `scale=${w}:${h}:force_original_aspect_ratio=decrease:force_divisible_by=2:flags=bilinear`,
      `pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2:color=0x${hex(bg.r)}${hex(bg.g)}${hex(bg.b)}`,
    );
  }
  if (spec.mirror) parts.push('hflip');
  parts.push('setsar=1', 'format=yuv420p');
  return parts.join(',');
}

/** ffmpeg output arguments for a set of video outputs (by default stdout, then fd 3, 4, ...). */
export function videoOutputArgs(
  specs: readonly VideoOutputSpec[],
  targets: readonly string[][] = specs.map((_, i) => outputTarget('pipe', i)),
): string[] {
  const labels = specs.map((_, i) => `[o${i}]`);
  const graph =
    specs.length === 1
      ? `[0:v]${outputFilter(specs[0]!)}[o0]`
      : `[0:v]split=${specs.length}${specs.map((_, i) => `[s${i}]`).join('')};${specs.map((s, i) => `[s${i}]${outputFilter(s)}[o${i}]`).join(';')}`;
  const args = ['-filter_complex', graph];
  specs.forEach((_, i) =>
    args.push(
      '-map',
      labels[i]!,
      '-an',
      '-fps_mode',
      'passthrough',
      '-flush_packets',
      '1',
      '-f',
      'rawvideo',
      '-pix_fmt',
      'yuv420p',
      ...targets[i]!,
    ),
  );
  return args;
}

/** What every decoder process of a track is started with. */
type ProcessOptions = Pick<RtpProcessOptions, 'log' | 'label' | 'ffmpegPath'>;

class VideoProcess {
  readonly frames = new Map<string, DecodedFrame>();
  private constructor(
    readonly proc: RtpProcess,
    readonly specs: VideoOutputSpec[],
  ) {}

  static async start(codec: RtpCodec, specs: VideoOutputSpec[], run: ProcessOptions, onFrame: () => void): Promise<VideoProcess> {
    const proc = await RtpProcess.start({
      kind: 'video',
      codec,
      outputArgs: (targets) => videoOutputArgs(specs, targets),
      outputs: specs.length,
      transport: 'socket',
      ...run,
    });
    const vp = new VideoProcess(proc, specs);
    specs.forEach((spec, i) => {
      const key = outputKey(spec);
      // Pictures are read into three buffers in turn (no allocation per frame): a frame is only
      // read synchronously by the compositors between two ticks, so two newer ones never arrive
      // while it is in use.
      const reader = new FixedSizeReader(
        i420Bytes(spec.width, spec.height),
        (record) => {
          vp.frames.set(key, { data: record, width: spec.width, height: spec.height, at: Date.now() });
          onFrame();
        },
        { recycle: 3 },
      );
      proc.onOutput(i, (chunk) => reader.push(chunk));
    });
    return vp;
  }

  hasAllOutputs(): boolean {
    return this.specs.every((s) => this.frames.has(outputKey(s)));
  }
}

/**
 * Packets since a keyframe are kept for replay up to this size: a burst larger than a UDP socket's
 * default receive buffer (about 208 KiB) would be partly dropped. Low-rate tracks with short
 * keyframe intervals fit; the others rely on the keyframe request alone.
 */
const MAX_REPLAY_BYTES = 160 * 1024;

export interface TrackDecoderOptions {
  codec: RtpCodec;
  /** asks the publisher for a keyframe (PLI/FIR) */
  requestKeyframe: () => void;
  log?: Logger;
  label?: string;
  /** no frame for this long (while packets arrive) counts as a stall */
  stallMs?: number;
  /** no packet for this long: the track is idle (the publisher stopped sending) and has no picture */
  idleMs?: number;
  /** how long a replacement process may take before it is swapped in anyway */
  swapTimeoutMs?: number;
  /**
   * How long the decoder keeps running once nobody wants its frames (default 5 s), so that an
   * output started again soon (a broadcast stopped and started, a recording after HLS) shows the
   * participant at once, from the last picture scaled, instead of the placeholder while a new
   * process waits for a keyframe. 0 stops it at once.
   */
  idleKeepMs?: number;
  /** the ffmpeg executable (default `ffmpeg` on the PATH) */
  ffmpegPath?: string;
}

/** The events of a `TrackDecoder`. */
export interface TrackDecoderEvents {
  /** the first frame of a process, and each change of output sizes done */
  frame: [];
  /** no frame for `sinceMs` although packets arrive */
  stall: [info: { sinceMs: number }];
  /** frames come again after a stall */
  recovered: [];
}

/** Decodes one video track. */
export class TrackDecoder extends EventEmitter<TrackDecoderEvents> {
  private active: VideoProcess | undefined;
  private pending: VideoProcess | undefined;
  private reconciling = false;
  private dirty = false;
  private wantedSpecs: VideoOutputSpec[] = [];
  private readonly consumers = new Map<string, VideoOutputSpec>();
  private wantedKey = '';
  private lastFrameAt = 0;
  private lastPacketAt = 0;
  private lastKeyframeRequestAt = 0;
  private stalled = false;
  private isClosed = false;
  private readonly timer: NodeJS.Timeout;
  private readonly process: ProcessOptions;
  private readonly stallMs: number;
  private readonly idleMs: number;
  private readonly swapTimeoutMs: number;
  private readonly idleKeepMs: number;
  /** Stops the process nobody wants any more, unless someone wants it again first. */
  private idleStop: NodeJS.Timeout | undefined;
  private pendingSince = 0;
  /**
   * The track's packets since its last keyframe began (while they stay small), replayed to a new
   * decoder process so that it shows the picture at once instead of waiting for the publisher's
   * next keyframe (publishers that ignore PLI send one every few seconds at best).
   */
  private gop: Buffer[] | undefined;
  private gopBytes = 0;
  private readonly bridged = new Map<string, { source: DecodedFrame; frame: DecodedFrame }>();

  constructor(private readonly options: TrackDecoderOptions) {
    super();
    this.process = {
      log: options.log ?? silentLogger,
      label: options.label ?? 'video',
      ...(options.ffmpegPath ? { ffmpegPath: options.ffmpegPath } : {}),
    };
    this.stallMs = options.stallMs ?? 2000;
    this.idleMs = options.idleMs ?? 1500;
    this.swapTimeoutMs = options.swapTimeoutMs ?? 4000;
    this.idleKeepMs = options.idleKeepMs ?? 5000;
    this.timer = setInterval(() => this.check(), 250);
    this.timer.unref();
  }

  /** One RTP packet of the track; `keyframeStart` when it begins a keyframe. */
  feed(packet: Buffer, keyframeStart = false): void {
    this.lastPacketAt = Date.now();
    if (keyframeStart) {
      this.gop = [packet];
      this.gopBytes = packet.length;
    } else if (this.gop) {
      this.gop.push(packet);
      this.gopBytes += packet.length;
      if (this.gopBytes > MAX_REPLAY_BYTES) this.gop = undefined;
    }
    this.active?.proc.send(packet);
    this.pending?.proc.send(packet);
  }

  /** The tile size (and fit) the default consumer needs. */
  setOutputSize(width: number, height: number, options: Omit<VideoOutputSpec, 'width' | 'height'> = {}): void {
    this.want('default', { width, height, ...options });
  }

  /**
   * What one consumer (a broadcast group) needs from this track; undefined withdraws its request.
   * The decoder produces the union of all consumers' outputs.
   */
  want(consumer: string, spec: VideoOutputSpec | undefined): void {
    if (spec) this.consumers.set(consumer, normalize(spec));
    else this.consumers.delete(consumer);
    this.setOutputs([...this.consumers.values()]);
  }

  /** The output spec `consumer` asked for. */
  wanted(consumer: string): VideoOutputSpec | undefined {
    return this.consumers.get(consumer);
  }

  /** The full set of outputs wanted now; an empty set stops decoding. */
  private setOutputs(specs: readonly VideoOutputSpec[]): void {
    if (this.isClosed) return;
    const unique = new Map<string, VideoOutputSpec>();
    for (const s of specs) {
      if (!(s.width > 0 && s.height > 0)) continue;
      const n = normalize(s);
      unique.set(outputKey(n), n);
    }
    const list = [...unique.values()].sort((a, b) => outputKey(a).localeCompare(outputKey(b)));
    const key = list.map(outputKey).join('|');
    if (key === this.wantedKey) return;
    this.wantedSpecs = list;
    this.wantedKey = key;
    void this.restart();
  }

  get outputs(): readonly VideoOutputSpec[] {
    return this.wantedSpecs;
  }

  /**
   * The last decoded frame for `spec` (default: the first wanted output). While a size change is in
   * progress, the previous picture scaled to the new size.
   */
  latestFrame(spec?: VideoOutputSpec): DecodedFrame | null {
    // The publisher stopped sending (camera turned off: its sender's track replaced by none): no
    // picture, so the layout's placeholder shows instead of the last frame frozen.
    if (this.lastPacketAt > 0 && Date.now() - this.lastPacketAt > this.idleMs) return null;
    const target = spec ? normalize(spec) : (this.consumers.get('default') ?? this.wantedSpecs[0]);
    if (!target) return null;
    const key = outputKey(target);
    const direct = this.pending?.frames.get(key) ?? this.active?.frames.get(key);
    if (direct) return direct;
    // Bridge: the largest frame we have, scaled to the wanted size.
    let best: DecodedFrame | undefined;
    for (const p of [this.pending, this.active]) {
      for (const f of p?.frames.values() ?? []) if (!best || f.width * f.height > best.width * best.height) best = f;
    }
    if (!best) return null;
    const cached = this.bridged.get(key);
    if (cached && cached.source === best) return cached.frame;
    const scaled = { ...scaleI420(best, target.width, target.height), at: best.at };
    this.bridged.set(key, { source: best, frame: scaled });
    return scaled;
  }

  /** Whether frames stopped coming although the decoder should produce them. */
  get isStalled(): boolean {
    return this.stalled;
  }

  /** Brings the running processes in line with the wanted outputs; one pass at a time. */
  private async restart(): Promise<void> {
    if (this.reconciling) {
      this.dirty = true;
      return;
    }
    this.reconciling = true;
    try {
      do {
        this.dirty = false;
        await this.reconcileOnce();
      } while (this.dirty && !this.isClosed);
    } finally {
      this.reconciling = false;
    }
  }

  private async reconcileOnce(): Promise<void> {
    if (this.isClosed) return;
    const specs = this.wantedSpecs;
    const key = this.wantedKey;
    const keyOf = (vp: VideoProcess) => vp.specs.map(outputKey).join('|');
    if (this.pending && keyOf(this.pending) === key) return;
    if (this.pending) {
      const old = this.pending;
      this.pending = undefined;
      void old.proc.close();
    }
    if (specs.length > 0 && this.idleStop) {
      clearTimeout(this.idleStop);
      this.idleStop = undefined;
    }
    if (this.active?.proc.running && keyOf(this.active) === key) return;
    if (specs.length === 0) {
      if (this.active?.proc.running && this.idleKeepMs > 0) {
        this.idleStop ??= setTimeout(() => {
          this.idleStop = undefined;
          if (this.wantedSpecs.length === 0) void this.stopActive();
        }, this.idleKeepMs);
        this.idleStop.unref();
        return;
      }
      await this.stopActive();
      return;
    }
    try {
      const vp = await VideoProcess.start(this.options.codec, specs, this.process, () => this.onFrame());
      if (this.isClosed) {
        await vp.proc.close();
        return;
      }
      // Before it gets live packets: the packets since the last keyframe, in order.
      if (this.gop && (await vp.proc.whenListening()) && this.gop) for (const packet of this.gop) vp.proc.send(packet);
      if (this.isClosed) {
        await vp.proc.close();
        return;
      }
      if (this.active?.proc.running) {
        this.pending = vp;
        this.pendingSince = Date.now();
      } else {
        const dead = this.active;
        this.active = vp;
        if (dead) void dead.proc.close();
      }
      this.lastFrameAt = 0;
      this.requestKeyframe(true);
    } catch (err) {
      this.process.log.warn({ track: this.process.label, err: describeError(err) }, 'track decoder could not start');
    }
  }

  private async stopActive(): Promise<void> {
    const a = this.active;
    this.active = undefined;
    this.bridged.clear();
    if (a) await a.proc.close();
  }

  private onFrame(): void {
    const now = Date.now();
    const first = this.lastFrameAt === 0;
    this.lastFrameAt = now;
    if (this.pending?.hasAllOutputs()) this.swap();
    if (this.stalled) {
      this.stalled = false;
      this.emit('recovered');
    }
    if (first) this.emit('frame');
  }

  private swap(): void {
    const old = this.active;
    this.active = this.pending;
    this.pending = undefined;
    this.bridged.clear();
    if (old) void old.proc.close();
    this.emit('frame');
  }

  private requestKeyframe(force = false): void {
    const now = Date.now();
    if (!force && now - this.lastKeyframeRequestAt < 1000) return;
    this.lastKeyframeRequestAt = now;
    try {
      this.options.requestKeyframe();
    } catch {
      /* the peer may be gone */
    }
  }

  private check(): void {
    if (this.isClosed) return;
    const now = Date.now();
    if (this.pending && now - this.pendingSince > this.swapTimeoutMs && this.pending.frames.size > 0) this.swap();
    const proc = this.pending ?? this.active;
    if (!proc) return;
    const waitingForFirst = this.lastFrameAt === 0 || (this.pending !== undefined && !this.pending.hasAllOutputs());
    // Ask again while a new process has not produced its first frame (the first request may have
    // reached the publisher before ffmpeg was listening).
    if (waitingForFirst && now - this.lastPacketAt < 1000) this.requestKeyframe();
    const since = now - this.lastFrameAt;
    if (!this.stalled && this.lastFrameAt > 0 && since > this.stallMs) {
      this.stalled = true;
      this.emit('stall', { sinceMs: since });
      this.requestKeyframe();
    } else if (this.stalled && now - this.lastPacketAt < 1000) {
      this.requestKeyframe();
    }
    if (!this.active?.proc.running && !this.pending && !this.reconciling && this.wantedSpecs.length > 0 && now - this.lastPacketAt < 2000) {
      // The process died (or exited when the track went idle) and packets flow: start a fresh one.
      void this.restart();
    }
  }

  /** Whether `close` was called. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Stops decoding: ends the processes and the timer. Idempotent. */
  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    clearInterval(this.timer);
    if (this.idleStop) clearTimeout(this.idleStop);
    this.idleStop = undefined;
    await Promise.all([this.active?.proc.close(), this.pending?.proc.close()]);
    this.active = undefined;
    this.pending = undefined;
  }
}

export interface AudioTrackDecoderOptions {
  codec: RtpCodec;
  log?: Logger;
  label?: string;
  onPcm: (pcm: Buffer) => void;
  /** the ffmpeg executable (default `ffmpeg` on the PATH) */
  ffmpegPath?: string;
}

/** Decodes one audio track into s16le 48 kHz stereo PCM (delivered in 10 ms multiples). */
export class AudioTrackDecoder {
  private proc: RtpProcess | undefined;
  private readonly ready: Promise<void>;
  private isClosed = false;
  private restarts = 0;

  constructor(private readonly options: AudioTrackDecoderOptions) {
    this.ready = this.start();
  }

  private async start(): Promise<void> {
    const proc = await RtpProcess.start({
      kind: 'audio',
      codec: this.options.codec,
      log: this.options.log ?? silentLogger,
      label: this.options.label ?? 'audio',
      ...(this.options.ffmpegPath ? { ffmpegPath: this.options.ffmpegPath } : {}),
      outputArgs: ([target]) => [
        '-vn',
        '-flush_packets',
        '1',
        '-f',
        's16le',
        '-acodec',
        'pcm_s16le',
        '-ar',
        '48000',
        '-ac',
        '2',
        ...target!,
      ],
    });
    if (this.isClosed) {
      await proc.close();
      return;
    }
    this.proc = proc;
    const reader = new FixedSizeReader(480 * 4, (pcm) => this.options.onPcm(pcm));
    proc.onOutput(0, (d) => reader.push(d));
    proc.child.once('exit', () => {
      if (this.isClosed) return;
      // Idle timeout or a crash: start again (backing off), packets meanwhile are dropped.
      this.restarts += 1;
      const timer = setTimeout(
        () => {
          if (!this.isClosed) void this.start().catch(() => undefined);
        },
        Math.min(10_000, 500 * this.restarts),
      );
      timer.unref();
    });
  }

  /** Resolves once the decoder is listening for packets. */
  whenReady(): Promise<void> {
    return this.ready;
  }

  feed(packet: Buffer): void {
    this.proc?.send(packet);
  }

  /** Whether `close` was called. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Stops decoding (no restart after that). Idempotent. */
  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    await this.ready.catch(() => undefined);
    await this.proc?.close();
  }
}
