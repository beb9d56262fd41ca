/** Which destinations share one encode: same call, quality and layout. Pure. */
import type { LayoutSettings, Quality } from '../layout/settings.js';

/** A stable key for a layout: JSON with sorted object keys. */
export function layoutKey(layout: LayoutSettings): string {
  return stableStringify(layout);
}

export function groupKey(callCid: string, quality: Quality, layout: LayoutSettings): string {
  return `${callCid}\u0000${quality}\u0000${layoutKey(layout)}`;
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
