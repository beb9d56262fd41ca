/**
 * How a participant's decoded video becomes a tile frame: the ffmpeg filter chain a track decoder
 * runs so its output is an I420 frame of exactly the tile's pixel size, fitted (cover = scale up and
 * crop the centre, contain = scale down and letterbox with the video background colour) and mirrored
 * as the scene's tile item says. Pure string building; the decoder owns the process.
 */
import type { Rgba } from '../layout/color.js';

export interface TileFilterInput {
  width: number;
  height: number;
  fit: 'cover' | 'contain';
  mirror: boolean;
  videoBackground: Rgba;
}

const hex2 = (n: number): string =>
  Math.max(0, Math.min(255, Math.round(n)))
    .toString(16)
    .padStart(2, '0');

/** The `-vf` value for one tile (sizes must be even; use the compositor's tileRects()). */
export function tileVideoFilter(t: TileFilterInput): string {
  const w = Math.max(2, t.width & ~1);
  const h = Math.max(2, t.height & ~1);
  const chain: string[] = [];
  if (t.fit === 'cover') {
    chain.push(`scale=${w}:${h}:force_original_aspect_ratio=increase`, `crop=${w}:${h}`);
  } else {
    const c = t.videoBackground;
    chain.push(
      `scale=${w}:${h}:force_original_aspect_ratio=decrease:force_divisible_by=2`,
      `pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2:color=0x${hex2(c.r)}${hex2(c.g)}${hex2(c.b)}`,
    );
  }
  if (t.mirror) chain.push('hflip');
  chain.push('setsar=1', 'format=yuv420p');
  return chain.join(',');
}
