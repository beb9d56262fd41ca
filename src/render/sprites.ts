/**
 * Static decorations of a scene drawn with @napi-rs/canvas, once per scene change: the canvas
 * background (colour, image, placeholders) and RGBA sprites for what lies over the video tiles
 * (rounded-corner masks, labels, outlines, title, logo).
 */
import { createCanvas, type Canvas, type Image, type SKRSContext2D } from '@napi-rs/canvas';
import { rgbaCss } from '../layout/color.js';
import { parseLength, toPx } from '../layout/length.js';
import { placeLogo, type Rect, type Scene, type SceneItem } from '../layout/scene.js';
import type { ImageStore } from './images.js';

export interface Sprite {
  x: number;
  y: number;
  width: number;
  height: number;
  rgba: Uint8Array;
}

const FONT_FAMILY = 'Inter, Avenir, Helvetica, Arial, "DejaVu Sans", sans-serif';

type Item<K extends SceneItem['kind']> = Extract<SceneItem, { kind: K }>;
type Radii = [number, number, number, number];

/** Rounded rectangle path with per-corner radii (top-left, top-right, bottom-right, bottom-left). */
export function roundedRectPath(ctx: SKRSContext2D, x: number, y: number, w: number, h: number, radii: Radii | number): void {
  const limit = Math.max(0, Math.min(w, h) / 2);
  const [tl, tr, br, bl] = (typeof radii === 'number' ? [radii, radii, radii, radii] : radii).map((r) =>
    Math.max(0, Math.min(r, limit)),
  ) as Radii;
  ctx.beginPath();
  ctx.moveTo(x + tl, y);
  ctx.lineTo(x + w - tr, y);
  if (tr) ctx.arcTo(x + w, y, x + w, y + tr, tr);
  ctx.lineTo(x + w, y + h - br);
  if (br) ctx.arcTo(x + w, y + h, x + w - br, y + h, br);
  ctx.lineTo(x + bl, y + h);
  if (bl) ctx.arcTo(x, y + h, x, y + h - bl, bl);
  ctx.lineTo(x, y + tl);
  if (tl) ctx.arcTo(x, y, x + tl, y, tl);
  ctx.closePath();
}

/** The even-aligned box around `rect` (grown by `grow` px for anti-aliasing), clipped to the canvas. */
export function spriteBox(rect: Rect, canvas: { width: number; height: number }, grow = 1): Rect {
  const x0 = Math.max(0, Math.floor((rect.x - grow) / 2) * 2);
  const y0 = Math.max(0, Math.floor((rect.y - grow) / 2) * 2);
  const x1 = Math.min(canvas.width, Math.ceil((rect.x + rect.width + grow) / 2) * 2);
  const y1 = Math.min(canvas.height, Math.ceil((rect.y + rect.height + grow) / 2) * 2);
  return { x: x0, y: y0, width: Math.max(0, x1 - x0), height: Math.max(0, y1 - y0) };
}

function toSprite(canvas: Canvas, box: Rect): Sprite {
  const data = canvas.getContext('2d').getImageData(0, 0, box.width, box.height).data;
  return { x: box.x, y: box.y, width: box.width, height: box.height, rgba: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** Draws into a sprite covering `box`, in canvas coordinates. */
function drawSprite(box: Rect, draw: (ctx: SKRSContext2D) => void): Sprite | undefined {
  if (box.width <= 0 || box.height <= 0) return undefined;
  const c = createCanvas(box.width, box.height);
  const ctx = c.getContext('2d');
  ctx.translate(-box.x, -box.y);
  draw(ctx);
  return toSprite(c, box);
}

function cssSize(value: string | undefined, image: Image, area: { width: number; height: number }): { width: number; height: number } {
  const iw = image.width,
    ih = image.height;
  const v = (value ?? 'auto').trim().toLowerCase();
  if (v === 'cover' || v === 'contain') {
    const s = v === 'cover' ? Math.max(area.width / iw, area.height / ih) : Math.min(area.width / iw, area.height / ih);
    return { width: iw * s, height: ih * s };
  }
  const [a, b] = v.split(/\s+/);
  const len = (t: string | undefined, rel: number): number | undefined => {
    if (!t || t === 'auto') return undefined;
    const l = parseLength(t);
    return l ? toPx(l, rel) : undefined;
  };
  const w = len(a, area.width);
  const h = len(b, area.height);
  if (w !== undefined && h !== undefined) return { width: w, height: h };
  if (w !== undefined) return { width: w, height: (w * ih) / iw };
  if (h !== undefined) return { width: (h * iw) / ih, height: h };
  return { width: iw, height: ih };
}

/** CSS background-position: keywords or lengths/percentages (percentages align the image's point to the area's). */
function cssPosition(
  value: string | undefined,
  size: { width: number; height: number },
  area: { width: number; height: number },
): { x: number; y: number } {
  const words = (value ?? '0% 0%').trim().toLowerCase().split(/\s+/);
  let h: string | undefined;
  let v: string | undefined;
  for (const w of words) {
    if (w === 'left' || w === 'right') h = w;
    else if (w === 'top' || w === 'bottom') v = w;
    else if (w === 'center') {
      if (h === undefined) h = w;
      else v = w;
    } else if (h === undefined) h = w;
    else v = w;
  }
  const axis = (t: string | undefined, free: number): number => {
    if (t === undefined || t === 'center') return free / 2; // a missing second keyword means center
    if (t === 'left' || t === 'top') return 0;
    if (t === 'right' || t === 'bottom') return free;
    const l = parseLength(t);
    if (!l) return 0;
    return l.unit === '%' ? (l.value / 100) * free : l.value;
  };
  const fx = area.width - size.width,
    fy = area.height - size.height;
  return { x: h === undefined && v === undefined ? 0 : axis(h, fx), y: h === undefined && v === undefined ? 0 : axis(v, fy) };
}

function drawBackgroundItem(ctx: SKRSContext2D, item: Item<'background'>, images: ImageStore, W: number, H: number): void {
  ctx.fillStyle = rgbaCss(item.color);
  ctx.fillRect(0, 0, W, H);
  const img = item.image ? images.get(item.image.url) : undefined;
  if (!img || !item.image) return;
  const area = { width: W, height: H };
  const size = cssSize(item.image.size, img, area);
  if (size.width < 1 || size.height < 1) return;
  const pos = cssPosition(item.image.position, size, area);
  const repeat = (item.image.repeat ?? 'repeat').trim().toLowerCase();
  const rx = repeat === 'repeat' || repeat === 'repeat-x';
  const ry = repeat === 'repeat' || repeat === 'repeat-y';
  const xs: number[] = [];
  const ys: number[] = [];
  if (rx) for (let x = pos.x - Math.ceil(pos.x / size.width) * size.width; x < W; x += size.width) xs.push(x);
  else xs.push(pos.x);
  if (ry) for (let y = pos.y - Math.ceil(pos.y / size.height) * size.height; y < H; y += size.height) ys.push(y);
  else ys.push(pos.y);
  for (const x of xs) for (const y of ys) ctx.drawImage(img, x, y, size.width, size.height);
}

function drawPlaceholder(ctx: SKRSContext2D, item: Item<'placeholder'>, images: ImageStore): void {
  const { x, y, width, height } = item.rect;
  ctx.save();
  roundedRectPath(ctx, x, y, width, height, item.radius);
  ctx.fillStyle = rgbaCss(item.background);
  ctx.fill();
  ctx.clip();
  const cx = x + width / 2,
    cy = y + height / 2;
  const d = item.circleDiameter;
  const avatar = item.imageUrl ? images.get(item.imageUrl) : undefined;
  if (avatar) {
    ctx.save();
    ctx.beginPath();
    ctx.arc(cx, cy, d / 2, 0, Math.PI * 2);
    ctx.clip();
    const s = Math.max(d / avatar.width, d / avatar.height); // cover
    ctx.drawImage(avatar, cx - (avatar.width * s) / 2, cy - (avatar.height * s) / 2, avatar.width * s, avatar.height * s);
    ctx.restore();
  } else if (item.initials) {
    ctx.beginPath();
    ctx.arc(cx, cy, d / 2, 0, Math.PI * 2);
    ctx.fillStyle = rgbaCss(item.circleColor);
    ctx.fill();
    ctx.fillStyle = '#ffffff';
    ctx.font = `600 ${Math.max(8, (32 * d) / 100)}px ${FONT_FAMILY}`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.fillText(item.initials, cx, cy);
  } else {
    ctx.fillStyle = '#ffffff';
    ctx.font = `14px ${FONT_FAMILY}`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.fillText('Video is disabled', cx, cy);
  }
  ctx.restore();
}

/** The canvas background alone (colour and image): what shows outside rounded tile corners. */
export function renderBackground(scene: Scene, images: ImageStore): Canvas {
  const c = createCanvas(scene.width, scene.height);
  const ctx = c.getContext('2d');
  const bg = scene.items.find((i): i is Item<'background'> => i.kind === 'background');
  if (bg) drawBackgroundItem(ctx, bg, images, scene.width, scene.height);
  else {
    ctx.fillStyle = '#000000';
    ctx.fillRect(0, 0, scene.width, scene.height);
  }
  return c;
}

/** The background with every placeholder drawn on it: the frame before any video is copied in. */
export function renderBase(scene: Scene, images: ImageStore, background: Canvas): Uint8Array {
  const c = createCanvas(scene.width, scene.height);
  const ctx = c.getContext('2d');
  ctx.drawImage(background, 0, 0);
  for (const item of scene.items) if (item.kind === 'placeholder') drawPlaceholder(ctx, item, images);
  const data = ctx.getImageData(0, 0, scene.width, scene.height).data;
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Masks for the rounded corners of a tile placed at the (even) pixel rect: the background shows
 * outside the rounded shape and nothing inside it.
 */
export function cornerSprites(background: Canvas, rect: Rect, radius: number): Sprite[] {
  const r = Math.min(radius, rect.width / 2, rect.height / 2);
  if (r < 0.5) return [];
  const size = Math.min(Math.ceil(r / 2) * 2 + 2, rect.width, rect.height);
  const canvasSize = { width: background.width, height: background.height };
  const corners: Rect[] = [
    { x: rect.x, y: rect.y, width: size, height: size },
    { x: rect.x + rect.width - size, y: rect.y, width: size, height: size },
    { x: rect.x, y: rect.y + rect.height - size, width: size, height: size },
    { x: rect.x + rect.width - size, y: rect.y + rect.height - size, width: size, height: size },
  ];
  const out: Sprite[] = [];
  for (const corner of corners) {
    const box = spriteBox(corner, canvasSize, 0);
    const sprite = drawSprite(box, (ctx) => {
      ctx.drawImage(background, box.x, box.y, box.width, box.height, box.x, box.y, box.width, box.height);
      ctx.globalCompositeOperation = 'destination-out';
      roundedRectPath(ctx, rect.x, rect.y, rect.width, rect.height, r);
      ctx.fillStyle = '#000000';
      ctx.fill();
    });
    if (sprite) out.push(sprite);
  }
  return out;
}

function labelSprite(item: Item<'label'>, canvas: { width: number; height: number }): Sprite | undefined {
  const measure = createCanvas(2, 2).getContext('2d');
  const font = `${item.fontSize}px ${FONT_FAMILY}`;
  measure.font = font;
  const chrome = 2 * item.paddingInline + 2 * item.borderWidth;
  let text = item.text;
  let textW = measure.measureText(text).width;
  const maxText = Math.max(0, item.rect.width - chrome);
  if (textW > maxText) {
    const chars = [...text];
    while (chars.length > 0 && measure.measureText(`${chars.join('')}…`).width > maxText) chars.pop();
    text = `${chars.join('')}…`;
    textW = measure.measureText(text).width;
  }
  const width = Math.min(item.rect.width, Math.ceil(textW + chrome));
  const x =
    item.align === 'left'
      ? item.rect.x
      : item.align === 'right'
        ? item.rect.x + item.rect.width - width
        : item.rect.x + (item.rect.width - width) / 2;
  const rect = { x, y: item.rect.y, width, height: item.rect.height };
  return drawSprite(spriteBox(rect, canvas), (ctx) => {
    roundedRectPath(ctx, rect.x, rect.y, rect.width, rect.height, item.borderRadius);
    ctx.fillStyle = rgbaCss(item.background);
    ctx.fill();
    if (item.borderWidth > 0 && item.borderColor.a > 0) {
      const b = item.borderWidth;
      roundedRectPath(
        ctx,
        rect.x + b / 2,
        rect.y + b / 2,
        rect.width - b,
        rect.height - b,
        item.borderRadius.map((r) => Math.max(0, r - b / 2)) as Radii,
      );
      ctx.lineWidth = b;
      ctx.strokeStyle = rgbaCss(item.borderColor);
      ctx.stroke();
    }
    ctx.font = font;
    ctx.fillStyle = rgbaCss(item.textColor);
    ctx.textAlign = 'left';
    ctx.textBaseline = 'middle';
    ctx.fillText(text, rect.x + item.borderWidth + item.paddingInline, rect.y + rect.height / 2);
  });
}

function outlineSprite(item: Item<'outline'>, canvas: { width: number; height: number }): Sprite | undefined {
  const { rect, width: w } = item;
  return drawSprite(spriteBox(rect, canvas), (ctx) => {
    roundedRectPath(ctx, rect.x + w / 2, rect.y + w / 2, rect.width - w, rect.height - w, Math.max(0, item.radius - w / 2));
    ctx.lineWidth = w;
    ctx.strokeStyle = rgbaCss(item.color);
    ctx.stroke();
  });
}

function titleSprite(item: Item<'title'>, canvas: { width: number; height: number }): Sprite | undefined {
  const { rect } = item;
  return drawSprite(spriteBox(rect, canvas), (ctx) => {
    ctx.font = `${item.fontSize}px ${FONT_FAMILY}`;
    ctx.fillStyle = rgbaCss(item.color);
    ctx.textBaseline = 'middle';
    ctx.textAlign = item.align;
    const x = item.align === 'left' ? rect.x : item.align === 'right' ? rect.x + rect.width : rect.x + rect.width / 2;
    ctx.fillText(item.text, x, rect.y + rect.height / 2, rect.width);
  });
}

function logoSprite(item: Item<'logo'>, images: ImageStore, canvas: { width: number; height: number }): Sprite | undefined {
  const img = images.get(item.url);
  if (!img) return undefined;
  const rect = placeLogo(item, canvas, { width: img.width, height: img.height });
  return drawSprite(spriteBox(rect, canvas), (ctx) => ctx.drawImage(img, rect.x, rect.y, rect.width, rect.height));
}

/** Sprites for everything drawn over the video tiles, back to front. Missing images are skipped. */
export function overlaySprites(scene: Scene, images: ImageStore): Sprite[] {
  const canvas = { width: scene.width, height: scene.height };
  const out: Sprite[] = [];
  for (const item of scene.items) {
    let s: Sprite | undefined;
    if (item.kind === 'label') s = labelSprite(item, canvas);
    else if (item.kind === 'outline') s = outlineSprite(item, canvas);
    else if (item.kind === 'title') s = titleSprite(item, canvas);
    else if (item.kind === 'logo') s = logoSprite(item, images, canvas);
    if (s) out.push(s);
  }
  return out;
}

/** Every image URL a scene refers to (background, avatars, logo), to load before setScene. */
export function sceneImageUrls(scene: Scene): string[] {
  const urls = new Set<string>();
  for (const item of scene.items) {
    if (item.kind === 'background' && item.image) urls.add(item.image.url);
    if (item.kind === 'placeholder' && item.imageUrl) urls.add(item.imageUrl);
    if (item.kind === 'logo') urls.add(item.url);
  }
  return [...urls];
}
