/**
 * Which layout a running RTMP broadcast draws: one given with its start request (or set on it
 * later) is kept; otherwise it follows the call's effective RTMP settings (call type settings with
 * the call's override) as they change. Pure.
 */
import { sameLayout, type LayoutSettings } from '../layout/settings.js';
import type { BroadcastRecord } from '../store/records.js';
import type { JsonObject } from '../wire/json.js';
import { dig, isPlainObject } from './settings.js';
import { toLayoutSettings } from './validation.js';

/** The layout the call's effective settings give its RTMP broadcasts (`broadcasting.rtmp.layout`). */
export function settingsLayout(settings: JsonObject): LayoutSettings {
  const layout = dig(settings, ['broadcasting', 'rtmp', 'layout']);
  return toLayoutSettings(isPlainObject(layout) ? layout : {});
}

export interface LayoutUpdate {
  name: string;
  layout: LayoutSettings;
}

/**
 * The broadcasts (of one call) whose layout changes with these effective settings: those that
 * follow the settings and draw another layout than the settings now give.
 */
export function followedLayoutUpdates(records: readonly BroadcastRecord[], settings: JsonObject): LayoutUpdate[] {
  const layout = settingsLayout(settings);
  return records.filter((r) => r.layout_source === 'settings' && !sameLayout(r.layout, layout)).map((r) => ({ name: r.name, layout }));
}
