/**
 * The layout `options` map (flat, dotted keys as on the wire): validation when settings are saved,
 * and resolution into a typed, defaulted object for the layout engine.
 * Unknown keys are ignored. Keys the reference declares but never implements
 * (`layout.size_percentage`, `layout.grid.gap`, `layout.single-participant.shuffle_delay`) are accepted and ignored.
 */
import { parseColor, type Rgba } from './color.js';
import { filterProblem, type Filter } from './filter.js';
import { parseLength, type Length } from './length.js';

export type HorizontalPosition = 'left' | 'center' | 'right';
export type VerticalPosition = 'top' | 'center' | 'bottom';
export type BarPosition = 'top' | 'bottom' | 'left' | 'right';
export type ScaleMode = 'fit' | 'fill';

export interface CustomAction {
  action_type: 'layout_override' | 'options_override';
  condition: Filter;
  layout?: string;
  ignore_screenshare?: boolean;
  options?: Record<string, unknown>;
}

export interface ResolvedOptions {
  video: { backgroundColor: Rgba; scaleMode?: ScaleMode; screenshareScaleMode: ScaleMode };
  logo: {
    imageUrl?: string;
    width?: Length;
    height?: Length;
    horizontal: HorizontalPosition;
    vertical: VerticalPosition;
    marginInline: Length;
    marginBlock: Length;
  };
  title: {
    text?: string;
    fontSize: number;
    color: Rgba;
    horizontal: HorizontalPosition;
    vertical: VerticalPosition;
    marginInline: Length;
    marginBlock: Length;
  };
  participant: {
    aspectRatio?: number;
    outlineColor: Rgba;
    outlineWidth: number;
    borderRadius: Length;
    placeholderBackground: Rgba;
    filter?: Filter;
  };
  label: {
    display: boolean;
    textColor: Rgba;
    backgroundColor: Rgba;
    borderWidth: number;
    borderColor: Rgba;
    /** top-left, top-right, bottom-right, bottom-left (CSS order) */
    borderRadius: [number, number, number, number];
    horizontal: HorizontalPosition;
    vertical: VerticalPosition;
    marginInline: Length;
    marginBlock: Length;
  };
  background: { color: Rgba; image?: string; size?: string; position?: string; repeat?: string };
  forceMirrorParticipants: boolean;
  grid: { pageSize: number; expandTiles: boolean };
  single: { mode: 'default' | 'shuffle'; paddingInline: Length; paddingBlock: Length; presenterVisible: boolean };
  spotlight: { barPosition: BarPosition; barLimit: 'dynamic' | number };
  customActions: CustomAction[];
  customLayoutOverride?: string;
  /** the layout used while a screen share is on (`custom_screen_share_layout_override`) */
  screenshareLayoutOverride?: string;
}

type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };
type Parser<T> = (v: unknown) => Parsed<T>;

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = (message: string): Parsed<never> => ({ ok: false, message });

const color: Parser<Rgba> = (v) => {
  const c = parseColor(v);
  return c ? ok(c) : bad(`${JSON.stringify(v)} is not a colour`);
};
const length: Parser<Length> = (v) => {
  const l = parseLength(v);
  return l ? ok(l) : bad(`${JSON.stringify(v)} is not a non-negative length (px, rem, % or a number)`);
};
const pxLength: Parser<number> = (v) => {
  const l = parseLength(v);
  if (!l) return bad(`${JSON.stringify(v)} is not a non-negative length (px, rem or a number)`);
  return l.unit === 'px' ? ok(l.value) : bad(`${JSON.stringify(v)}: a percentage is not allowed here`);
};
const fontSize: Parser<number> = (v) => {
  const l = parseLength(v);
  if (!l || l.value <= 0) return bad(`${JSON.stringify(v)} is not a positive font size`);
  return ok(l.unit === '%' ? (l.value / 100) * 16 : l.value);
};
const bool: Parser<boolean> = (v) =>
  typeof v === 'boolean' ? ok(v) : v === 'true' || v === 'false' ? ok(v === 'true') : bad(`${JSON.stringify(v)} is not a boolean`);
const str: Parser<string> = (v) => (typeof v === 'string' ? ok(v) : bad(`${JSON.stringify(v)} is not a string`));
const oneOf =
  <T extends string>(...words: T[]): Parser<T> =>
  (v) =>
    typeof v === 'string' && (words as string[]).includes(v) ? ok(v as T) : bad(`${JSON.stringify(v)} must be one of ${words.join(', ')}`);
const hpos = oneOf<HorizontalPosition>('left', 'center', 'right');
const vpos = oneOf<VerticalPosition>('top', 'center', 'bottom');
const positiveInt: Parser<number> = (v) => {
  const n = typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? ok(n) : bad(`${JSON.stringify(v)} is not a positive integer`);
};
const barLimit: Parser<'dynamic' | number> = (v) => {
  if (v === 'dynamic') return ok('dynamic');
  const n = typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0
    ? ok(n)
    : bad(`${JSON.stringify(v)} must be 'dynamic' or a non-negative integer`);
};
const url: Parser<string> = (v) =>
  typeof v === 'string' && /^(https?:|data:)/i.test(v.trim()) ? ok(v.trim()) : bad(`${JSON.stringify(v)} is not an http(s) or data: URL`);

/** "16 / 9", "16/9", "1.7778" or a number. */
export function parseAspectRatio(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v > 0 ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const m = /^\s*(\d+\.?\d*|\.\d+)\s*(?:\/\s*(\d+\.?\d*|\.\d+)\s*)?$/.exec(v);
  if (!m) return undefined;
  const r = Number(m[1]) / (m[2] === undefined ? 1 : Number(m[2]));
  return Number.isFinite(r) && r > 0 ? r : undefined;
}
const aspect: Parser<number> = (v) => {
  const r = parseAspectRatio(v);
  return r ? ok(r) : bad(`${JSON.stringify(v)} is not an aspect ratio such as "16 / 9"`);
};

/** CSS border-radius shorthand, 1 to 4 pixel lengths. */
const radii: Parser<[number, number, number, number]> = (v) => {
  const parts = typeof v === 'number' ? [v] : typeof v === 'string' ? v.trim().split(/\s+/) : [];
  const px = parts.map((p) => parseLength(p)).map((l) => (l && l.unit === 'px' ? l.value : undefined));
  if (px.length < 1 || px.length > 4 || px.some((x) => x === undefined)) return bad(`${JSON.stringify(v)} is not a border radius`);
  const [a, b = a, c = a, d = b] = px as number[];
  return ok([a!, b!, c!, d!]);
};

const filter: Parser<Filter> = (v) => {
  const problem = filterProblem(v);
  return problem ? bad(`malformed filter: ${problem}`) : ok(v as Filter);
};

const customActions: Parser<CustomAction[]> = (v) => {
  if (!Array.isArray(v)) return bad('must be an array');
  const out: CustomAction[] = [];
  for (let i = 0; i < v.length; i++) {
    const a = v[i] as Record<string, unknown> | null;
    if (typeof a !== 'object' || a === null) return bad(`[${i}] must be an object`);
    if (a.action_type !== 'layout_override' && a.action_type !== 'options_override') {
      return bad(`[${i}].action_type must be layout_override or options_override`);
    }
    const problem = filterProblem(a.condition);
    if (problem) return bad(`[${i}].condition is a malformed filter: ${problem}`);
    if (a.action_type === 'layout_override' && typeof a.layout !== 'string') return bad(`[${i}].layout must be a layout name`);
    if (a.ignore_screenshare !== undefined && typeof a.ignore_screenshare !== 'boolean')
      return bad(`[${i}].ignore_screenshare must be a boolean`);
    if (a.action_type === 'options_override') {
      if (typeof a.options !== 'object' || a.options === null || Array.isArray(a.options)) return bad(`[${i}].options must be an object`);
      const inner = validateLayoutOptions(a.options);
      if (!inner.ok) return bad(`[${i}].options.${inner.key}: ${inner.message}`);
    }
    out.push({
      action_type: a.action_type,
      condition: a.condition as Filter,
      ...(typeof a.layout === 'string' ? { layout: a.layout } : {}),
      ...(typeof a.ignore_screenshare === 'boolean' ? { ignore_screenshare: a.ignore_screenshare } : {}),
      ...(a.action_type === 'options_override' ? { options: a.options as Record<string, unknown> } : {}),
    });
  }
  return ok(out);
};

const logoSize: Parser<Length | undefined> = (v) => (v === 'initial' || v === 'auto' ? ok(undefined) : length(v));

const ignored: Parser<unknown> = (v) => ok(v);

/** Every known key and how to parse it. */
const PARSERS: Record<string, Parser<unknown>> = {
  'video.background_color': color,
  'video.scale_mode': oneOf('fit', 'fill'),
  'video.screenshare_scale_mode': oneOf('fit', 'fill'),
  'logo.image_url': url,
  'logo.width': logoSize,
  'logo.height': logoSize,
  'logo.horizontal_position': hpos,
  'logo.vertical_position': vpos,
  'logo.margin_inline': length,
  'logo.margin_block': length,
  'title.text': str,
  'title.font_size': fontSize,
  'title.color': color,
  'title.horizontal_position': hpos,
  'title.vertical_position': vpos,
  'title.margin_inline': length,
  'title.margin_block': length,
  'participant.aspect_ratio': aspect,
  'participant.outline_color': color,
  'participant.outline_width': pxLength,
  'participant.border_radius': length,
  'participant.placeholder_background_color': color,
  'participant.filter': filter,
  'participant_label.display': bool,
  'participant_label.text_color': color,
  'participant_label.background_color': color,
  'participant_label.border_width': pxLength,
  'participant_label.border_color': color,
  'participant_label.border_radius': radii,
  'participant_label.horizontal_position': hpos,
  'participant_label.vertical_position': vpos,
  'participant_label.margin_inline': length,
  'participant_label.margin_block': length,
  'layout.background_color': color,
  'layout.background_image': str,
  'layout.background_size': str,
  'layout.background_position': str,
  'layout.background_repeat': str,
  'layout.forceMirrorParticipants': bool,
  'layout.size_percentage': ignored,
  'layout.grid.page_size': positiveInt,
  'layout.grid.expand_tiles': bool,
  'layout.grid.gap': ignored,
  'layout.single-participant.mode': oneOf('default', 'shuffle'),
  'layout.single-participant.shuffle_delay': ignored,
  'layout.single-participant.padding_inline': length,
  'layout.single-participant.padding_block': length,
  'layout.single-participant.presenter_visible': bool,
  'layout.spotlight.participants_bar_position': oneOf<BarPosition>('top', 'bottom', 'left', 'right'),
  'layout.spotlight.participants_bar_limit': barLimit,
  custom_actions: customActions,
  custom_layout_override: str,
  custom_screen_share_layout_override: str,
  'debug.show_timestamp': bool,
};

/** Checks saved options: unknown keys are ignored, the first bad value is refused with its key. */
export function validateLayoutOptions(options: unknown): { ok: true } | { ok: false; key: string; message: string } {
  if (options === undefined || options === null) return { ok: true };
  if (typeof options !== 'object' || Array.isArray(options)) return { ok: false, key: 'options', message: 'options must be an object' };
  for (const [key, value] of Object.entries(options as Record<string, unknown>)) {
    const parser = PARSERS[key];
    if (!parser || value === undefined || value === null) continue;
    const r = parser(value);
    if (!r.ok) return { ok: false, key, message: r.message };
  }
  return { ok: true };
}

const px = (value: number): Length => ({ unit: 'px', value });
const rgb = (hex: string): Rgba => parseColor(hex)!;

function get<T>(options: Record<string, unknown>, key: string, fallback: T): T {
  const value = options[key];
  const parser = PARSERS[key];
  if (value === undefined || value === null || !parser) return fallback;
  const r = parser(value);
  return r.ok ? (r.value as T) : fallback; // invalid values were refused at save time; never throw here
}
function opt<T>(options: Record<string, unknown>, key: string): T | undefined {
  return get<T | undefined>(options, key, undefined);
}

/** Typed options with the reference defaults (layouts.md §6 and §8). Invalid values fall back to defaults. */
export function resolveOptions(options: Record<string, unknown> | undefined | null): ResolvedOptions {
  const o = options ?? {};
  const scaleMode = opt<ScaleMode>(o, 'video.scale_mode');
  const logoUrl = opt<string>(o, 'logo.image_url');
  const logoWidth = opt<Length>(o, 'logo.width');
  const logoHeight = o['logo.height'] === undefined ? px(40) : opt<Length>(o, 'logo.height');
  const titleText = opt<string>(o, 'title.text');
  const aspectRatio = opt<number>(o, 'participant.aspect_ratio');
  const participantFilter = opt<Filter>(o, 'participant.filter');
  const bgImage = opt<string>(o, 'layout.background_image');
  const bgSize = opt<string>(o, 'layout.background_size');
  const bgPosition = opt<string>(o, 'layout.background_position');
  const bgRepeat = opt<string>(o, 'layout.background_repeat');
  const override = opt<string>(o, 'custom_layout_override');
  const shareOverride = opt<string>(o, 'custom_screen_share_layout_override');
  return {
    video: {
      backgroundColor: get(o, 'video.background_color', rgb('#1d2938')),
      ...(scaleMode ? { scaleMode } : {}),
      screenshareScaleMode: get<ScaleMode>(o, 'video.screenshare_scale_mode', 'fit'),
    },
    logo: {
      ...(logoUrl ? { imageUrl: logoUrl } : {}),
      ...(logoWidth ? { width: logoWidth } : {}),
      ...(logoHeight ? { height: logoHeight } : {}),
      horizontal: get<HorizontalPosition>(o, 'logo.horizontal_position', 'right'),
      vertical: get<VerticalPosition>(o, 'logo.vertical_position', 'bottom'),
      marginInline: get(o, 'logo.margin_inline', px(14)),
      marginBlock: get(o, 'logo.margin_block', px(14)),
    },
    title: {
      ...(titleText ? { text: titleText } : {}),
      fontSize: get(o, 'title.font_size', 30),
      color: get(o, 'title.color', rgb('white')),
      horizontal: get<HorizontalPosition>(o, 'title.horizontal_position', 'left'),
      vertical: get<VerticalPosition>(o, 'title.vertical_position', 'top'),
      marginInline: get(o, 'title.margin_inline', px(14)),
      marginBlock: get(o, 'title.margin_block', px(14)),
    },
    participant: {
      ...(aspectRatio ? { aspectRatio } : {}),
      outlineColor: get(o, 'participant.outline_color', rgb('#005fff')),
      outlineWidth: get(o, 'participant.outline_width', 2),
      borderRadius: get(o, 'participant.border_radius', px(12)),
      placeholderBackground: get(o, 'participant.placeholder_background_color', rgb('#19232d')),
      ...(participantFilter ? { filter: participantFilter } : {}),
    },
    label: {
      display: get(o, 'participant_label.display', true),
      textColor: get(o, 'participant_label.text_color', rgb('white')),
      backgroundColor: get(o, 'participant_label.background_color', rgb('#121416')),
      borderWidth: get(o, 'participant_label.border_width', 0),
      borderColor: get(o, 'participant_label.border_color', rgb('transparent')),
      borderRadius: get<[number, number, number, number]>(o, 'participant_label.border_radius', [0, 8, 0, 12]),
      horizontal: get<HorizontalPosition>(o, 'participant_label.horizontal_position', 'left'),
      vertical: get<VerticalPosition>(o, 'participant_label.vertical_position', 'bottom'),
      marginInline: get(o, 'participant_label.margin_inline', px(0)),
      marginBlock: get(o, 'participant_label.margin_block', px(0)),
    },
    background: {
      color: get(o, 'layout.background_color', rgb('black')),
      ...(bgImage ? { image: bgImage } : {}),
      ...(bgSize ? { size: bgSize } : {}),
      ...(bgPosition ? { position: bgPosition } : {}),
      ...(bgRepeat ? { repeat: bgRepeat } : {}),
    },
    forceMirrorParticipants: get(o, 'layout.forceMirrorParticipants', false),
    grid: { pageSize: get(o, 'layout.grid.page_size', 20), expandTiles: get(o, 'layout.grid.expand_tiles', false) },
    single: {
      mode: get<'default' | 'shuffle'>(o, 'layout.single-participant.mode', 'default'),
      paddingInline: get(o, 'layout.single-participant.padding_inline', px(0)),
      paddingBlock: get(o, 'layout.single-participant.padding_block', px(0)),
      presenterVisible: get(o, 'layout.single-participant.presenter_visible', true),
    },
    spotlight: {
      barPosition: get<BarPosition>(o, 'layout.spotlight.participants_bar_position', 'bottom'),
      barLimit: get<'dynamic' | number>(o, 'layout.spotlight.participants_bar_limit', 'dynamic'),
    },
    customActions: get<CustomAction[]>(o, 'custom_actions', []),
    ...(override ? { customLayoutOverride: override } : {}),
    ...(shareOverride ? { screenshareLayoutOverride: shareOverride } : {}),
  };
}
