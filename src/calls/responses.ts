/**
 * Wire models (Stream's UserResponse, MemberResponse, CallResponse, CallTypeResponse) built from
 * store records. Pure functions.
 */
import type { DestinationStats } from '../egress/contract.js';
import {
  newUserRecord,
  type BroadcastRecord,
  type CallRecord,
  type CallTypeRecord,
  type MemberRecord,
  type UserRecord,
} from '../store/records.js';
import type { JsonObject } from '../wire/json.js';
import { effectiveSettings } from './settings.js';

export function userResponse(u: UserRecord): JsonObject {
  const out: JsonObject = {
    id: u.id,
    role: u.role,
    language: u.language,
    custom: u.custom,
    teams: u.teams,
    created_at: u.created_at,
    updated_at: u.updated_at,
    banned: false,
    online: false,
    shadow_banned: false,
    invisible: u.invisible,
    blocked_user_ids: [],
  };
  if (u.name !== null) out.name = u.name;
  if (u.image !== null) out.image = u.image;
  if (u.teams_role) out.teams_role = u.teams_role;
  if (u.privacy_settings) out.privacy_settings = u.privacy_settings;
  return out;
}

export function fullUserResponse(u: UserRecord): JsonObject {
  return {
    ...userResponse(u),
    devices: [],
    mutes: [],
    channel_mutes: [],
    unread_count: 0,
    total_unread_count: 0,
    unread_channels: 0,
    unread_threads: 0,
  };
}

/** A placeholder for a user row that is missing (should not happen: users are ensured on reference). */
export function unknownUser(id: string, now: string): UserRecord {
  return newUserRecord(id, now);
}

export function memberResponse(m: MemberRecord, user: UserRecord): JsonObject {
  return {
    user_id: m.user_id,
    user: userResponse(user),
    custom: m.custom,
    role: m.role,
    created_at: m.created_at,
    updated_at: m.updated_at,
  };
}

/**
 * `call.egress`. Each active broadcast also carries its live `stats` (state, bytes and frames sent,
 * bitrate, reconnects, last error) when the engine has them: a field beyond Stream's model, which
 * its clients ignore.
 */
export function egressResponse(
  broadcasts: BroadcastRecord[],
  stats: readonly DestinationStats[] = [],
  hls: { playlist_url: string; status: string } | null = null,
  recording: { status: string } | null = null,
): JsonObject {
  return {
    // True while HLS or any RTMP broadcast runs.
    broadcasting: broadcasts.length > 0 || hls !== null,
    ...(hls ? { hls: { ...hls } } : {}),
    ...(recording ? { composite_recording: { ...recording } } : {}),
    rtmps: broadcasts.map((b) => {
      const entry: JsonObject = { name: b.name, stream_url: b.stream_url, stream_key: b.stream_key, started_at: b.started_at };
      const s = stats.find((x) => x.name === b.name);
      if (s) entry.stats = { ...s };
      return entry;
    }),
  };
}

export function ingressResponse(publicUrl: string, type: string, id: string): JsonObject {
  return {
    rtmp: { address: '' },
    srt: { address: '' },
    whip: { address: `${publicUrl}/api/v2/video/call/${encodeURIComponent(type)}/${encodeURIComponent(id)}/whip` },
  };
}

export interface CallView {
  call: CallRecord;
  callType: CallTypeRecord;
  createdBy: UserRecord;
  broadcasts: BroadcastRecord[];
  publicUrl: string;
  /** The call's live session (CallSessionResponse) while anyone is in it. */
  session?: JsonObject & { id: string };
  /** Live stats of the call's destinations. */
  stats?: readonly DestinationStats[];
  /** The call's running HLS broadcast (`egress.hls`), if any. */
  hls?: { playlist_url: string; status: string } | null;
  /** The call's running composite recording (`recording`, `egress.composite_recording`), if any. */
  recording?: { status: string } | null;
}

export function callResponse(v: CallView): JsonObject {
  const settings = effectiveSettings(v.callType.settings, v.call.settings_override);
  const backstage = settings.backstage as { enabled?: unknown } | undefined;
  const out: JsonObject = {
    type: v.call.type,
    id: v.call.id,
    cid: v.call.cid,
    current_session_id: '',
    created_by: userResponse(v.createdBy),
    custom: v.call.custom,
    created_at: v.call.created_at,
    updated_at: v.call.updated_at,
    ended_at: v.call.ended_at,
    recording: v.recording != null,
    transcribing: false,
    captioning: false,
    translating: false,
    backstage: backstage?.enabled === true && v.call.live_started_at === null,
    blocked_user_ids: [],
    settings,
    egress: egressResponse(v.broadcasts, v.stats, v.hls ?? null, v.recording ?? null),
    ingress: ingressResponse(v.publicUrl, v.call.type, v.call.id),
  };
  if (v.call.starts_at !== null) out.starts_at = v.call.starts_at;
  if (v.call.team !== null) out.team = v.call.team;
  if (v.session) {
    out.session = v.session;
    out.current_session_id = v.session.id;
  }
  return out;
}

export function callTypeResponse(t: CallTypeRecord): JsonObject {
  const out: JsonObject = {
    name: t.name,
    created_at: t.created_at,
    updated_at: t.updated_at,
    grants: t.grants,
    settings: t.settings,
    notification_settings: t.notification_settings,
  };
  if (t.external_storage !== null) out.external_storage = t.external_storage;
  return out;
}
