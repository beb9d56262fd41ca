/**
 * Layout and quality settings as they appear on the wire (Stream's LayoutSettings and RTMP quality enum).
 * Shared by the control plane (validation, settings resolution) and the egress (canvas size, scene).
 */
export const QUALITIES = [
  '360p',
  '480p',
  '720p',
  '1080p',
  '1440p',
  'portrait-360x640',
  'portrait-480x854',
  'portrait-720x1280',
  'portrait-1080x1920',
  'portrait-1440x2560',
] as const;
export type Quality = (typeof QUALITIES)[number];

export const LAYOUT_NAMES = ['spotlight', 'grid', 'single-participant', 'mobile', 'custom'] as const;
export type LayoutName = (typeof LAYOUT_NAMES)[number];

export interface LayoutSettings {
  name: LayoutName;
  external_app_url: string;
  external_css_url: string;
  options?: Record<string, unknown>;
  detect_orientation?: boolean;
  /** the layout used while anyone shares a screen (default: `name`) */
  screenshare_layout?: LayoutName;
}

export interface CanvasSize {
  width: number;
  height: number;
}

const CANVAS: Record<Quality, CanvasSize> = {
  '360p': { width: 640, height: 360 },
  '480p': { width: 854, height: 480 },
  '720p': { width: 1280, height: 720 },
  '1080p': { width: 1920, height: 1080 },
  '1440p': { width: 2560, height: 1440 },
  'portrait-360x640': { width: 360, height: 640 },
  'portrait-480x854': { width: 480, height: 854 },
  'portrait-720x1280': { width: 720, height: 1280 },
  'portrait-1080x1920': { width: 1080, height: 1920 },
  'portrait-1440x2560': { width: 1440, height: 2560 },
};

export function isQuality(value: unknown): value is Quality {
  return typeof value === 'string' && (QUALITIES as readonly string[]).includes(value);
}

export function isLayoutName(value: unknown): value is LayoutName {
  return typeof value === 'string' && (LAYOUT_NAMES as readonly string[]).includes(value);
}

export function canvasFor(quality: Quality): CanvasSize {
  return CANVAS[quality];
}

/** A stable key for a layout (JSON with sorted object keys): equal keys draw the same picture. */
export function layoutKey(layout: LayoutSettings): string {
  return stableStringify(layout);
}

/** Whether two layouts are the same (same key). */
export function sameLayout(a: LayoutSettings, b: LayoutSettings): boolean {
  return layoutKey(a) === layoutKey(b);
}

function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
