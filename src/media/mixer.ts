/**
 * Pure audio mixing of s16le stereo 48 kHz PCM: the broadcast hears everyone (layouts.md §4).
 * Streams are summed in floating point; a soft limiter keeps the sum out of clipping (unity gain
 * below the knee, a smooth curve that approaches full scale above it), so one voice passes
 * unchanged and many loud voices never wrap around.
 */

export const SAMPLE_RATE = 48000;
export const CHANNELS = 2;
export const BYTES_PER_SAMPLE_FRAME = 2 * CHANNELS;
const FULL_SCALE = 32767;
/** Below this absolute level the limiter is transparent. */
const KNEE = 0.8 * FULL_SCALE;

/** Soft-limits one summed sample (any magnitude) into the int16 range. */
export function softLimit(x: number): number {
  const a = Math.abs(x);
  if (a <= KNEE) return x;
  const headroom = FULL_SCALE - KNEE;
  const over = a - KNEE;
  // tanh maps [0, inf) to [0, 1): the result approaches full scale but never reaches it.
  const y = KNEE + headroom * Math.tanh(over / headroom);
  return x < 0 ? -y : y;
}

/** Views a PCM buffer as int16 samples (copying when the buffer is not 2-byte aligned). */
export function samplesOf(pcm: Buffer): Int16Array {
  if (pcm.byteOffset % 2 === 0) return new Int16Array(pcm.buffer, pcm.byteOffset, Math.floor(pcm.length / 2));
  const copy = Buffer.from(pcm);
  return new Int16Array(copy.buffer, copy.byteOffset, Math.floor(copy.length / 2));
}

/**
 * Mixes `inputs` (each s16le, any length up to `sampleFrames`; shorter ones are padded with
 * silence) into a new buffer of exactly `sampleFrames` frames.
 */
export function mixPcm(inputs: readonly Buffer[], sampleFrames: number): Buffer {
  const out = Buffer.alloc(sampleFrames * BYTES_PER_SAMPLE_FRAME);
  if (inputs.length === 0) return out;
  const n = sampleFrames * CHANNELS;
  if (inputs.length === 1) {
    const src = inputs[0]!;
    src.copy(out, 0, 0, Math.min(src.length, out.length));
    return out;
  }
  const sum = new Float64Array(n);
  for (const input of inputs) {
    const s = samplesOf(input);
    const m = Math.min(n, s.length);
    for (let i = 0; i < m; i++) sum[i]! += s[i]!;
  }
  const o = new Int16Array(out.buffer, out.byteOffset, n);
  for (let i = 0; i < n; i++) o[i] = Math.round(softLimit(sum[i]!));
  return out;
}

/** RMS level of PCM in dBFS (full-scale sine ~ -3 dBFS); -Infinity for digital silence. */
export function rmsDbfs(pcm: Buffer): number {
  const s = samplesOf(pcm);
  if (s.length === 0) return -Infinity;
  let acc = 0;
  for (let i = 0; i < s.length; i++) acc += s[i]! * s[i]!;
  const rms = Math.sqrt(acc / s.length) / FULL_SCALE;
  return rms > 0 ? 20 * Math.log10(rms) : -Infinity;
}

/** What one consumer of PcmTimelines lost, in sample frames; reads add to it. */
export interface PcmReadStats {
  /** not delivered in time: silence was played while the reader waited for them */
  underrunSampleFrames: number;
  /** skipped to bound the latency (a consumer that fell behind, or a standing excess of buffered sound) */
  droppedSampleFrames: number;
}

interface Cursor {
  /** absolute sample-frame index of the consumer's next frame; never ahead of the writer */
  pos: number;
  /** waiting until the target lag of sound is buffered (a new reader, or after an underrun) */
  buffering: boolean;
  /** silence played while buffering since the last sound (an underrun, unless it turns into a pause) */
  silent: number;
  /** whether it has played sound yet (the wait before the first is not an underrun) */
  played: boolean;
  /** the smallest lag seen in the current measuring window, and how much was read in it */
  windowMinLag: number;
  windowFrames: number;
}

/**
 * A per-track PCM queue read by several consumers (one per broadcast group), each at its own
 * position: an adaptive jitter buffer between two clocks, the decoder's (the writer) and the
 * broadcast's (the reader), each of which can stall, burst, or lose a little.
 *
 * A reader enters `targetLagFrames` behind the writer and never gets ahead of it: when the sound
 * due is not there (an underrun), the reader plays silence, stays where the writer is and waits
 * until the target lag is buffered again, so nothing the decoder delivers later is thrown away.
 * (A reader that ran on ahead of a writer that had lost a few packets would play silence for as
 * long as it stayed ahead: seconds, seen with a starved decoder.) The latency this adds is taken
 * back: when the smallest lag over a second of reading stays more than `slackFrames` above the
 * target (a standing excess, not a burst), the excess is skipped; a consumer more than
 * `maxLagFrames` behind (it stopped reading) skips to the target lag at once. A writer that stops
 * (a pause) is waited for the same way, and its sound picked up where it resumes; silence counts
 * as an underrun only when the sound resumes within `maxPauseFrames`. A sample is never played
 * twice. Underruns and skips are counted in the reader's stats.
 */
export class PcmTimeline {
  private buf: Buffer;
  /** absolute sample-frame index of buf[0] */
  private startFrame = 0;
  private endFrame = 0;
  private readonly cursors = new Map<string, Cursor>();

  constructor(
    private readonly targetLagFrames = Math.round(SAMPLE_RATE * 0.06),
    // The target plus the half second a broadcast's clock catches up after a stall (pacer.ts).
    private readonly maxLagFrames = Math.round(SAMPLE_RATE * 0.56),
    private readonly slackFrames = Math.round(SAMPLE_RATE * 0.06),
    private readonly maxPauseFrames = Math.round(SAMPLE_RATE * 0.25),
  ) {
    this.buf = Buffer.alloc(0);
  }

  get writtenFrames(): number {
    return this.endFrame;
  }

  write(pcm: Buffer): void {
    const frames = Math.floor(pcm.length / BYTES_PER_SAMPLE_FRAME);
    if (frames === 0) return;
    this.buf =
      this.buf.length === 0
        ? Buffer.from(pcm.subarray(0, frames * BYTES_PER_SAMPLE_FRAME))
        : Buffer.concat([this.buf, pcm.subarray(0, frames * BYTES_PER_SAMPLE_FRAME)]);
    this.endFrame += frames;
    this.trim();
  }

  /** How far `consumer` is behind the writer, in sample frames (undefined before its first read). */
  lagOf(consumer: string): number | undefined {
    const c = this.cursors.get(consumer);
    return c ? this.endFrame - c.pos : undefined;
  }

  /**
   * Reads for `consumer`; returns exactly `sampleFrames` frames (silence-padded), and adds what
   * was filled with silence or skipped to `stats`.
   */
  read(consumer: string, sampleFrames: number, stats?: PcmReadStats): Buffer {
    let c = this.cursors.get(consumer);
    if (!c) {
      // A new reader waits until the target lag is there (or starts that far behind the writer).
      c = {
        pos: Math.max(this.startFrame, this.endFrame - this.targetLagFrames),
        buffering: true,
        silent: 0,
        played: false,
        windowMinLag: Number.POSITIVE_INFINITY,
        windowFrames: 0,
      };
      this.cursors.set(consumer, c);
    }
    const out = Buffer.alloc(sampleFrames * BYTES_PER_SAMPLE_FRAME);
    if (c.buffering) {
      if (this.endFrame - c.pos < this.targetLagFrames) {
        if (c.played) c.silent += sampleFrames;
        return out;
      }
      // The target lag of sound is there (again): play it from where it starts.
      c.buffering = false;
      if (stats && c.silent <= this.maxPauseFrames) stats.underrunSampleFrames += c.silent;
      c.silent = 0;
      c.windowMinLag = Number.POSITIVE_INFINITY;
      c.windowFrames = 0;
    }
    if (this.endFrame - c.pos > this.maxLagFrames || c.pos < this.startFrame) this.skipTo(c, this.endFrame - this.targetLagFrames, stats);
    // Latency control: a lag that stayed above target + slack for a whole window is a standing
    // excess (left by an underrun, a burst or a stalled reader), not jitter: skip it.
    c.windowMinLag = Math.min(c.windowMinLag, this.endFrame - c.pos);
    c.windowFrames += sampleFrames;
    if (c.windowFrames >= SAMPLE_RATE) {
      const excess = c.windowMinLag - this.targetLagFrames;
      if (excess > this.slackFrames) this.skipTo(c, c.pos + excess, stats);
      c.windowMinLag = Number.POSITIVE_INFINITY;
      c.windowFrames = 0;
    }
    const available = Math.max(0, Math.min(sampleFrames, this.endFrame - c.pos));
    if (available > 0) {
      const from = (c.pos - this.startFrame) * BYTES_PER_SAMPLE_FRAME;
      this.buf.copy(out, 0, from, from + available * BYTES_PER_SAMPLE_FRAME);
      c.pos += available;
      c.played = true;
    }
    if (available < sampleFrames) {
      // An underrun: wait where the writer is, until the target lag is buffered again.
      c.buffering = true;
      c.silent = sampleFrames - available;
    }
    this.trim();
    return out;
  }

  release(consumer: string): void {
    this.cursors.delete(consumer);
  }

  private skipTo(c: Cursor, frame: number, stats?: PcmReadStats): void {
    const to = Math.min(this.endFrame, Math.max(this.startFrame, frame));
    if (to <= c.pos) return;
    if (stats) stats.droppedSampleFrames += to - c.pos;
    c.pos = to;
  }

  /** Drops what no consumer still needs (keeping the target lag for new ones, at most the maximum lag). */
  private trim(): void {
    let keepFrom = this.endFrame - this.targetLagFrames;
    for (const c of this.cursors.values()) keepFrom = Math.min(keepFrom, c.pos);
    keepFrom = Math.max(keepFrom, this.endFrame - this.maxLagFrames, this.startFrame);
    if (keepFrom > this.startFrame) {
      this.buf = this.buf.subarray((keepFrom - this.startFrame) * BYTES_PER_SAMPLE_FRAME);
      this.startFrame = keepFrom;
    }
  }
}
