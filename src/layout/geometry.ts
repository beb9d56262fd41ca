/**
 * Tile geometry of the built-in layouts (layouts.md §12). Pure arithmetic on the canvas size.
 * Where the reference overflows the canvas, these functions keep everything on it instead; each
 * such deviation is marked "Deviation" with the reference value. Canvases on which the reference
 * layout fits get the reference geometry unchanged.
 */
import type { CanvasSize } from './settings.js';
import type { BarPosition } from './options.js';

export type Rect = { x: number; y: number; width: number; height: number };

/** Reference bar metrics: 280 px slot, 270 px tile, 5 px inset, 16 px between big tile and bar. */
const SLOT_W = 280;
const TILE_W = 270;
const INSET = 5;
const BAR_GAP = 16;
/** Smallest share of the canvas height the big tile keeps when the stack must shrink to fit. */
const MIN_MAIN_SHARE = 0.55;

export interface SpotlightGeometry {
  main: Rect;
  bar: Rect[];
}

/**
 * Spotlight: the big tile for the first participant and up to `limit` bar tiles for the others.
 * `others` is the number of participants after the first.
 */
export function spotlightGeometry(
  canvas: CanvasSize,
  others: number,
  aspect: number,
  position: BarPosition,
  limit: 'dynamic' | number,
): SpotlightGeometry {
  return position === 'top' || position === 'bottom'
    ? horizontalBar(canvas, others, aspect, position, limit)
    : verticalBar(canvas, others, aspect, position, limit);
}

function horizontalBar(
  canvas: CanvasSize,
  others: number,
  aspect: number,
  position: 'top' | 'bottom',
  limit: 'dynamic' | number,
): SpotlightGeometry {
  const { width: W, height: H } = canvas;
  const cap = limit === 'dynamic' ? Math.floor((W - 4) / SLOT_W) : limit;
  const k = Math.max(0, Math.min(others, cap));
  const slotH = 2 * INSET + TILE_W / aspect;
  // Deviation: with a numeric limit whose slots exceed the width (280k > W-4) the reference left-aligns
  // the bar at x=7 and clips it on the right; here the slots shrink so the whole bar fits.
  let s = k > 0 && SLOT_W * k > W - 4 ? (W - 4) / (SLOT_W * k) : 1;
  let mw = Math.min(W - 4, 1.1 * H);
  let mh = mw / aspect;
  const stackOf = (): number => mh + (k > 0 ? BAR_GAP + slotH * s : 0);
  if (stackOf() > H) {
    // Deviation: the reference centres an overflowing stack and clips it (at 640x360 the big tile is
    // 396x222.8 at y=-20.3). Here the big tile shrinks so the stack fits; if it would fall under
    // MIN_MAIN_SHARE of the height, the bar shrinks too.
    if (k > 0) {
      mh = Math.max(H - BAR_GAP - slotH * s, H * MIN_MAIN_SHARE);
      const barSpace = H - mh - BAR_GAP;
      if (slotH * s > barSpace) s = barSpace / slotH;
    } else {
      mh = H;
    }
    mw = mh * aspect;
  }
  const stack = stackOf();
  const y0 = (H - stack) / 2;
  const slotW = SLOT_W * s;
  const barX0 = (W - slotW * k) / 2;
  const mainY = position === 'bottom' || k === 0 ? y0 : y0 + slotH * s + BAR_GAP;
  const barY = position === 'bottom' ? y0 + mh + BAR_GAP + INSET * s : y0 + INSET * s;
  const bar: Rect[] = [];
  for (let i = 0; i < k; i++) {
    bar.push({ x: barX0 + slotW * i + INSET * s, y: barY, width: TILE_W * s, height: (TILE_W * s) / aspect });
  }
  return { main: { x: (W - mw) / 2, y: mainY, width: mw, height: mh }, bar };
}

function verticalBar(
  canvas: CanvasSize,
  others: number,
  aspect: number,
  position: 'left' | 'right',
  limit: 'dynamic' | number,
): SpotlightGeometry {
  const { width: W, height: H } = canvas;
  const slotH = 2 * INSET + TILE_W / aspect;
  // Deviation: below 600 px of width the reference's 280 px column leaves the big tile less than half
  // the canvas (W-300); here the column narrows to 30% of the width.
  const sWidth = W - 300 < W / 2 ? Math.max(0.1, (0.3 * W) / SLOT_W) : 1;
  const barMw = W - 4 - BAR_GAP - SLOT_W * sWidth; // reference: W - 300
  let mh = barMw / aspect;
  const dynamicCap = Math.max(1, Math.floor(Math.min(mh, H) / 162));
  const cap = limit === 'dynamic' ? dynamicCap : limit;
  const k = Math.max(0, Math.min(others, cap));
  let mw = k > 0 ? barMw : W - 4;
  mh = mw / aspect;
  let mainX = k > 0 ? (position === 'right' ? 2 : W - 2 - barMw) : 2;
  if (mh > H - 4) {
    // Deviation: the reference does not clamp the big tile's height (mh = mw/AR) and lets a tall tile
    // overflow; here it shrinks to the canvas height, centred in its column.
    const region = mw;
    mh = H - 4;
    mw = mh * aspect;
    mainX += (region - mw) / 2;
  }
  // Deviation: a numeric limit can stack more slots than the height holds (the reference overflows);
  // here the slots shrink so the column fits.
  const sHeight = k > 0 && k * slotH * sWidth > H ? H / (k * slotH) : sWidth;
  const s = Math.min(sWidth, sHeight);
  const tileW = TILE_W * s;
  const tileH = tileW / aspect;
  const barX = position === 'right' ? W - 2 - INSET * s - tileW : 2 + INSET * s; // reference: W-277 / 7
  const y0 = (H - k * slotH * s) / 2;
  const bar: Rect[] = [];
  for (let i = 0; i < k; i++) bar.push({ x: barX, y: y0 + slotH * s * i + INSET * s, width: tileW, height: tileH });
  return { main: { x: mainX, y: (H - mh) / 2, width: mw, height: mh }, bar };
}

const GRID_GAP = 8;

export function gridColumns(count: number): number {
  return count <= 1 ? 1 : count <= 4 ? 2 : count <= 9 ? 3 : 4;
}

/** Grid: `count` tiles (already capped by page size), last row centred, block centred vertically. */
export function gridGeometry(canvas: CanvasSize, count: number, aspect: number, expandTiles: boolean): Rect[] {
  if (count <= 0) return [];
  const { width: W, height: H } = canvas;
  const c = gridColumns(count);
  const gmax = !expandTiles ? 1.1 * H : count === 1 ? 1.25 * H : count === 2 ? W : count <= 9 ? 1.8 * H : 1.3 * H;
  const G = Math.min(W, gmax);
  const p = c === 1 ? 1 : c === 2 ? 0.5 : c === 3 ? 0.33 : 0.25;
  let tw = Math.min(p * (G - 40) - 6, 1280);
  let th = tw / aspect;
  const r = Math.ceil(count / c);
  let blockH = r * th + GRID_GAP * (r - 1);
  if (blockH > H) {
    // Deviation: the reference lets a tall grid overflow (20 tiles at 1920x1080: block 1085.75 px high,
    // tiles 281x210.75); here the tiles shrink so the block fits the height.
    th = (H - GRID_GAP * (r - 1)) / r;
    tw = th * aspect;
    blockH = H;
  }
  const y0 = (H - blockH) / 2;
  const rects: Rect[] = [];
  for (let j = 0; j < r; j++) {
    const kj = Math.min(c, count - j * c);
    const x0 = (W - (kj * tw + GRID_GAP * (kj - 1))) / 2;
    for (let i = 0; i < kj; i++) rects.push({ x: x0 + i * (tw + GRID_GAP), y: y0 + j * (th + GRID_GAP), width: tw, height: th });
  }
  return rects;
}

/** Single participant: full area width, height min(areaH, areaW/AR), centred in the padded area. */
export function singleGeometry(canvas: CanvasSize, aspect: number, paddingInline: number, paddingBlock: number): Rect {
  const areaW = Math.max(0, canvas.width - 2 * paddingInline);
  const areaH = Math.max(0, canvas.height - 2 * paddingBlock);
  const h = Math.min(areaH, areaW / aspect);
  return { x: paddingInline, y: paddingBlock + (areaH - h) / 2, width: areaW, height: h };
}
