/**
 * Nearest-neighbour scaling of I420 frames (pure). Used only to bridge the short time between a
 * tile changing size and its decoder producing frames at the new size, so the tile never shows a
 * gap; the decoder itself scales with ffmpeg.
 */
import { allocI420, i420Planes, type I420Frame } from '../render/i420-frame.js';

function scalePlane(src: Buffer, sOff: number, sw: number, sh: number, dst: Buffer, dOff: number, dw: number, dh: number): void {
  const xs = new Int32Array(dw);
  for (let x = 0; x < dw; x++) xs[x] = Math.min(sw - 1, Math.floor(((x + 0.5) * sw) / dw));
  for (let y = 0; y < dh; y++) {
    const sy = Math.min(sh - 1, Math.floor(((y + 0.5) * sh) / dh));
    const srow = sOff + sy * sw;
    const drow = dOff + y * dw;
    for (let x = 0; x < dw; x++) dst[drow + x] = src[srow + xs[x]!]!;
  }
}

export function scaleI420(frame: I420Frame, width: number, height: number): I420Frame {
  if (frame.width === width && frame.height === height) return frame;
  const data = allocI420(width, height);
  const s = i420Planes(frame.width, frame.height);
  const d = i420Planes(width, height);
  scalePlane(frame.data, 0, s.width, s.height, data, 0, width, height);
  scalePlane(frame.data, s.uOffset, s.chromaWidth, s.chromaHeight, data, d.uOffset, d.chromaWidth, d.chromaHeight);
  scalePlane(frame.data, s.vOffset, s.chromaWidth, s.chromaHeight, data, d.vOffset, d.chromaWidth, d.chromaHeight);
  return { data, width, height };
}
