/**
 * The layout engine: (canvas, participants, layout settings, time) -> a Scene, an ordered list of
 * boxes that a renderer draws back to front. Pure and deterministic; no I/O.
 *
 * While anyone shares a screen (layouts.md §3, §5) the scene is the share view of
 * `screenshare_layout ?? layout`: spotlight puts the share in the big tile with the presenter's
 * camera first in the bar; single-participant (and mobile) fills a centred box with the share and
 * shows the presenter's camera as a picture-in-picture; grid has no share view and shows spotlight's.
 * A share tile's `sessionId` is the share's own session.
 */
import type { Rgba } from './color.js';
import { matchesFilter } from './filter.js';
import { gridGeometry, singleGeometry, spotlightGeometry, type Rect } from './geometry.js';
import { toPx, type Length } from './length.js';
import { resolveOptions, type HorizontalPosition, type ResolvedOptions, type VerticalPosition } from './options.js';
import {
  anyoneSharing,
  applyParticipantFilter,
  gridOrder,
  initialsOf,
  singleOrder,
  spotlightOrder,
  stableHash,
  type LayoutParticipant,
  type Visibility,
} from './participants.js';
import type { CanvasSize, LayoutSettings } from './settings.js';

export type { Rect } from './geometry.js';
export type { Rgba } from './color.js';

/** The layouts the engine draws ('mobile' and 'dominant-speaker' are single-participant). */
export type EffectiveLayout = 'spotlight' | 'grid' | 'single-participant';

export interface Anchor {
  horizontal: HorizontalPosition;
  vertical: VerticalPosition;
  marginInline: number;
  marginBlock: number;
}

export type SceneItem =
  | { kind: 'background'; color: Rgba; image?: { url: string; size?: string; position?: string; repeat?: string } }
  | {
      kind: 'tile';
      sessionId: string;
      rect: Rect;
      radius: number;
      fit: 'cover' | 'contain';
      mirror: boolean;
      videoBackground: Rgba;
      hasVideo: boolean;
    }
  | {
      kind: 'placeholder';
      sessionId: string;
      rect: Rect;
      radius: number;
      background: Rgba;
      /** initials; empty when the participant has neither name nor id ("Video is disabled" is drawn) */
      initials: string;
      imageUrl?: string;
      circleColor: Rgba;
      circleDiameter: number;
    }
  | {
      kind: 'label';
      sessionId: string;
      /** the largest box the label may take; the renderer shrinks it to the measured text toward `align` */
      rect: Rect;
      align: HorizontalPosition;
      text: string;
      textColor: Rgba;
      background: Rgba;
      /** top-left, top-right, bottom-right, bottom-left */
      borderRadius: [number, number, number, number];
      borderWidth: number;
      borderColor: Rgba;
      fontSize: number;
      paddingInline: number;
    }
  | { kind: 'outline'; sessionId: string; rect: Rect; radius: number; color: Rgba; width: number }
  | { kind: 'title'; rect: Rect; text: string; color: Rgba; fontSize: number; align: HorizontalPosition }
  | {
      kind: 'logo';
      url: string;
      /** null when the size is known only after the image loads: use placeLogo() */
      rect: Rect | null;
      width: number | null;
      height: number | null;
      anchor: Anchor;
    };

export interface Scene {
  width: number;
  height: number;
  layout: EffectiveLayout;
  /** whether the scene is a screen-share view */
  screenShare: boolean;
  /** back to front */
  items: SceneItem[];
  /** when set, the scene changes by itself at this time (shuffle mode): compose again then */
  validUntilMs?: number;
}

export interface ComposeInput {
  canvas: CanvasSize;
  participants: LayoutParticipant[];
  layout: LayoutSettings;
  nowMs: number;
  /** sessions on screen in the previous scene; speaker promotion then moves only off-screen participants */
  visibleSessionIds?: readonly string[];
}

const LABEL_FONT = 14;
const LABEL_PAD_BLOCK = 4;
const LABEL_PAD_INLINE = 6;
const SHUFFLE_PERIOD_MS = 3500;
const DEFAULT_ASPECT: Record<EffectiveLayout, number> = { spotlight: 16 / 9, grid: 4 / 3, 'single-participant': 4 / 3 };

function effectiveLayout(name: string | undefined): EffectiveLayout {
  switch (name) {
    case 'grid':
      return 'grid';
    case 'single-participant':
    case 'mobile':
    case 'dominant-speaker':
      return 'single-participant';
    // 'custom' layouts are drawn by an external app, not by this engine; unknown names fall back to
    // spotlight as in the reference.
    default:
      return 'spotlight';
  }
}

/**
 * Picks the layout name and options after custom_layout_override and custom_actions (layouts.md §3, §7).
 * While anyone shares, the layout is `custom_screen_share_layout_override ?? screenshare_layout ?? layout`
 * (grid, which has no share view, becomes spotlight), and a `layout_override` applies only with
 * `ignore_screenshare`.
 */
export function resolveLayout(
  layout: LayoutSettings,
  participants: readonly LayoutParticipant[],
): { layout: EffectiveLayout; options: ResolvedOptions; screenShare: boolean } {
  const raw = layout.options ?? {};
  const base = resolveOptions(raw);
  const context = {
    participant_count: participants.length,
    pinned_participant_count: participants.filter((p) => p.pinnedAt !== undefined).length,
  };
  const matching = base.customActions.filter((a) => matchesFilter(a.condition, context));
  const sharing = anyoneSharing(participants);
  const layoutOverride = matching.find((a) => a.action_type === 'layout_override' && (!sharing || a.ignore_screenshare === true));
  const optionOverrides = matching.filter((a) => a.action_type === 'options_override');
  const options =
    optionOverrides.length === 0 ? base : resolveOptions(Object.assign({}, raw, ...optionOverrides.map((a) => a.options ?? {})));
  const normal = effectiveLayout(base.customLayoutOverride ?? layout.name);
  if (layoutOverride?.layout !== undefined) {
    // An override that ignores the share draws its layout's normal view.
    return { layout: effectiveLayout(layoutOverride.layout), options, screenShare: false };
  }
  if (!sharing) return { layout: normal, options, screenShare: false };
  const share = effectiveLayout(base.screenshareLayoutOverride ?? layout.screenshare_layout ?? base.customLayoutOverride ?? layout.name);
  return { layout: share === 'grid' ? 'spotlight' : share, options, screenShare: true };
}

function px(length: Length, relativeTo: number): number {
  return toPx(length, relativeTo);
}

function alignIn(start: number, size: number, item: number, margin: number, pos: 'start' | 'center' | 'end'): number {
  return pos === 'start' ? start + margin : pos === 'end' ? start + size - margin - item : start + (size - item) / 2;
}
const hAlign = (p: HorizontalPosition): 'start' | 'center' | 'end' => (p === 'left' ? 'start' : p === 'right' ? 'end' : 'center');
const vAlign = (p: VerticalPosition): 'start' | 'center' | 'end' => (p === 'top' ? 'start' : p === 'bottom' ? 'end' : 'center');

/** Places a logo whose size depends on its image: height/width from options, the other from the image aspect. */
export function placeLogo(
  item: Extract<SceneItem, { kind: 'logo' }>,
  canvas: CanvasSize,
  natural: { width: number; height: number },
): Rect {
  if (item.rect) return item.rect;
  const ratio = natural.height > 0 ? natural.width / natural.height : 1;
  const height = item.height ?? (item.width !== null ? item.width / ratio : natural.height);
  const width = item.width ?? height * ratio;
  const a = item.anchor;
  return {
    x: alignIn(0, canvas.width, width, a.marginInline, hAlign(a.horizontal)),
    y: alignIn(0, canvas.height, height, a.marginBlock, vAlign(a.vertical)),
    width,
    height,
  };
}

interface TileSpec {
  participant: LayoutParticipant;
  rect: Rect;
  fit: 'cover' | 'contain';
  mirror: boolean;
  /** the tile shows the participant's screen share rather than its camera */
  share?: boolean;
}

function tileItems(spec: TileSpec, o: ResolvedOptions): SceneItem[] {
  const { participant: p, rect } = spec;
  const sessionId = spec.share ? p.screenShare!.sessionId : p.sessionId;
  const hasVideo = spec.share ? p.screenShare!.hasVideo : p.hasVideo;
  const radius = Math.min(px(o.participant.borderRadius, rect.width), rect.width / 2, rect.height / 2);
  const items: SceneItem[] = [];
  // The placeholder is always behind the tile: it shows while the video is missing or not yet decoded.
  items.push({
    kind: 'placeholder',
    sessionId,
    rect,
    radius,
    background: o.participant.placeholderBackground,
    initials: initialsOf(p),
    ...(p.image ? { imageUrl: p.image } : {}),
    circleColor: { r: 0x00, g: 0x5f, b: 0xff, a: 255 },
    circleDiameter: Math.min(100, 0.8 * Math.min(rect.width, rect.height)),
  });
  if (hasVideo) {
    items.push({
      kind: 'tile',
      sessionId,
      rect,
      radius,
      fit: spec.fit,
      mirror: spec.mirror,
      videoBackground: o.video.backgroundColor,
      hasVideo: true,
    });
  }
  return items;
}

function labelItem(p: LayoutParticipant, rect: Rect, o: ResolvedOptions, sessionId = p.sessionId): SceneItem | undefined {
  if (!o.label.display) return undefined;
  const text = p.name?.trim() || p.userId;
  if (!text) return undefined;
  const l = o.label;
  const mi = px(l.marginInline, rect.width);
  const mb = px(l.marginBlock, rect.width); // CSS: vertical margin percentages are of the width too
  const height = LABEL_FONT * 1.25 + 2 * LABEL_PAD_BLOCK + 2 * l.borderWidth;
  // The box is all the room the tile gives the label: the renderer measures the text and shrinks
  // the box to it toward `align`, and shortens the text only when it does not fit the tile.
  // (An estimate of the text's width from its length is narrower than wide glyphs such as "B".)
  const width = Math.max(0, rect.width - 2 * mi);
  // Unlike the reference (whose label stays bottom-left whatever the position keys say, §11),
  // horizontal_position / vertical_position move the label inside the tile.
  return {
    kind: 'label',
    sessionId,
    align: l.horizontal,
    text,
    rect: {
      x: alignIn(rect.x, rect.width, width, mi, hAlign(l.horizontal)),
      y: alignIn(rect.y, rect.height, height, mb, vAlign(l.vertical)),
      width,
      height,
    },
    textColor: l.textColor,
    background: l.backgroundColor,
    borderRadius: l.borderRadius,
    borderWidth: l.borderWidth,
    borderColor: l.borderColor,
    fontSize: LABEL_FONT,
    paddingInline: LABEL_PAD_INLINE,
  };
}

function outlineItem(p: LayoutParticipant, rect: Rect, radius: number, o: ResolvedOptions): SceneItem | undefined {
  const w = o.participant.outlineWidth;
  if (!p.isSpeaking || w <= 0) return undefined;
  return {
    kind: 'outline',
    sessionId: p.sessionId,
    width: w,
    color: o.participant.outlineColor,
    radius: radius + w,
    rect: { x: rect.x - w, y: rect.y - w, width: rect.width + 2 * w, height: rect.height + 2 * w },
  };
}

function cameraFit(p: LayoutParticipant, o: ResolvedOptions, bigSpotlightTile: boolean, canvas: CanvasSize): 'cover' | 'contain' {
  if (o.video.scaleMode) return o.video.scaleMode === 'fit' ? 'contain' : 'cover';
  if (p.videoSize && p.videoSize.height > p.videoSize.width) return 'contain';
  if (bigSpotlightTile && canvas.width >= 600) return 'contain';
  return 'cover';
}

function shareFit(o: ResolvedOptions): 'cover' | 'contain' {
  return o.video.screenshareScaleMode === 'fit' ? 'contain' : 'cover';
}

/** The presenter: the earliest share among everyone (the share view ignores `participant.filter`). */
function presenterOf(ps: readonly LayoutParticipant[]): LayoutParticipant | undefined {
  return spotlightOrder(ps.filter((p) => p.screenShare !== undefined))[0];
}

const PIP_WIDTH = 240;
const PIP_HEIGHT = 180;
const PIP_MARGIN = 10;

/** Spotlight's share view: the share in the big tile, the presenter's camera first in the bar, then the others. */
function spotlightShareSpecs(
  canvas: CanvasSize,
  all: readonly LayoutParticipant[],
  drawn: readonly LayoutParticipant[],
  o: ResolvedOptions,
  visible: Visibility,
): TileSpec[] {
  const presenter = presenterOf(all);
  if (!presenter) return [];
  const bar = [
    ...(presenter.shareOnly ? [] : [presenter]),
    ...spotlightOrder(
      drawn.filter((p) => p.sessionId !== presenter.sessionId && !p.shareOnly),
      visible,
    ),
  ];
  // participant.aspect_ratio is ignored while a share is on.
  const g = spotlightGeometry(canvas, bar.length, DEFAULT_ASPECT.spotlight, o.spotlight.barPosition, o.spotlight.barLimit);
  return [
    { participant: presenter, rect: g.main, fit: shareFit(o), mirror: false, share: true },
    ...g.bar.map((rect, i) => ({ participant: bar[i]!, rect, fit: cameraFit(bar[i]!, o, false, canvas), mirror: false })),
  ];
}

/** Single-participant's share view: the share box `W x min(H, W*3/4)` centred, the presenter's camera as a picture-in-picture. */
function singleShareSpecs(canvas: CanvasSize, all: readonly LayoutParticipant[], o: ResolvedOptions): TileSpec[] {
  const presenter = presenterOf(all);
  if (!presenter) return [];
  const { width: W, height: H } = canvas;
  const h = Math.min(H, (W * 3) / 4);
  const specs: TileSpec[] = [
    { participant: presenter, rect: { x: 0, y: (H - h) / 2, width: W, height: h }, fit: shareFit(o), mirror: false, share: true },
  ];
  if (o.single.presenterVisible && !presenter.shareOnly) {
    specs.push({
      participant: presenter,
      rect: { x: W - PIP_WIDTH - PIP_MARGIN, y: PIP_MARGIN, width: PIP_WIDTH, height: PIP_HEIGHT },
      fit: 'cover',
      mirror: o.forceMirrorParticipants,
    });
  }
  return specs;
}

function shuffled(ps: readonly LayoutParticipant[], nowMs: number): LayoutParticipant | undefined {
  const slot = Math.floor(nowMs / SHUFFLE_PERIOD_MS);
  let best: LayoutParticipant | undefined;
  let bestHash = Infinity;
  for (const p of ps) {
    const h = stableHash(`${slot}:${p.sessionId}`);
    if (h < bestHash || (h === bestHash && best && p.sessionId < best.sessionId)) {
      best = p;
      bestHash = h;
    }
  }
  return best;
}

function logoAndTitle(canvas: CanvasSize, o: ResolvedOptions): SceneItem[] {
  const items: SceneItem[] = [];
  const { width: W, height: H } = canvas;
  if (o.title.text) {
    const t = o.title;
    const mi = px(t.marginInline, W);
    const mb = px(t.marginBlock, W);
    const height = t.fontSize * 1.25;
    items.push({
      kind: 'title',
      text: t.text!,
      color: t.color,
      fontSize: t.fontSize,
      align: t.horizontal,
      rect: { x: mi, y: alignIn(0, H, height, mb, vAlign(t.vertical)), width: Math.max(0, W - 2 * mi), height },
    });
  }
  if (o.logo.imageUrl) {
    const l = o.logo;
    const width = l.width ? px(l.width, W) : null;
    const height = l.height ? px(l.height, H) : null;
    const anchor: Anchor = {
      horizontal: l.horizontal,
      vertical: l.vertical,
      marginInline: px(l.marginInline, W),
      marginBlock: px(l.marginBlock, W),
    };
    const base = { kind: 'logo' as const, url: l.imageUrl!, width, height, anchor, rect: null };
    const rect = width !== null && height !== null ? placeLogo(base, canvas, { width, height }) : null;
    items.push({ ...base, rect });
  }
  return items;
}

/** Extracts the URL of a CSS background-image value (`url(...)` or a bare URL); gradients are not drawn. */
export function backgroundImageUrl(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const m = /^\s*url\(\s*(['"]?)(.*?)\1\s*\)\s*$/i.exec(value);
  const url = (m ? m[2]! : value).trim();
  return /^(https?:|data:)/i.test(url) ? url : undefined;
}

export function composeScene(input: ComposeInput): Scene {
  const { canvas, nowMs } = input;
  const { layout, options: o, screenShare } = resolveLayout(input.layout, input.participants);
  const visible = input.visibleSessionIds ? new Set(input.visibleSessionIds) : undefined;
  // Outside the share views a participant that is only a screen share has no camera tile.
  const drawn = applyParticipantFilter(input.participants, o.participant.filter).filter((p) => screenShare || !p.shareOnly);
  const aspect = o.participant.aspectRatio ?? DEFAULT_ASPECT[layout];
  const specs: TileSpec[] = [];

  if (screenShare && layout === 'spotlight') {
    specs.push(...spotlightShareSpecs(canvas, input.participants, drawn, o, visible));
  } else if (screenShare) {
    specs.push(...singleShareSpecs(canvas, input.participants, o));
  } else if (layout === 'spotlight') {
    const ordered = spotlightOrder(drawn, visible);
    const [first, ...rest] = ordered;
    if (first) {
      const g = spotlightGeometry(canvas, rest.length, aspect, o.spotlight.barPosition, o.spotlight.barLimit);
      specs.push({ participant: first, rect: g.main, fit: cameraFit(first, o, true, canvas), mirror: false });
      g.bar.forEach((rect, i) => {
        const p = rest[i]!;
        specs.push({ participant: p, rect, fit: cameraFit(p, o, false, canvas), mirror: false });
      });
    }
  } else if (layout === 'grid') {
    const page = gridOrder(drawn, visible).slice(0, o.grid.pageSize);
    const effectiveAspect = o.participant.aspectRatio ?? (o.grid.expandTiles ? 16 / 9 : 4 / 3);
    gridGeometry(canvas, page.length, effectiveAspect, o.grid.expandTiles).forEach((rect, i) => {
      const p = page[i]!;
      specs.push({ participant: p, rect, fit: cameraFit(p, o, false, canvas), mirror: false });
    });
  } else {
    const featured = o.single.mode === 'shuffle' ? shuffled(drawn, nowMs) : singleOrder(drawn)[0];
    if (featured) {
      // CSS semantics: padding percentages (inline and block) are of the canvas width.
      const rect = singleGeometry(canvas, aspect, px(o.single.paddingInline, canvas.width), px(o.single.paddingBlock, canvas.width));
      specs.push({ participant: featured, rect, fit: cameraFit(featured, o, false, canvas), mirror: o.forceMirrorParticipants });
    }
  }

  const bgUrl = backgroundImageUrl(o.background.image);
  const items: SceneItem[] = [
    {
      kind: 'background',
      color: o.background.color,
      ...(bgUrl
        ? {
            image: {
              url: bgUrl,
              ...(o.background.size ? { size: o.background.size } : {}),
              ...(o.background.position ? { position: o.background.position } : {}),
              ...(o.background.repeat ? { repeat: o.background.repeat } : {}),
            },
          }
        : {}),
    },
  ];
  for (const s of specs) items.push(...tileItems(s, o));
  for (const s of specs) {
    const label = labelItem(s.participant, s.rect, o, s.share ? s.participant.screenShare!.sessionId : s.participant.sessionId);
    if (label) items.push(label);
  }
  for (const s of specs) {
    if (s.share) continue; // no speaking outline on a share
    const radius = Math.min(px(o.participant.borderRadius, s.rect.width), s.rect.width / 2, s.rect.height / 2);
    const outline = outlineItem(s.participant, s.rect, radius, o);
    if (outline) items.push(outline);
  }
  items.push(...logoAndTitle(canvas, o));
  const shuffling = !screenShare && layout === 'single-participant' && o.single.mode === 'shuffle' && drawn.length > 1;
  return {
    width: canvas.width,
    height: canvas.height,
    layout,
    screenShare,
    items,
    ...(shuffling ? { validUntilMs: (Math.floor(nowMs / SHUFFLE_PERIOD_MS) + 1) * SHUFFLE_PERIOD_MS } : {}),
  };
}

/** The sessions a scene shows; pass them as `visibleSessionIds` when composing the next scene. */
export function visibleSessions(scene: Scene): string[] {
  return scene.items.flatMap((i) => (i.kind === 'placeholder' ? [i.sessionId] : []));
}
