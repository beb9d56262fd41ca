/**
 * The I420 (yuv420p) frame: planar Y (width x height), then U and V, each `ceil(width / 2) x
 * ceil(height / 2)`, as ffmpeg lays out odd sizes. Every module that sizes, allocates or indexes
 * an I420 buffer uses these (pure).
 */

/** One I420 picture; `data` holds at least `i420Bytes(width, height)` bytes. */
export interface I420Frame {
  data: Buffer;
  width: number;
  height: number;
}

/** Where the planes of a `width x height` I420 picture are, and their sizes. */
export interface I420Planes {
  width: number;
  height: number;
  /** width (and row stride) of the U and V planes */
  chromaWidth: number;
  /** height of the U and V planes */
  chromaHeight: number;
  /** bytes of the Y plane (also the offset of the U plane) */
  lumaBytes: number;
  /** bytes of each of the U and V planes */
  chromaBytes: number;
  uOffset: number;
  vOffset: number;
  /** bytes of the whole picture */
  bytes: number;
}

export function i420Planes(width: number, height: number): I420Planes {
  const chromaWidth = Math.ceil(width / 2);
  const chromaHeight = Math.ceil(height / 2);
  const lumaBytes = width * height;
  const chromaBytes = chromaWidth * chromaHeight;
  return {
    width,
    height,
    chromaWidth,
    chromaHeight,
    lumaBytes,
    chromaBytes,
    uOffset: lumaBytes,
    vOffset: lumaBytes + chromaBytes,
    bytes: lumaBytes + 2 * chromaBytes,
  };
}

/** Size in bytes of one `width x height` I420 picture. */
export function i420Bytes(width: number, height: number): number {
  return width * height + 2 * Math.ceil(width / 2) * Math.ceil(height / 2);
}

/** A zeroed buffer for one `width x height` I420 picture. */
export function allocI420(width: number, height: number): Buffer {
  return Buffer.alloc(i420Bytes(width, height));
}
