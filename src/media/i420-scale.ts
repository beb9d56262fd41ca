/**
 * Nearest-neighbour scaling of I420 frames (pure). Used only to bridge the short time between a
 * tile changing size and its decoder producing frames at the new size, so the tile never shows a
 * gap; the decoder itself scales with ffmpeg.
 */

export interface I420Frame { data: Buffer; width: number; height: number }

export function i420Bytes(width: number, height: number): number {
  return width * height + 2 * Math.ceil(width / 2) * Math.ceil(height / 2);
}

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
  const data = Buffer.alloc(i420Bytes(width, height));
  const sw = frame.width, sh = frame.height;
  const scw = Math.ceil(sw / 2), sch = Math.ceil(sh / 2);
  const dcw = Math.ceil(width / 2), dch = Math.ceil(height / 2);
  scalePlane(frame.data, 0, sw, sh, data, 0, width, height);
  scalePlane(frame.data, sw * sh, scw, sch, data, width * height, dcw, dch);
  scalePlane(frame.data, sw * sh + scw * sch, scw, sch, data, width * height + dcw * dch, dcw, dch);
  return { data, width, height };
}
