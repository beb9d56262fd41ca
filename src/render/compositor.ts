/**
 * The native frame compositor: draws scenes into I420 canvas frames for the encoder.
 * Per scene change it renders the background (with placeholders) and the overlay sprites once;
 * per frame it copies the cached background, copies each tile's frame into its rect, masks the
 * rounded corners and blends the overlays only where they are.
 *
 * Tile frames arrive already scaled (and fitted, letterboxed, mirrored as the tile item says) to
 * the tile's pixel rect, which `tileRects()` gives after `setScene`.
 */
import type { Rect, Scene } from '../layout/scene.js';
import type { CanvasSize } from '../layout/settings.js';
import { blendSprite, blitI420, compileSprite, evenRect, rgbaToI420, solidI420Frame, type CompiledSprite } from './i420.js';
import { allocI420, i420Bytes, i420Planes, type I420Frame } from './i420-frame.js';
import type { ImageStore } from './images.js';
import { cornerSprites, overlaySprites, renderBackground, renderBase, type Sprite } from './sprites.js';

/** A decoded tile picture, at (or clipped to) its tile's pixel rect. */
export type TileFrame = I420Frame;

interface PlacedSprite {
  sprite: CompiledSprite;
  x: number;
  y: number;
}

interface TileSlot {
  sessionId: string;
  rect: Rect;
  corners: PlacedSprite[];
}

const place = (s: Sprite): PlacedSprite => ({ sprite: compileSprite(s.rgba, s.width, s.height), x: s.x, y: s.y });

export class FrameCompositor {
  readonly width: number;
  readonly height: number;
  private base: Buffer;
  private tiles: TileSlot[] = [];
  private overlays: PlacedSprite[] = [];
  /** the finished frame when no tile shows video: returned as is, without per-frame work */
  private staticFrame: Buffer | undefined;
  /** frames handed back by `release`, drawn into again instead of allocating */
  private free: Buffer[] = [];
  /** frames handed out by `compose` and not yet released */
  private readonly lent = new WeakSet<Buffer>();

  constructor(canvas: CanvasSize) {
    if (canvas.width % 2 !== 0 || canvas.height % 2 !== 0 || canvas.width <= 0 || canvas.height <= 0) {
      throw new Error(`canvas size must be positive and even, got ${canvas.width}x${canvas.height}`);
    }
    this.width = canvas.width;
    this.height = canvas.height;
    this.base = solidI420Frame(this.width, this.height, { r: 0, g: 0, b: 0 });
    this.staticFrame = this.base;
  }

  /** Prepares everything static in the scene. Images not (yet) loaded in the store are left out. */
  setScene(scene: Scene, images: ImageStore): void {
    if (scene.width !== this.width || scene.height !== this.height) {
      throw new Error(`scene is ${scene.width}x${scene.height}, compositor is ${this.width}x${this.height}`);
    }
    scene = snapScene(scene);
    const background = renderBackground(scene, images);
    this.base = rgbaToI420(renderBase(scene, images, background), this.width, this.height);
    const canvas = { width: this.width, height: this.height };
    this.tiles = [];
    for (const item of scene.items) {
      if (item.kind !== 'tile') continue;
      const rect = evenRect(item.rect, canvas);
      if (rect.width <= 0 || rect.height <= 0) continue;
      this.tiles.push({ sessionId: item.sessionId, rect, corners: cornerSprites(background, rect, item.radius).map(place) });
    }
    this.overlays = overlaySprites(scene, images).map(place);
    if (this.tiles.length === 0) {
      const frame = Buffer.from(this.base);
      for (const o of this.overlays) blendSprite(frame, this.width, this.height, o.sprite, o.x, o.y);
      this.staticFrame = frame;
    } else {
      this.staticFrame = undefined;
    }
  }

  /** The pixel rect (even-aligned) each video tile occupies; tile frames must have its size. */
  tileRects(): Map<string, Rect> {
    return new Map(this.tiles.map((t) => [t.sessionId, { ...t.rect }]));
  }

  /**
   * One canvas frame. Tiles without a frame show their placeholder; a frame whose size differs
   * from the tile's rect is clipped to it. The returned buffer must not be modified by the caller.
   */
  compose(tileFrames: ReadonlyMap<string, TileFrame>): Buffer {
    if (this.staticFrame) return this.staticFrame;
    const frame = this.free.pop() ?? Buffer.allocUnsafe(this.base.length);
    this.base.copy(frame);
    this.lent.add(frame);
    const W = this.width,
      H = this.height;
    for (const tile of this.tiles) {
      const f = tileFrames.get(tile.sessionId);
      if (!f || f.width <= 0 || f.height <= 0 || f.data.length < i420Bytes(f.width, f.height)) continue;
      if (f.width === tile.rect.width && f.height === tile.rect.height) {
        blitI420(frame, W, H, f.data, f.width, f.height, tile.rect.x, tile.rect.y);
      } else {
        blitClipped(frame, W, H, f, tile.rect);
      }
      for (const c of tile.corners) blendSprite(frame, W, H, c.sprite, c.x, c.y);
    }
    for (const o of this.overlays) blendSprite(frame, W, H, o.sprite, o.x, o.y);
    return frame;
  }

  /**
   * Hands a frame from `compose` back once nobody reads it any more (the encoder's pipe took it),
   * so the next frames are drawn into it. Frames never released are simply collected; other
   * buffers are ignored.
   */
  release(frame: Buffer): void {
    if (!this.lent.delete(frame)) return;
    if (this.free.length < MAX_FREE_FRAMES) this.free.push(frame);
  }
}

/** Released frames kept for reuse; more than this in flight means the encoder is behind anyway. */
const MAX_FREE_FRAMES = 4;

/**
 * Moves each participant's boxes onto the even pixel grid of its tile (chroma is 2x2), so the
 * placeholder, the video, the outline and the label line up exactly.
 */
export function snapScene(scene: Scene): Scene {
  const canvas = { width: scene.width, height: scene.height };
  const snapped = new Map<string, { from: Rect; to: Rect }>();
  for (const item of scene.items) {
    if ((item.kind === 'placeholder' || item.kind === 'tile') && !snapped.has(item.sessionId)) {
      snapped.set(item.sessionId, { from: item.rect, to: evenRect(item.rect, canvas) });
    }
  }
  const items = scene.items.map((item) => {
    if (!('sessionId' in item)) return item;
    const s = snapped.get(item.sessionId);
    if (!s) return item;
    switch (item.kind) {
      case 'placeholder':
      case 'tile':
        return { ...item, rect: s.to };
      case 'outline': {
        const w = item.width;
        return { ...item, rect: { x: s.to.x - w, y: s.to.y - w, width: s.to.width + 2 * w, height: s.to.height + 2 * w } };
      }
      case 'label': {
        // keep the label's distance to the nearest tile edge on each axis
        const r = item.rect;
        const left = r.x - s.from.x,
          right = s.from.x + s.from.width - (r.x + r.width);
        const top = r.y - s.from.y,
          bottom = s.from.y + s.from.height - (r.y + r.height);
        const x = left <= right ? s.to.x + left : s.to.x + s.to.width - right - r.width;
        const y = top <= bottom ? s.to.y + top : s.to.y + s.to.height - bottom - r.height;
        return { ...item, rect: { x, y, width: r.width, height: r.height } };
      }
      default:
        return item;
    }
  });
  return { ...scene, items };
}

/** Copies the top-left part of a frame of the wrong size into the tile rect (never outside it). */
function blitClipped(dst: Buffer, W: number, H: number, f: TileFrame, rect: Rect): void {
  const w = Math.min(f.width, rect.width) & ~1;
  const h = Math.min(f.height, rect.height) & ~1;
  if (w <= 0 || h <= 0) return;
  // Crop the source into a temporary I420 of w x h, then blit.
  const crop = allocI420(w, h);
  for (let row = 0; row < h; row++) f.data.copy(crop, row * w, row * f.width, row * f.width + w);
  const from = i420Planes(f.width, f.height);
  const to = i420Planes(w, h);
  for (let row = 0; row < to.chromaHeight; row++) {
    const s = row * from.chromaWidth;
    const d = row * to.chromaWidth;
    f.data.copy(crop, to.uOffset + d, from.uOffset + s, from.uOffset + s + to.chromaWidth);
    f.data.copy(crop, to.vOffset + d, from.vOffset + s, from.vOffset + s + to.chromaWidth);
  }
  blitI420(dst, W, H, crop, w, h, rect.x, rect.y);
}
