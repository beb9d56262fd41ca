/**
 * Table shapes as Kysely sees them. JSON columns are text; timestamps are RFC3339 text (they sort
 * as strings); booleans are 0/1 integers so both dialects read them the same way.
 */
export interface AppSettingsTable {
  id: number;
  webhook_url: string;
  /** JSON string[] */
  webhook_events: string;
  updated_at: string;
}

export interface UsersTable {
  id: string;
  role: string;
  name: string | null;
  image: string | null;
  /** JSON: custom, language, teams, invisible, teams_role, privacy_settings */
  data: string;
  /** Set when the user was soft-deleted: left out of user queries; an upsert restores the user. */
  deleted_at?: string | null;
  created_at: string;
  updated_at: string;
}

export interface CallTypesTable {
  name: string;
  /** JSON Record<role, capability[]> */
  grants: string;
  /** JSON CallSettingsResponse */
  settings: string;
  /** JSON NotificationSettingsResponse */
  notification_settings: string;
  external_storage: string | null;
  created_at: string;
  updated_at: string;
}

export interface CallsTable {
  cid: string;
  type: string;
  id: string;
  created_by_id: string;
  /** JSON object */
  custom: string;
  /** JSON partial CallSettings */
  settings_override: string;
  team: string | null;
  starts_at: string | null;
  ended_at: string | null;
  /** Set while the call is live (out of backstage); null otherwise. */
  live_started_at: string | null;
  /** Set when the call was soft-deleted: hidden from reads and queries, replaced by a new call of the same cid. */
  deleted_at?: string | null;
  created_at: string;
  updated_at: string;
}

export interface MembersTable {
  call_cid: string;
  user_id: string;
  role: string;
  /** JSON object */
  custom: string;
  created_at: string;
  updated_at: string;
}

export interface RtmpBroadcastsTable {
  call_cid: string;
  name: string;
  stream_url: string;
  stream_key: string;
  quality: string;
  /** JSON LayoutSettings */
  layout: string;
  /** 'request' | 'settings' (see BroadcastRecord) */
  layout_source: string;
  started_at: string;
}

export interface HlsBroadcastsTable {
  call_cid: string;
  /** The unguessable path segment the files are served under. */
  token: string;
  /** JSON Quality[] */
  qualities: string;
  /** JSON LayoutSettings */
  layout: string;
  /** 'starting' | 'live' | 'stopped' */
  status: string;
  started_at: string;
  stopped_at: string | null;
  /** Cluster mode: the node running it. */
  node_id: string | null;
  /** The master playlist URL as the node running it serves it. */
  playlist_url: string | null;
}

export interface RecordingsTable {
  id: string;
  call_cid: string;
  session_id: string;
  filename: string;
  storage_key: string;
  /** 'recording' | 'ready' | 'failed' */
  status: string;
  quality: string;
  /** JSON LayoutSettings */
  layout: string;
  part_path: string;
  start_time: string;
  end_time: string | null;
  error: string | null;
  /** Cluster mode: the node recording it. */
  node_id: string | null;
}

export interface WebhookOutboxTable {
  id: string;
  url: string;
  body: string;
  attempts: number;
  /** epoch ms (bigint in Postgres: read back as string) */
  next_attempt_at: number | string;
  created_at: number | string;
  /** 'pending' or 'dead' (parked after its retry horizon or a refusal; replayable). */
  status: string;
  /** The call's cid ('' for events of no call): deliveries of one key go out in seq order. */
  order_key: string;
  seq: number | string;
  /** epoch ms the retry horizon counts from (creation or replay) */
  retry_from: number | string;
  dead_at: number | string | null;
  last_error: string | null;
}

export interface Database {
  app_settings: AppSettingsTable;
  users: UsersTable;
  call_types: CallTypesTable;
  calls: CallsTable;
  members: MembersTable;
  rtmp_broadcasts: RtmpBroadcastsTable;
  webhook_outbox: WebhookOutboxTable;
  hls_broadcasts: HlsBroadcastsTable;
  recordings: RecordingsTable;
}
