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
  /** not delivered in time: silence was played in their place (the late samples are dropped) */
  underrunSampleFrames: number;
  /** skipped because the consumer had fallen more than the maximum lag behind */
  droppedSampleFrames: number;
}

interface Cursor {
  /** absolute sample-frame index of the consumer's next frame; may be ahead of the writer */
  pos: number;
  /** silence played since the consumer last had sound (an underrun, unless it turns into a pause) */
  silent: number;
  /** the writer paused (the consumer got this far ahead of it): wait for sound to resume */
  paused: boolean;
}

/**
 * A per-track PCM queue read by several consumers (one per broadcast group), each at its own
 * position. Writes append decoded PCM as it arrives; reads take `sampleFrames` from a consumer's
 * position. Each consumer's position runs at its reading rate, so the sound keeps its timing:
 * what the decoder has not delivered when it is due is played as silence in its place and, when it
 * arrives late, dropped (never played later, which would push the rest back until a cut); a sample
 * is never played twice. The reader enters `targetLagFrames` behind the writer. Latency is bounded:
 * a consumer that falls more than `maxLagFrames` behind (it stopped reading) skips ahead to the
 * target lag. A writer that stops for longer than `maxLeadFrames` (a pause) is waited for, and its
 * sound picked up where it resumes. Underruns and skips are counted in the reader's stats.
 */
export class PcmTimeline {
  private buf: Buffer;
  /** absolute sample-frame index of buf[0] */
  private startFrame = 0;
  private endFrame = 0;
  private readonly cursors = new Map<string, Cursor>();

  constructor(
    private readonly targetLagFrames = Math.round(SAMPLE_RATE * 0.04),
    // The target plus the half second a broadcast's clock catches up after a stall (pacer.ts).
    private readonly maxLagFrames = Math.round(SAMPLE_RATE * 0.54),
    private readonly maxLeadFrames = Math.round(SAMPLE_RATE * 0.25),
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

  /**
   * Reads for `consumer`; returns exactly `sampleFrames` frames (silence-padded), and adds what
   * was filled with silence or skipped to `stats`.
   */
  read(consumer: string, sampleFrames: number, stats?: PcmReadStats): Buffer {
    let c = this.cursors.get(consumer);
    if (!c) {
      // A new reader waits until the target lag is there (or starts that far behind the writer).
      c = { pos: Math.max(this.startFrame, this.endFrame - this.targetLagFrames), silent: 0, paused: true };
      this.cursors.set(consumer, c);
    }
    if (c.paused && this.endFrame - c.pos >= this.targetLagFrames) {
      // The target lag of sound is there (again, after a pause): play it from where it starts.
      c.paused = false;
    }
    if (c.paused) return Buffer.alloc(sampleFrames * BYTES_PER_SAMPLE_FRAME);
    if (this.endFrame - c.pos > this.maxLagFrames || c.pos < this.startFrame) {
      const resumed = Math.max(this.startFrame, this.endFrame - this.targetLagFrames);
      if (stats) stats.droppedSampleFrames += Math.max(0, resumed - c.pos);
      c.pos = resumed;
    }
    const available = Math.max(0, Math.min(sampleFrames, this.endFrame - c.pos));
    const out = Buffer.alloc(sampleFrames * BYTES_PER_SAMPLE_FRAME);
    if (available > 0) {
      const from = (c.pos - this.startFrame) * BYTES_PER_SAMPLE_FRAME;
      this.buf.copy(out, 0, from, from + available * BYTES_PER_SAMPLE_FRAME);
      if (stats) stats.underrunSampleFrames += c.silent;
      c.silent = 0;
    }
    c.pos += sampleFrames;
    if (available < sampleFrames && this.endFrame > 0) c.silent += sampleFrames - available;
    if (c.pos - this.endFrame > this.maxLeadFrames) {
      // The writer has stopped rather than being late: wait for it where it stopped.
      c.pos = this.endFrame;
      c.paused = true;
      c.silent = 0;
    }
    this.trim();
    return out;
  }

  release(consumer: string): void {
    this.cursors.delete(consumer);
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
