/**
 * Drawing into I420 frames (layout and sizes in i420-frame.ts): colour conversion, fills, blits
 * and sprite blending. Colour conversion is BT.601 limited range, as ffmpeg's default RGB ->
 * yuv420p conversion. Blit positions and sizes are even (chroma is 2x2 subsampled).
 */
import type { Rgb, Rgba } from '../layout/color.js';
import type { Rect } from '../layout/scene.js';
import { allocI420, i420Planes } from './i420-frame.js';

export interface Yuv {
  y: number;
  u: number;
  v: number;
}

// BT.601 limited range in 15-bit fixed point, rounded to nearest like swscale:
// Y = 16 + 219/255 (0.299 R + 0.587 G + 0.114 B), U/V = 128 + 224/255 (...).
const F = 1 << 15;
const k = (v: number): number => Math.round(v * F);
const YR = k((219 / 255) * 0.299),
  YG = k((219 / 255) * 0.587),
  YB = k((219 / 255) * 0.114);
const UR = k((224 / 255) * -0.168736),
  UG = k((224 / 255) * -0.331264),
  UB = k((224 / 255) * 0.5);
const VR = k((224 / 255) * 0.5),
  VG = k((224 / 255) * -0.418688),
  VB = k((224 / 255) * -0.081312);
const Y_OFF = 16 * F + F / 2;
const C_OFF = 128 * F + F / 2;
const yOf = (r: number, g: number, b: number): number => (YR * r + YG * g + YB * b + Y_OFF) >> 15;
const uOf = (r: number, g: number, b: number): number => (UR * r + UG * g + UB * b + C_OFF) >> 15;
const vOf = (r: number, g: number, b: number): number => (VR * r + VG * g + VB * b + C_OFF) >> 15;

export function rgbToYuv(c: Rgb): Yuv {
  return { y: yOf(c.r, c.g, c.b), u: uOf(c.r, c.g, c.b), v: vOf(c.r, c.g, c.b) };
}

/** Reads the pixel at (x, y) of an I420 frame. */
export function pixelAt(frame: Buffer, width: number, height: number, x: number, y: number): Yuv {
  const p = i420Planes(width, height);
  const ci = (y >> 1) * p.chromaWidth + (x >> 1);
  return { y: frame[y * width + x]!, u: frame[p.uOffset + ci]!, v: frame[p.vOffset + ci]! };
}

/** Fills the whole frame with one opaque colour (an alpha channel, if any, is ignored). */
export function fillI420(frame: Buffer, width: number, height: number, color: Rgb | Rgba): Buffer {
  const { y, u, v } = rgbToYuv(color);
  const p = i420Planes(width, height);
  frame.fill(y, 0, p.lumaBytes);
  frame.fill(u, p.uOffset, p.vOffset);
  frame.fill(v, p.vOffset, p.bytes);
  return frame;
}

/** A new I420 frame filled with one colour. */
export function solidI420Frame(width: number, height: number, color: Rgb): Buffer {
  return fillI420(allocI420(width, height), width, height, color);
}

/**
 * Converts an RGBA image (alpha ignored) to I420; chroma is the average of each 2x2 block (a
 * block on the right or bottom edge of an odd size repeats the edge pixels).
 */
export function rgbaToI420(rgba: Uint8Array, width: number, height: number): Buffer {
  const out = allocI420(width, height);
  const { chromaWidth: cw, chromaHeight: ch, uOffset: uBase, vOffset: vBase } = i420Planes(width, height);
  for (let y = 0; y < height; y++) {
    let s = y * width * 4;
    let d = y * width;
    for (let x = 0; x < width; x++, s += 4, d++) out[d] = yOf(rgba[s]!, rgba[s + 1]!, rgba[s + 2]!);
  }
  for (let cy = 0; cy < ch; cy++) {
    for (let cx = 0; cx < cw; cx++) {
      const x0 = 2 * cx,
        x1 = Math.min(x0 + 1, width - 1);
      const y0 = 2 * cy,
        y1 = Math.min(y0 + 1, height - 1);
      const a = (y0 * width + x0) * 4,
        a1 = (y0 * width + x1) * 4;
      const b = (y1 * width + x0) * 4,
        b1 = (y1 * width + x1) * 4;
      const r = (rgba[a]! + rgba[a1]! + rgba[b]! + rgba[b1]! + 2) >> 2;
      const g = (rgba[a + 1]! + rgba[a1 + 1]! + rgba[b + 1]! + rgba[b1 + 1]! + 2) >> 2;
      const bl = (rgba[a + 2]! + rgba[a1 + 2]! + rgba[b + 2]! + rgba[b1 + 2]! + 2) >> 2;
      out[uBase + cy * cw + cx] = uOf(r, g, bl);
      out[vBase + cy * cw + cx] = vOf(r, g, bl);
    }
  }
  return out;
}

/**
 * Copies an I420 image into another at (x, y), both rounded down to even, clipped to the destination.
 */
export function blitI420(dst: Buffer, dstW: number, dstH: number, src: Buffer, srcW: number, srcH: number, x: number, y: number): void {
  const x0 = Math.floor(x / 2) * 2;
  const y0 = Math.floor(y / 2) * 2;
  const sx = Math.max(0, -x0);
  const sy = Math.max(0, -y0);
  const w = Math.min(srcW - sx, dstW - (x0 + sx)) & ~1;
  const h = Math.min(srcH - sy, dstH - (y0 + sy)) & ~1;
  if (w <= 0 || h <= 0) return;
  const rows = rowViews(src, srcW, srcH, sx, sy, w, h);
  for (let row = 0; row < h; row++) dst.set(rows[row]!, (y0 + sy + row) * dstW + x0 + sx);
  const { chromaWidth: dcw, uOffset: dU, vOffset: dV } = i420Planes(dstW, dstH);
  const cx = (x0 + sx) >> 1,
    cy = (y0 + sy) >> 1,
    ch = h >> 1;
  for (let row = 0; row < ch; row++) {
    const d = (cy + row) * dcw + cx;
    dst.set(rows[h + row]!, dU + d);
    dst.set(rows[h + ch + row]!, dV + d);
  }
}

interface RowViews {
  srcW: number;
  srcH: number;
  sx: number;
  sy: number;
  w: number;
  h: number;
  rows: Uint8Array[];
}

/**
 * Views of the rows a blit copies (Y rows, then U, then V), made once per source buffer and
 * reused while its geometry stays the same: decoded tile frames arrive in a few recycled buffers,
 * so per-frame copying allocates nothing (a view per row and frame kept the garbage collector
 * busy).
 */
const rowViewCache = new WeakMap<Buffer, RowViews>();

function rowViews(src: Buffer, srcW: number, srcH: number, sx: number, sy: number, w: number, h: number): Uint8Array[] {
  const c = rowViewCache.get(src);
  if (c && c.srcW === srcW && c.srcH === srcH && c.sx === sx && c.sy === sy && c.w === w && c.h === h) return c.rows;
  const rows: Uint8Array[] = [];
  const view = (offset: number, length: number) => new Uint8Array(src.buffer, src.byteOffset + offset, length);
  for (let row = 0; row < h; row++) rows.push(view((sy + row) * srcW + sx, w));
  const { chromaWidth: scw, uOffset: sU, vOffset: sV } = i420Planes(srcW, srcH);
  const csx = sx >> 1,
    csy = sy >> 1,
    cw = w >> 1;
  for (let row = 0; row < h >> 1; row++) rows.push(view(sU + (csy + row) * scw + csx, cw));
  for (let row = 0; row < h >> 1; row++) rows.push(view(sV + (csy + row) * scw + csx, cw));
  rowViewCache.set(src, { srcW, srcH, sx, sy, w, h, rows });
  return rows;
}

/**
 * An RGBA sprite converted once for fast per-frame blending: Y/alpha per pixel, U/V/alpha per
 * 2x2 block (alpha-weighted), and the runs of non-transparent pixels so blending touches only those.
 */
export interface CompiledSprite {
  width: number;
  height: number;
  y: Uint8Array;
  a: Uint8Array;
  u: Uint8Array;
  v: Uint8Array;
  ca: Uint8Array;
  /** [row, x0, x1) triples of luma pixels with alpha > 0 */
  runs: Int32Array;
  /** the same for chroma blocks */
  chromaRuns: Int32Array;
}

function runsOf(alpha: Uint8Array, w: number, h: number): Int32Array {
  const out: number[] = [];
  for (let row = 0; row < h; row++) {
    let x = 0;
    const base = row * w;
    while (x < w) {
      while (x < w && alpha[base + x] === 0) x++;
      const start = x;
      while (x < w && alpha[base + x] !== 0) x++;
      if (x > start) out.push(row, start, x);
    }
  }
  return Int32Array.from(out);
}

/** Compiles an RGBA sprite (straight alpha); odd sizes are padded with transparent pixels. */
export function compileSprite(rgba: Uint8Array, sw: number, sh: number): CompiledSprite {
  const w = sw + (sw & 1);
  const h = sh + (sh & 1);
  const y = new Uint8Array(w * h);
  const a = new Uint8Array(w * h);
  const cw = w >> 1,
    ch = h >> 1;
  const u = new Uint8Array(cw * ch),
    v = new Uint8Array(cw * ch),
    ca = new Uint8Array(cw * ch);
  const px = (x: number, yy: number): number => (x < sw && yy < sh ? (yy * sw + x) * 4 : -1);
  for (let yy = 0; yy < sh; yy++) {
    for (let x = 0; x < sw; x++) {
      const s = (yy * sw + x) * 4;
      a[yy * w + x] = rgba[s + 3]!;
      y[yy * w + x] = yOf(rgba[s]!, rgba[s + 1]!, rgba[s + 2]!);
    }
  }
  for (let cy = 0; cy < ch; cy++) {
    for (let cx = 0; cx < cw; cx++) {
      let sa = 0,
        sr = 0,
        sg = 0,
        sb = 0;
      for (const [dx, dy] of [
        [0, 0],
        [1, 0],
        [0, 1],
        [1, 1],
      ] as const) {
        const s = px(2 * cx + dx, 2 * cy + dy);
        if (s < 0) continue;
        const al = rgba[s + 3]!;
        sa += al;
        sr += rgba[s]! * al;
        sg += rgba[s + 1]! * al;
        sb += rgba[s + 2]! * al;
      }
      const i = cy * cw + cx;
      ca[i] = (sa + 2) >> 2;
      if (sa > 0) {
        const r = Math.round(sr / sa),
          g = Math.round(sg / sa),
          b = Math.round(sb / sa);
        u[i] = uOf(r, g, b);
        v[i] = vOf(r, g, b);
      }
    }
  }
  return { width: w, height: h, y, a, u, v, ca, runs: runsOf(a, w, h), chromaRuns: runsOf(ca, cw, ch) };
}

/** Blends a compiled sprite onto an I420 frame at (x, y) (rounded down to even), clipped to the frame. */
export function blendSprite(dst: Buffer, w: number, h: number, sprite: CompiledSprite, x: number, y: number): void {
  const x0 = Math.floor(x / 2) * 2;
  const y0 = Math.floor(y / 2) * 2;
  const { runs, chromaRuns } = sprite;
  for (let i = 0; i < runs.length; i += 3) {
    const dy = y0 + runs[i]!;
    if (dy < 0 || dy >= h) continue;
    const rowS = runs[i]! * sprite.width;
    const from = Math.max(runs[i + 1]!, -x0),
      to = Math.min(runs[i + 2]!, w - x0);
    for (let sx = from; sx < to; sx++) {
      const al = sprite.a[rowS + sx]!;
      const d = dy * w + x0 + sx;
      dst[d] = al === 255 ? sprite.y[rowS + sx]! : dst[d]! + ((((sprite.y[rowS + sx]! - dst[d]!) * al + 127) / 255) | 0);
    }
  }
  const { chromaWidth: cw, chromaHeight: ch, uOffset: uBase, vOffset: vBase } = i420Planes(w, h);
  const scw = sprite.width >> 1;
  const cx0 = x0 >> 1,
    cy0 = y0 >> 1;
  for (let i = 0; i < chromaRuns.length; i += 3) {
    const dy = cy0 + chromaRuns[i]!;
    if (dy < 0 || dy >= ch) continue;
    const rowS = chromaRuns[i]! * scw;
    const from = Math.max(chromaRuns[i + 1]!, -cx0),
      to = Math.min(chromaRuns[i + 2]!, cw - cx0);
    for (let sx = from; sx < to; sx++) {
      const al = sprite.ca[rowS + sx]!;
      const d = dy * cw + cx0 + sx;
      if (al === 255) {
        dst[uBase + d] = sprite.u[rowS + sx]!;
        dst[vBase + d] = sprite.v[rowS + sx]!;
      } else {
        dst[uBase + d] = dst[uBase + d]! + ((((sprite.u[rowS + sx]! - dst[uBase + d]!) * al + 127) / 255) | 0);
        dst[vBase + d] = dst[vBase + d]! + ((((sprite.v[rowS + sx]! - dst[vBase + d]!) * al + 127) / 255) | 0);
      }
    }
  }
}

/** Alpha-blends an RGBA sprite onto an I420 frame, only where the sprite is not transparent. */
export function blendRgbaOntoI420(
  dst: Buffer,
  w: number,
  h: number,
  rgbaSprite: Uint8Array,
  sw: number,
  sh: number,
  x: number,
  y: number,
): void {
  blendSprite(dst, w, h, compileSprite(rgbaSprite, sw, sh), x, y);
}

/** The even-aligned pixel rectangle a scene rect occupies on the canvas (clipped to it). */
export function evenRect(rect: Rect, canvas: { width: number; height: number }): Rect {
  const clampEven = (v: number, max: number): number => Math.max(0, Math.min(max, 2 * Math.round(v / 2)));
  const x0 = clampEven(rect.x, canvas.width);
  const y0 = clampEven(rect.y, canvas.height);
  const x1 = clampEven(rect.x + rect.width, canvas.width);
  const y1 = clampEven(rect.y + rect.height, canvas.height);
  return { x: x0, y: y0, width: Math.max(0, x1 - x0), height: Math.max(0, y1 - y0) };
}
