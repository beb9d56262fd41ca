/**
 * Where a broadcast group's pictures and sound come from. The compositor implements this; until
 * it is wired in, the default source paints the layout's background colour and plays silence.
 */
import type { LayoutSettings, Quality } from '../layout/settings.js';
import { PCM_BYTES_PER_SAMPLE_FRAME, i420FrameBytes, qualityProfile } from './qualities.js';

export interface FrameSource {
  /**
   * One I420 frame of the quality's size, for presentation time `ptsMs`. The caller does not
   * modify it, and the source must not modify it afterwards either: it is queued to the encoder
   * as is (return a fresh buffer, or one that never changes).
   */
  videoFrame(ptsMs: number): Buffer;
  /** `sampleFrames` frames of s16le stereo 48 kHz PCM starting at `ptsMs`. */
  audioSamples(ptsMs: number, sampleFrames: number): Buffer;
  close(): void;
}

export type FrameSourceFactory = (callCid: string, quality: Quality, layout: LayoutSettings) => FrameSource;

export interface Rgb { r: number; g: number; b: number }

const NAMED_COLORS: Record<string, string> = {
  black: '#000000', white: '#ffffff', red: '#ff0000', green: '#008000', lime: '#00ff00', blue: '#0000ff',
  yellow: '#ffff00', cyan: '#00ffff', aqua: '#00ffff', magenta: '#ff00ff', fuchsia: '#ff00ff',
  gray: '#808080', grey: '#808080', silver: '#c0c0c0', maroon: '#800000', navy: '#000080',
  olive: '#808000', purple: '#800080', teal: '#008080', orange: '#ffa500', transparent: '#000000',
};

/** Parses a CSS colour (#rgb, #rrggbb, #rrggbbaa, rgb()/rgba(), a few names); null if not understood. */
export function parseCssColor(value: unknown): Rgb | null {
  if (typeof value !== 'string') return null;
  let s = value.trim().toLowerCase();
  const named = NAMED_COLORS[s];
  if (named) s = named;
  let m = /^#([0-9a-f]{3,4})$/.exec(s);
  if (m) {
    const h = m[1]!;
    return { r: parseInt(h[0]! + h[0]!, 16), g: parseInt(h[1]! + h[1]!, 16), b: parseInt(h[2]! + h[2]!, 16) };
  }
  m = /^#([0-9a-f]{6})([0-9a-f]{2})?$/.exec(s);
  if (m) {
    const h = m[1]!;
    return { r: parseInt(h.slice(0, 2), 16), g: parseInt(h.slice(2, 4), 16), b: parseInt(h.slice(4, 6), 16) };
  }
  m = /^rgba?\(\s*(\d{1,3})\s*[, ]\s*(\d{1,3})\s*[, ]\s*(\d{1,3})\s*(?:[,/]\s*[\d.]+%?\s*)?\)$/.exec(s);
  if (m) {
    const c = [m[1], m[2], m[3]].map((x) => Math.min(255, Number(x)));
    return { r: c[0]!, g: c[1]!, b: c[2]! };
  }
  return null;
}

/** BT.601 limited-range Y'CbCr of an sRGB colour (what ffmpeg assumes for untagged SD/HD yuv420p). */
export function rgbToYuv601({ r, g, b }: Rgb): { y: number; u: number; v: number } {
  const clamp = (x: number) => Math.max(0, Math.min(255, Math.round(x)));
  return {
    y: clamp(16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255),
    u: clamp(128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255),
    v: clamp(128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255),
  };
}

/** One I420 frame filled with a single colour. */
export function solidI420Frame(width: number, height: number, color: Rgb): Buffer {
  const { y, u, v } = rgbToYuv601(color);
  const frame = Buffer.alloc(i420FrameBytes(width, height));
  const ySize = width * height;
  const cSize = Math.ceil(width / 2) * Math.ceil(height / 2);
  frame.fill(y, 0, ySize);
  frame.fill(u, ySize, ySize + cSize);
  frame.fill(v, ySize + cSize, ySize + 2 * cSize);
  return frame;
}

/** The layout's canvas background colour (`layout.background_color`, default black). */
export function layoutBackgroundColor(layout: LayoutSettings): Rgb {
  const opts = layout.options ?? {};
  return parseCssColor(opts['layout.background_color']) ?? { r: 0, g: 0, b: 0 };
}

/** A source that shows the layout's background colour and plays silence. */
export class BackgroundFrameSource implements FrameSource {
  private readonly frame: Buffer;
  private silence: Buffer = Buffer.alloc(0);

  constructor(quality: Quality, layout: LayoutSettings) {
    const { width, height } = qualityProfile(quality);
    this.frame = solidI420Frame(width, height, layoutBackgroundColor(layout));
  }

  videoFrame(_ptsMs: number): Buffer {
    return this.frame;
  }

  audioSamples(_ptsMs: number, sampleFrames: number): Buffer {
    const bytes = sampleFrames * PCM_BYTES_PER_SAMPLE_FRAME;
    if (this.silence.length < bytes) this.silence = Buffer.alloc(bytes);
    return this.silence.subarray(0, bytes);
  }

  close(): void {}
}

export const backgroundFrameSourceFactory: FrameSourceFactory = (_callCid, quality, layout) =>
  new BackgroundFrameSource(quality, layout);
