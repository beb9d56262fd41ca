/** The store's domain records: rows with their JSON columns parsed. */
import type { LayoutSettings } from '../layout/settings.js';

import type { JsonObject } from '../wire/json.js';

export type { JsonObject };

export interface AppSettingsRecord {
  webhook_url: string;
  webhook_events: string[];
}

export interface UserRecord {
  id: string;
  role: string;
  name: string | null;
  image: string | null;
  custom: JsonObject;
  language: string;
  teams: string[];
  invisible: boolean;
  teams_role?: Record<string, string>;
  privacy_settings?: JsonObject;
  created_at: string;
  updated_at: string;
}

/** A user as first seen: role `user` unless `fields` say otherwise, nothing else set. */
export function newUserRecord(id: string, now: string, fields: Partial<Omit<UserRecord, 'id'>> = {}): UserRecord {
  return {
    id,
    role: 'user',
    name: null,
    image: null,
    custom: {},
    language: '',
    teams: [],
    invisible: false,
    created_at: now,
    updated_at: now,
    ...fields,
  };
}

export interface CallTypeRecord {
  name: string;
  grants: Record<string, string[]>;
  settings: JsonObject;
  notification_settings: JsonObject;
  external_storage: string | null;
  created_at: string;
  updated_at: string;
}

export interface CallRecord {
  cid: string;
  type: string;
  id: string;
  created_by_id: string;
  custom: JsonObject;
  settings_override: JsonObject;
  team: string | null;
  starts_at: string | null;
  ended_at: string | null;
  /** Set while the call is live (out of backstage). */
  live_started_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface MemberRecord {
  call_cid: string;
  user_id: string;
  role: string;
  custom: JsonObject;
  created_at: string;
  updated_at: string;
}

export interface BroadcastRecord {
  call_cid: string;
  name: string;
  stream_url: string;
  /** Secret: never log it. */
  stream_key: string;
  quality: string;
  layout: LayoutSettings;
  /**
   * Where the layout comes from: `request` (the start request's, or one set on the running
   * broadcast: kept) or `settings` (the call's RTMP settings: followed when they change).
   */
  layout_source: BroadcastLayoutSource;
  started_at: string;
}

export type BroadcastLayoutSource = 'request' | 'settings';

export type HlsStatus = 'starting' | 'live' | 'stopped';

/** A call's HLS broadcast (one per call); kept after it stops until its files are removed. */
export interface HlsRecord {
  call_cid: string;
  token: string;
  qualities: string[];
  layout: LayoutSettings;
  status: HlsStatus;
  started_at: string;
  stopped_at: string | null;
  /** Cluster mode: the node running it. */
  node_id?: string | null;
  /** The master playlist URL as the node running it serves it. */
  playlist_url?: string | null;
}

export type RecordingStatus = 'recording' | 'ready' | 'failed';

/** A composite recording: running (`recording`), finished into storage (`ready`), or `failed`. */
export interface RecordingRecord {
  id: string;
  call_cid: string;
  session_id: string;
  filename: string;
  /** Where the finished file is in the recordings storage. */
  storage_key: string;
  status: RecordingStatus;
  quality: string;
  layout: LayoutSettings;
  /** The fragmented MP4 written while recording (finished at stop or at the next start). */
  part_path: string;
  start_time: string;
  end_time: string | null;
  error: string | null;
  /** Cluster mode: the node recording it. */
  node_id?: string | null;
}

/** Filter over calls, compiled from Stream's filter_conditions (src/calls/query.ts). */
export type CallColumn = 'id' | 'cid' | 'type' | 'created_by_id' | 'created_at' | 'updated_at' | 'ended_at' | 'starts_at' | 'team';
export type CompareOp = '$eq' | '$ne' | '$gt' | '$gte' | '$lt' | '$lte' | '$in' | '$nin';
export type CallFilter =
  | { kind: 'and' | 'or'; items: CallFilter[] }
  | { kind: 'compare'; column: CallColumn; op: CompareOp; value: string | string[] }
  | { kind: 'exists'; column: CallColumn; exists: boolean }
  | { kind: 'members'; userIds: string[] }
  /**
   * Stream's `ongoing`: a call that has not ended and has participants (a live session: `liveCids`,
   * known to the control plane, not the store), an active RTMP broadcast or a running HLS broadcast;
   * false: every other call.
   */
  | { kind: 'ongoing'; value: boolean; liveCids?: string[] }
  /** The call's `backstage` as its response shows it: backstage enabled (override, else type) and not live. */
  | { kind: 'backstage'; value: boolean }
  | { kind: 'custom'; path: string[]; op: '$eq' | '$ne' | '$in'; value: Array<string | number | boolean> };

export interface CallSort {
  column: CallColumn;
  direction: 1 | -1;
}

export interface CallQuery {
  filter: CallFilter | null;
  sort: CallSort[];
  limit: number;
  offset: number;
}

export interface UserQuery {
  ids?: string[];
  role?: string;
  /** `$eq` / `$in`: exact names; `$autocomplete`: a word of the name starts with the text (case-insensitive). */
  name?: { op: '$eq' | '$in' | '$autocomplete'; value: string[] };
  /** Conditions on `custom.<path>` (all must hold). */
  custom?: Array<{ path: string[]; op: '$eq' | '$ne' | '$in'; value: Array<string | number | boolean> }>;
  sort: Array<{ field: 'id' | 'created_at' | 'updated_at' | 'name' | 'role'; direction: 1 | -1 }>;
  limit: number;
  offset: number;
}
