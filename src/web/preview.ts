/**
 * Broadcast previews: `PreviewTap` wraps the egress's frame source factory and remembers the last
 * composed I420 frame of each call's broadcast groups; `i420ToJpeg` turns one into a small JPEG.
 */
import { createCanvas, ImageData } from '@napi-rs/canvas';
import type { FrameSource, FrameSourceFactory } from '../egress/frame-source.js';
import { canvasFor, type LayoutSettings, type Quality } from '../layout/settings.js';
import { i420Planes, type I420Frame } from '../render/i420-frame.js';

export type { I420Frame } from '../render/i420-frame.js';

/** Scaled-down RGBA (nearest neighbour, BT.601 limited range) of an I420 frame. Pure. */
export function i420ToRgba(frame: I420Frame, maxWidth: number): { rgba: Uint8ClampedArray; width: number; height: number } {
  const { data, width, height } = frame;
  const scale = Math.min(1, maxWidth / width);
  const outW = Math.max(1, Math.round(width * scale));
  const outH = Math.max(1, Math.round(height * scale));
  const { chromaWidth: cw, uOffset: uOff, vOffset: vOff, bytes } = i420Planes(width, height);
  if (data.length < bytes) throw new Error(`I420 frame of ${width}x${height} needs ${bytes} bytes, got ${data.length}`);
  const rgba = new Uint8ClampedArray(outW * outH * 4);
  for (let oy = 0; oy < outH; oy++) {
    const y = Math.min(height - 1, Math.floor(oy / scale));
    for (let ox = 0; ox < outW; ox++) {
      const x = Math.min(width - 1, Math.floor(ox / scale));
      const Y = data[y * width + x]! - 16;
      const U = data[uOff + (y >> 1) * cw + (x >> 1)]! - 128;
      const V = data[vOff + (y >> 1) * cw + (x >> 1)]! - 128;
      const i = (oy * outW + ox) * 4;
      rgba[i] = 1.164 * Y + 1.596 * V;
      rgba[i + 1] = 1.164 * Y - 0.392 * U - 0.813 * V;
      rgba[i + 2] = 1.164 * Y + 2.017 * U;
      rgba[i + 3] = 255;
    }
  }
  return { rgba, width: outW, height: outH };
}

/** A JPEG of the frame, at most `maxWidth` wide. */
export async function i420ToJpeg(frame: I420Frame, opts: { maxWidth?: number; quality?: number } = {}): Promise<Buffer> {
  const { rgba, width, height } = i420ToRgba(frame, opts.maxWidth ?? 640);
  const canvas = createCanvas(width, height);
  const ctx = canvas.getContext('2d');
  ctx.putImageData(new ImageData(rgba, width, height), 0, 0);
  return canvas.encode('jpeg', opts.quality ?? 75);
}

interface TappedGroup {
  quality: Quality;
  layout: LayoutSettings;
  frame: I420Frame | null;
  at: number;
}

/**
 * Remembers the last frame each (call, quality, layout) source produced. The frame buffer is the
 * source's own (not copied), and the source draws later frames into it once the encoder took it:
 * a preview may therefore show a slightly newer picture, or one torn between two frames.
 */
export class PreviewTap {
  private readonly groups = new Map<string, Set<TappedGroup>>();
  private readonly cache = new Map<string, { at: number; jpeg: Promise<Buffer> }>();

  constructor(private readonly now: () => number = Date.now) {}

  wrap(factory: FrameSourceFactory): FrameSourceFactory {
    return (callCid, quality, layout) => {
      const source = factory(callCid, quality, layout);
      const group: TappedGroup = { quality, layout, frame: null, at: 0 };
      let set = this.groups.get(callCid);
      if (!set) this.groups.set(callCid, (set = new Set()));
      set.add(group);
      const size = canvasFor(quality);
      const tapped: FrameSource = {
        videoFrame: (ptsMs) => {
          const data = source.videoFrame(ptsMs);
          group.frame = { data, width: size.width, height: size.height };
          group.at = this.now();
          return data;
        },
        audioSamples: (ptsMs, n) => source.audioSamples(ptsMs, n),
        releaseFrame: (frame) => source.releaseFrame?.(frame),
        ...(source.audioStats ? { audioStats: () => source.audioStats!() } : {}),
        ...(source.onFailure ? { onFailure: (fn: (reason: string) => void) => source.onFailure!(fn) } : {}),
        close: () => {
          set!.delete(group);
          if (set!.size === 0) this.groups.delete(callCid);
          source.close();
        },
      };
      return tapped;
    };
  }

  /** The latest frame of the call (of the group with that quality, when given). */
  latestFrame(callCid: string, quality?: Quality): I420Frame | null {
    let best: TappedGroup | null = null;
    for (const g of this.groups.get(callCid) ?? []) {
      if (!g.frame || (quality !== undefined && g.quality !== quality)) continue;
      if (!best || g.at > best.at) best = g;
    }
    return best?.frame ?? null;
  }

  /** A JPEG of the latest frame, encoded at most about twice a second per call and quality. */
  async latestJpeg(callCid: string, quality?: Quality, maxAgeMs = 500): Promise<Buffer | null> {
    const key = `${callCid}\u0000${quality ?? ''}`;
    const cached = this.cache.get(key);
    if (cached && this.now() - cached.at < maxAgeMs) return cached.jpeg;
    const frame = this.latestFrame(callCid, quality);
    if (!frame) {
      this.cache.delete(key);
      return null;
    }
    const jpeg = i420ToJpeg(frame);
    this.cache.set(key, { at: this.now(), jpeg });
    jpeg.catch(() => this.cache.delete(key));
    return jpeg;
  }
}
