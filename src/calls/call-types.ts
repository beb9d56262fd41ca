/**
 * Call types: the seed of the built-in types, creation and the partial update semantics.
 */
import type { CallTypeRecord, JsonObject } from '../store/records.js';
import type { Store } from '../store/store.js';
import { builtinGrants, mergeGrants } from './capabilities.js';
import { builtinSettings, defaultNotificationSettings, deepMerge, mergeSettings, newCallTypeSettings } from './settings.js';

export const BUILTIN_CALL_TYPES = ['default', 'audio_room', 'livestream', 'development'] as const;

/** Creates the built-in call types that do not exist yet. */
export async function seedCallTypes(store: Store, now: string): Promise<void> {
  for (const name of BUILTIN_CALL_TYPES) {
    await store.createCallType({
      name,
      grants: builtinGrants(name),
      settings: builtinSettings(name),
      notification_settings: defaultNotificationSettings(),
      external_storage: null,
      created_at: now,
      updated_at: now,
    });
  }
}

export interface CallTypeChanges {
  grants?: Record<string, string[]>;
  settings?: JsonObject;
  notification_settings?: JsonObject;
  external_storage?: string;
}

/** A new call type: default settings and grants with the request's merged in (per-role replace of grants). */
export function newCallType(name: string, changes: CallTypeChanges, now: string): CallTypeRecord {
  return {
    name,
    grants: mergeGrants(builtinGrants('default'), changes.grants),
    settings: mergeSettings(newCallTypeSettings(), changes.settings ?? {}),
    notification_settings: deepMerge(defaultNotificationSettings(), changes.notification_settings ?? {}),
    external_storage: changes.external_storage ?? null,
    created_at: now,
    updated_at: now,
  };
}

/** A partial update: settings deep-merged, the given roles' grants replaced, the rest kept. */
export function updatedCallType(current: CallTypeRecord, changes: CallTypeChanges, now: string): CallTypeRecord {
  return {
    ...current,
    grants: mergeGrants(current.grants, changes.grants),
    settings: mergeSettings(current.settings, changes.settings ?? {}),
    notification_settings: deepMerge(current.notification_settings, changes.notification_settings ?? {}),
    external_storage: changes.external_storage ?? current.external_storage,
    updated_at: now,
  };
}
