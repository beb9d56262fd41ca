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

/**
 * A per-track PCM queue read by several consumers (one per broadcast group), each at its own
 * position. Writes append decoded PCM as it arrives; reads take `sampleFrames` from a consumer's
 * position. Latency is bounded: a consumer that falls more than `maxLagFrames` behind skips ahead
 * to `targetLagFrames`; one that catches up with the writer gets silence for the missing part.
 */
export class PcmTimeline {
  private buf: Buffer;
  /** absolute sample-frame index of buf[0] */
  private startFrame = 0;
  private endFrame = 0;
  private readonly cursors = new Map<string, number>();

  constructor(private readonly targetLagFrames = Math.round(SAMPLE_RATE * 0.04), private readonly maxLagFrames = Math.round(SAMPLE_RATE * 0.1)) {
    this.buf = Buffer.alloc(0);
  }

  get writtenFrames(): number { return this.endFrame; }

  write(pcm: Buffer): void {
    const frames = Math.floor(pcm.length / BYTES_PER_SAMPLE_FRAME);
    if (frames === 0) return;
    this.buf = this.buf.length === 0 ? Buffer.from(pcm.subarray(0, frames * BYTES_PER_SAMPLE_FRAME)) : Buffer.concat([this.buf, pcm.subarray(0, frames * BYTES_PER_SAMPLE_FRAME)]);
    this.endFrame += frames;
    this.trim();
  }

  /** Reads for `consumer`; returns exactly `sampleFrames` frames (silence-padded). */
  read(consumer: string, sampleFrames: number): Buffer {
    let pos = this.cursors.get(consumer);
    if (pos === undefined || this.endFrame - pos > this.maxLagFrames || pos < this.startFrame) {
      pos = Math.max(this.startFrame, this.endFrame - this.targetLagFrames);
    }
    const available = Math.max(0, Math.min(sampleFrames, this.endFrame - pos));
    const out = Buffer.alloc(sampleFrames * BYTES_PER_SAMPLE_FRAME);
    if (available > 0) {
      const from = (pos - this.startFrame) * BYTES_PER_SAMPLE_FRAME;
      this.buf.copy(out, 0, from, from + available * BYTES_PER_SAMPLE_FRAME);
    }
    this.cursors.set(consumer, pos + available);
    this.trim();
    return out;
  }

  release(consumer: string): void {
    this.cursors.delete(consumer);
  }

  /** Drops what no consumer still needs (and anything beyond the maximum lag). */
  private trim(): void {
    let keepFrom = this.endFrame - this.maxLagFrames;
    for (const pos of this.cursors.values()) keepFrom = Math.min(keepFrom, pos);
    keepFrom = Math.max(keepFrom, this.endFrame - this.maxLagFrames, this.startFrame);
    if (keepFrom > this.startFrame) {
      this.buf = this.buf.subarray((keepFrom - this.startFrame) * BYTES_PER_SAMPLE_FRAME);
      this.startFrame = keepFrom;
    }
  }
}
