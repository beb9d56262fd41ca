/**
 * Validation of request bodies beyond their JSON shape: call settings (as in call type updates and
 * settings_override), layouts, RTMP broadcast requests, call ids. Pure: each returns the cleaned
 * value or throws a 400 ApiError (code 4) naming the field.
 */
import { badRequest } from '../wire/errors.js';
import { validateLayoutOptions } from '../layout/options.js';
import { isLayoutName, isQuality, LAYOUT_NAMES, QUALITIES, type LayoutSettings, type Quality } from '../layout/settings.js';
import { layoutUrlProblem } from '../layout/app-url.js';
import type { JsonObject } from '../wire/json.js';
import type { DestinationPolicy } from '../net/destination-policy.js';
import { parseRtmpTarget } from '../rtmp/url.js';
import { isCapability } from './capabilities.js';
import { isPlainObject } from './settings.js';

const BOOLEAN_FIELDS: Record<string, string[]> = {
  audio: [
    'access_request_enabled',
    'hifi_audio_enabled',
    'mic_default_on',
    'opus_dtx_enabled',
    'redundant_coding_enabled',
    'speaker_default_on',
  ],
  backstage: ['enabled'],
  broadcasting: ['enabled'],
  raw_recording: ['audio_only'],
  recording: ['audio_only'],
  screensharing: ['enabled', 'access_request_enabled'],
  thumbnails: ['enabled'],
  video: ['enabled', 'access_request_enabled', 'camera_default_on'],
  ingress: ['enabled'],
};

const NUMBER_FIELDS: Record<string, string[]> = {
  backstage: ['join_ahead_time_seconds'],
  frame_recording: ['capture_interval_in_seconds'],
  limits: ['max_duration_seconds', 'max_participants'],
  ring: ['auto_cancel_timeout_ms', 'incoming_call_timeout_ms', 'missed_call_timeout_ms'],
  session: ['inactivity_timeout_seconds'],
};

const ENUM_FIELDS: Record<string, Record<string, readonly string[]>> = {
  audio: { default_device: ['speaker', 'earpiece'] },
  video: { camera_facing: ['front', 'back', 'external'] },
  encryption: { mode: ['available', 'disabled', 'auto-on'] },
  recording: { mode: ['available', 'disabled', 'auto-on'], quality: QUALITIES },
  transcription: { mode: ['available', 'disabled', 'auto-on'], closed_caption_mode: ['available', 'disabled', 'auto-on'] },
  individual_recording: { mode: ['available', 'disabled', 'auto-on'] },
  raw_recording: { mode: ['available', 'disabled', 'auto-on'] },
  frame_recording: { mode: ['available', 'disabled', 'auto-on'] },
};

const KNOWN_GROUPS = new Set([
  'audio',
  'backstage',
  'broadcasting',
  'encryption',
  'frame_recording',
  'geofencing',
  'individual_recording',
  'ingress',
  'limits',
  'raw_recording',
  'recording',
  'ring',
  'screensharing',
  'session',
  'thumbnails',
  'transcription',
  'video',
]);

/** Validates a layout as sent in settings or a broadcast request. `partial`: name may be absent (merged later). */
export function validateLayout(value: unknown, field: string, partial: boolean): void {
  if (!isPlainObject(value)) throw badRequest(`${field} must be an object`);
  if (value.name === undefined) {
    if (!partial) throw badRequest(`${field}.name is required`);
  } else if (!isLayoutName(value.name)) {
    throw badRequest(`${field}.name must be one of ${LAYOUT_NAMES.join(', ')}`);
  }
  for (const key of ['external_app_url', 'external_css_url'] as const) {
    if (value[key] !== undefined && typeof value[key] !== 'string') throw badRequest(`${field}.${key} must be a string`);
    const problem = typeof value[key] === 'string' && value[key] !== '' ? layoutUrlProblem(value[key]) : undefined;
    if (problem) throw badRequest(`${field}.${key} ${problem}`);
  }
  if (value.detect_orientation !== undefined && typeof value.detect_orientation !== 'boolean') {
    throw badRequest(`${field}.detect_orientation must be a boolean`);
  }
  // Beyond Stream's LayoutSettings: the layout drawn while anyone shares a screen (layouts.md §3).
  if (value.screenshare_layout !== undefined && !isLayoutName(value.screenshare_layout)) {
    throw badRequest(`${field}.screenshare_layout must be one of ${LAYOUT_NAMES.join(', ')}`);
  }
  if (value.options !== undefined) {
    const r = validateLayoutOptions(value.options);
    if (!r.ok) throw badRequest(`${field}.options[${JSON.stringify(r.key)}]: ${r.message}`);
  }
}

function validateQuality(value: unknown, field: string): void {
  if (!isQuality(value)) throw badRequest(`${field} must be one of ${QUALITIES.join(', ')}`);
}

/** Validates a CallSettingsRequest (a partial settings patch). */
export function validateSettingsPatch(value: unknown, field: string): JsonObject {
  if (!isPlainObject(value)) throw badRequest(`${field} must be an object`);
  for (const [group, body] of Object.entries(value)) {
    const g = `${field}.${group}`;
    if (!KNOWN_GROUPS.has(group)) throw badRequest(`${g} is not a known settings group`);
    if (!isPlainObject(body)) throw badRequest(`${g} must be an object`);
    for (const k of BOOLEAN_FIELDS[group] ?? []) {
      if (body[k] !== undefined && typeof body[k] !== 'boolean') throw badRequest(`${g}.${k} must be a boolean`);
    }
    for (const k of NUMBER_FIELDS[group] ?? []) {
      if (body[k] !== undefined && (typeof body[k] !== 'number' || !Number.isFinite(body[k]) || (body[k] as number) < 0)) {
        throw badRequest(`${g}.${k} must be a non-negative number`);
      }
    }
    for (const [k, allowed] of Object.entries(ENUM_FIELDS[group] ?? {})) {
      if (body[k] !== undefined && (typeof body[k] !== 'string' || !allowed.includes(body[k] as string))) {
        throw badRequest(`${g}.${k} must be one of ${allowed.join(', ')}`);
      }
    }
    if (group === 'geofencing' && body.names !== undefined) {
      if (!Array.isArray(body.names) || !body.names.every((n) => typeof n === 'string'))
        throw badRequest(`${g}.names must be a list of strings`);
    }
    if (group === 'recording' && body.layout !== undefined) validateLayout(body.layout, `${g}.layout`, true);
    if (group === 'broadcasting') validateBroadcastingSettings(body, g);
  }
  return value;
}

function validateBroadcastingSettings(body: JsonObject, g: string): void {
  if (body.rtmp !== undefined) {
    const rtmp = body.rtmp;
    if (!isPlainObject(rtmp)) throw badRequest(`${g}.rtmp must be an object`);
    if (rtmp.enabled !== undefined && typeof rtmp.enabled !== 'boolean') throw badRequest(`${g}.rtmp.enabled must be a boolean`);
    if (rtmp.quality !== undefined) validateQuality(rtmp.quality, `${g}.rtmp.quality`);
    if (rtmp.layout !== undefined) validateLayout(rtmp.layout, `${g}.rtmp.layout`, true);
  }
  if (body.hls !== undefined) {
    const hls = body.hls;
    if (!isPlainObject(hls)) throw badRequest(`${g}.hls must be an object`);
    for (const k of ['enabled', 'auto_on']) {
      if (hls[k] !== undefined && typeof hls[k] !== 'boolean') throw badRequest(`${g}.hls.${k} must be a boolean`);
    }
    if (hls.quality_tracks !== undefined) {
      const tracks = hls.quality_tracks;
      if (!Array.isArray(tracks) || tracks.length < 1 || tracks.length > 3)
        throw badRequest(`${g}.hls.quality_tracks must hold 1 to 3 qualities`);
      tracks.forEach((t, i) => validateQuality(t, `${g}.hls.quality_tracks[${i}]`));
    }
    if (hls.layout !== undefined) validateLayout(hls.layout, `${g}.hls.layout`, true);
  }
}

/** Validates `grants`: role -> list of capabilities. */
export function validateGrants(value: unknown, field: string): Record<string, string[]> {
  if (!isPlainObject(value)) throw badRequest(`${field} must be an object`);
  for (const [role, caps] of Object.entries(value)) {
    if (!Array.isArray(caps)) throw badRequest(`${field}.${role} must be a list of capabilities`);
    caps.forEach((c, i) => {
      if (!isCapability(c)) throw badRequest(`${field}.${role}[${i}] is not a known capability: ${String(c)}`);
    });
  }
  return value as Record<string, string[]>;
}

export interface BroadcastRequest {
  name: string;
  streamUrl: string;
  streamKey: string;
  quality?: Quality;
  layout?: JsonObject;
}

const UNSAFE_NAME = /[/?#%\u0000-\u001f\u007f]/;

/** A broadcast name that can travel as one URL path segment. */
export function validateBroadcastName(name: unknown, field: string): string {
  if (typeof name !== 'string' || name === '') throw badRequest(`${field} must be a non-empty string`);
  if ([...name].length > 255) throw badRequest(`${field} must be at most 255 characters`);
  if (UNSAFE_NAME.test(name) || name === '.' || name === '..') {
    throw badRequest(`${field} must not contain '/', '?', '#', '%' or control characters, and must not be '.' or '..'`);
  }
  return name;
}

/** The longest stream key accepted (ingests use far shorter ones). */
export const MAX_STREAM_KEY_LENGTH = 512;

/** rtmp:// or rtmps:// with a host, at most 255 characters, without user:password@. */
export function validateStreamUrl(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') throw badRequest(`${field} must be a non-empty string`);
  if (value.length > 255) throw badRequest(`${field} must be at most 255 characters`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw badRequest(`${field} must be an rtmp:// or rtmps:// URL`);
  }
  if (url.protocol !== 'rtmp:' && url.protocol !== 'rtmps:') throw badRequest(`${field} must be an rtmp:// or rtmps:// URL`);
  if (!url.hostname) throw badRequest(`${field} must name a host`);
  // Credentials belong in the stream key, which is kept secret; a URL is shown to readers.
  if (url.username !== '' || url.password !== '' || /^rtmps?:\/\/[^/]*@/i.test(value))
    throw badRequest(`${field} must not carry user:password@ credentials`);
  return value;
}

/**
 * Refuses (400, naming the destination) a stream URL whose host is an address the destination
 * policy refuses as written (loopback, private, link-local, unspecified... in any IPv4 form, or
 * IPv6). Host names are checked on the address they resolve to when the session connects.
 */
export function checkDestination(policy: DestinationPolicy, streamUrl: string, field: string): void {
  let host: string;
  let port: number;
  try {
    ({ host, port } = parseRtmpTarget(streamUrl, 'key'));
  } catch {
    return; // malformed: reported by the engine with the parse error
  }
  const decision = policy.checkLiteral(host, port);
  if (decision && !decision.allowed) throw badRequest(`${field}: ${decision.reason}`);
}

/** Validates StartRTMPBroadcastsRequest and returns its one broadcast. */
export function parseStartBroadcasts(body: unknown): BroadcastRequest {
  if (!isPlainObject(body)) throw badRequest('body must be a JSON object');
  const list = body.broadcasts;
  if (!Array.isArray(list)) throw badRequest('broadcasts is required and must be a list');
  if (list.length !== 1) throw badRequest(`broadcasts must hold exactly one broadcast, got ${list.length}`);
  const b = list[0];
  if (!isPlainObject(b)) throw badRequest('broadcasts[0] must be an object');
  const name = validateBroadcastName(b.name, 'broadcasts[0].name');
  const streamUrl = validateStreamUrl(b.stream_url, 'broadcasts[0].stream_url');
  if (b.stream_key !== undefined && typeof b.stream_key !== 'string') throw badRequest('broadcasts[0].stream_key must be a string');
  if (typeof b.stream_key === 'string' && b.stream_key.length > MAX_STREAM_KEY_LENGTH) {
    throw badRequest(`broadcasts[0].stream_key must be at most ${MAX_STREAM_KEY_LENGTH} characters`);
  }
  const out: BroadcastRequest = { name, streamUrl, streamKey: (b.stream_key as string | undefined) ?? '' };
  if (b.quality !== undefined) {
    validateQuality(b.quality, 'broadcasts[0].quality');
    out.quality = b.quality as Quality;
  }
  if (b.layout !== undefined) {
    validateLayout(b.layout, 'broadcasts[0].layout', false);
    out.layout = b.layout as JsonObject;
  }
  return out;
}

/** What may change on a running RTMP broadcast (the PATCH of one broadcast). */
export interface BroadcastUpdate {
  layout?: JsonObject;
  /** Accepted only when it is the broadcast's quality already (a running quality cannot change). */
  quality?: Quality;
}

/** Validates the body of UpdateRTMPBroadcast (`{"layout": {...}}`). */
export function parseBroadcastUpdate(body: unknown): BroadcastUpdate {
  if (!isPlainObject(body)) throw badRequest('body must be a JSON object');
  for (const key of Object.keys(body)) {
    if (key !== 'layout' && key !== 'quality') throw badRequest(`${key} cannot be changed on a running broadcast (only layout can)`);
  }
  const out: BroadcastUpdate = {};
  if (body.quality !== undefined) {
    validateQuality(body.quality, 'quality');
    out.quality = body.quality as Quality;
  }
  if (body.layout !== undefined) {
    validateLayout(body.layout, 'layout', false);
    out.layout = body.layout as JsonObject;
  }
  if (out.layout === undefined && out.quality === undefined) throw badRequest('layout is required');
  return out;
}

/** Normalises a merged layout to LayoutSettings (empty strings for unset URLs). */
export function toLayoutSettings(value: unknown): LayoutSettings {
  const v = isPlainObject(value) ? value : {};
  const out: LayoutSettings = {
    name: isLayoutName(v.name) ? v.name : 'spotlight',
    external_app_url: typeof v.external_app_url === 'string' ? v.external_app_url : '',
    external_css_url: typeof v.external_css_url === 'string' ? v.external_css_url : '',
  };
  if (isPlainObject(v.options)) out.options = v.options;
  if (typeof v.detect_orientation === 'boolean') out.detect_orientation = v.detect_orientation;
  if (isLayoutName(v.screenshare_layout)) out.screenshare_layout = v.screenshare_layout;
  return out;
}

/** RFC3339 timestamp from a string (or epoch nanoseconds, as some SDKs send). */
export function parseTimestamp(value: unknown, field: string): string {
  if (typeof value === 'number' && Number.isFinite(value)) {
    const d = new Date(value / 1e6);
    if (!Number.isNaN(d.getTime())) return d.toISOString();
  }
  if (typeof value === 'string') {
    const d = new Date(value);
    if (!Number.isNaN(d.getTime()) && /^\d{4}-\d{2}-\d{2}T/.test(value)) return d.toISOString();
  }
  throw badRequest(`${field} must be an RFC3339 timestamp`);
}
