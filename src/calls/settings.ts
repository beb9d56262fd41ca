/**
 * Call settings: the built-in call types' defaults, the deep merge used for call type updates and
 * call settings_override, and the effective settings of a call.
 */
import type { JsonObject } from '../store/records.js';

export const RTMP_DEFAULT = {
  enabled: true,
  quality: '720p',
  layout: { name: 'spotlight', external_app_url: '', external_css_url: '' },
} as const;

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export function isPlainObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Deep merge: objects merge key by key, everything else (arrays included) is replaced.
 * `undefined` in the patch leaves the base value. Returns a new object.
 */
export function deepMerge(base: JsonObject, patch: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(base)) if (!FORBIDDEN_KEYS.has(k)) out[k] = clone(v);
  for (const [k, v] of Object.entries(patch)) {
    if (FORBIDDEN_KEYS.has(k) || v === undefined) continue;
    const current = out[k];
    out[k] = isPlainObject(v) && isPlainObject(current) ? deepMerge(current, v) : clone(v);
  }
  return out;
}

function clone(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(clone);
  if (isPlainObject(v)) return deepMerge({}, v);
  return v;
}

/** Layout `options` are replaced as a whole (they are one opaque map), not merged. */
export function mergeSettings(base: JsonObject, patch: JsonObject): JsonObject {
  const merged = deepMerge(base, patch);
  for (const path of [
    ['broadcasting', 'rtmp', 'layout'],
    ['broadcasting', 'hls', 'layout'],
    ['recording', 'layout'],
  ]) {
    const p = dig(patch, path);
    const m = dig(merged, path);
    if (isPlainObject(p) && isPlainObject(m) && p.options !== undefined) m.options = clone(p.options);
  }
  return merged;
}

export function dig(obj: unknown, path: string[]): unknown {
  let cur: unknown = obj;
  for (const key of path) {
    if (!isPlainObject(cur)) return undefined;
    cur = cur[key];
  }
  return cur;
}

function layout(): JsonObject {
  return { name: 'spotlight', external_app_url: '', external_css_url: '' };
}

function notificationEvent(): JsonObject {
  return { enabled: false, apns: { title: '', body: '' }, fcm: {} };
}

export function defaultNotificationSettings(): JsonObject {
  return {
    enabled: true,
    call_live_started: notificationEvent(),
    call_missed: notificationEvent(),
    call_notification: notificationEvent(),
    call_ring: notificationEvent(),
    session_started: notificationEvent(),
  };
}

/** The settings every type starts from (the `default` type's values). */
function baseSettings(): JsonObject {
  return {
    audio: {
      access_request_enabled: true,
      default_device: 'earpiece',
      hifi_audio_enabled: false,
      mic_default_on: true,
      opus_dtx_enabled: true,
      redundant_coding_enabled: true,
      speaker_default_on: true,
      noise_cancellation: { mode: 'disabled' },
    },
    backstage: { enabled: false, join_ahead_time_seconds: 0 },
    broadcasting: {
      enabled: true,
      hls: { enabled: false, auto_on: false, quality_tracks: ['720p'], layout: layout() },
      rtmp: deepMerge({}, RTMP_DEFAULT as unknown as JsonObject),
    },
    encryption: { mode: 'disabled' },
    frame_recording: { capture_interval_in_seconds: 0, mode: 'disabled', quality: '720p' },
    geofencing: { names: [] },
    individual_recording: { mode: 'disabled' },
    limits: { max_participants_exclude_roles: [] },
    raw_recording: { mode: 'disabled', audio_only: false },
    recording: { mode: 'available', audio_only: false, quality: '720p', layout: layout() },
    ring: { auto_cancel_timeout_ms: 15000, incoming_call_timeout_ms: 15000, missed_call_timeout_ms: 15000 },
    screensharing: { enabled: true, access_request_enabled: true, target_resolution: { width: 1920, height: 1080, bitrate: 3000000 } },
    session: { inactivity_timeout_seconds: 30 },
    thumbnails: { enabled: false },
    transcription: { mode: 'available', closed_caption_mode: 'disabled', language: 'auto' },
    video: {
      enabled: true,
      access_request_enabled: true,
      camera_default_on: true,
      camera_facing: 'front',
      target_resolution: { width: 2560, height: 1440, bitrate: 5000000 },
    },
  };
}

/**
 * Default settings of the built-in call types (Stream's documented defaults; RTMP on at 720p
 * spotlight). In `development`, where every role may broadcast, RTMP is off until an operator
 * enables it (`broadcasting.rtmp.enabled`): a development call must not let anyone make the
 * server connect wherever they like.
 */
export function builtinSettings(type: 'default' | 'audio_room' | 'livestream' | 'development'): JsonObject {
  const base = baseSettings();
  switch (type) {
    case 'default':
      return base;
    case 'development':
      return deepMerge(base, {
        video: { target_resolution: { width: 1920, height: 1080, bitrate: 3000000 } },
        broadcasting: { rtmp: { enabled: false } },
      });
    case 'livestream':
      return deepMerge(base, {
        audio: { access_request_enabled: false, mic_default_on: false, default_device: 'speaker' },
        backstage: { enabled: true },
        video: { access_request_enabled: false, target_resolution: { width: 1920, height: 1080, bitrate: 3000000 } },
        screensharing: { access_request_enabled: false },
        ring: { auto_cancel_timeout_ms: 0, incoming_call_timeout_ms: 0, missed_call_timeout_ms: 0 },
      });
    case 'audio_room':
      return deepMerge(base, {
        audio: { mic_default_on: false, default_device: 'speaker' },
        backstage: { enabled: true },
        video: { enabled: false, camera_default_on: false, access_request_enabled: false },
        screensharing: { enabled: false, access_request_enabled: false },
        ring: { auto_cancel_timeout_ms: 0, incoming_call_timeout_ms: 0, missed_call_timeout_ms: 0 },
      });
  }
}

/** Settings a newly created (non built-in) call type starts with. */
export function newCallTypeSettings(): JsonObject {
  return baseSettings();
}

/** The call's effective settings: its type's settings with the call's override merged in. */
export function effectiveSettings(typeSettings: JsonObject, override: JsonObject): JsonObject {
  return mergeSettings(typeSettings, override);
}
