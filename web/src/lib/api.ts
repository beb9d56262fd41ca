/**
 * A small client of Callcast's Stream-compatible REST API, as a browser application calls it:
 * same origin, the `/video` prefix, `api_key` in the query, the JWT in `Authorization` and
 * `stream-auth-type: jwt`. Errors carry the API's own message, unchanged.
 */

import type { DeadDeliveryView } from '../../../src/events/dead-deliveries.js';

export interface ApiCredentials {
  apiKey: string;
  token: string;
}

/** An error answered by the API (Stream's APIError shape) or a transport failure. */
export class ApiRequestError extends Error {
  override name = 'ApiRequestError';
  constructor(
    message: string,
    readonly status: number,
    readonly code: number | null,
  ) {
    super(message);
  }
}

/** What to show for a thrown value: an Error's message, or the value as text. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The message to show for a failed response body: the API's `message`, as worded by the API. */
export function apiErrorMessage(status: number, body: unknown): string {
  if (body && typeof body === 'object' && typeof (body as { message?: unknown }).message === 'string') {
    return (body as { message: string }).message;
  }
  return `request failed with HTTP ${status}`;
}

export function withApiKey(path: string, apiKey: string): string {
  return `${path}${path.includes('?') ? '&' : '?'}api_key=${encodeURIComponent(apiKey)}`;
}

export function callPath(type: string, id: string): string {
  return `/video/call/${encodeURIComponent(type)}/${encodeURIComponent(id)}`;
}

export interface BroadcastStartInput {
  name: string;
  stream_url: string;
  stream_key?: string;
  quality?: string;
  layout?: { name: string; options?: Record<string, unknown> };
}

export class ApiClient {
  constructor(
    private readonly creds: ApiCredentials,
    private readonly base = '',
  ) {}

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { Authorization: this.creds.token, 'stream-auth-type': 'jwt', ...extra };
  }

  url(path: string): string {
    return `${this.base}${withApiKey(path, this.creds.apiKey)}`;
  }

  async request<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
    const init: RequestInit = { method, headers: this.headers({ 'Content-Type': 'application/json' }) };
    if (body !== undefined) init.body = JSON.stringify(body);
    let res: Response;
    try {
      res = await fetch(this.url(path), init);
    } catch (err) {
      throw new ApiRequestError(`the server could not be reached (${messageOf(err)})`, 0, null);
    }
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      parsed = null;
    }
    if (!res.ok) {
      const code = parsed && typeof (parsed as { code?: unknown }).code === 'number' ? (parsed as { code: number }).code : null;
      throw new ApiRequestError(apiErrorMessage(res.status, parsed), res.status, code);
    }
    return (parsed ?? {}) as T;
  }

  getCall(type: string, id: string): Promise<CallState> {
    return this.request<CallState>('GET', callPath(type, id));
  }

  getOrCreateCall(type: string, id: string): Promise<CallState> {
    return this.request<CallState>('POST', callPath(type, id), {});
  }

  queryCalls(limit = 25): Promise<{ calls: CallState[]; next?: string }> {
    return this.request('POST', '/video/calls', { limit, sort: [{ field: 'created_at', direction: -1 }] });
  }

  startBroadcast(type: string, id: string, broadcast: BroadcastStartInput): Promise<unknown> {
    return this.request('POST', `${callPath(type, id)}/rtmp_broadcasts`, { broadcasts: [broadcast] });
  }

  stopBroadcast(type: string, id: string, name: string): Promise<unknown> {
    return this.request('POST', `${callPath(type, id)}/rtmp_broadcasts/${encodeURIComponent(name)}/stop`, {});
  }

  stopAllBroadcasts(type: string, id: string): Promise<unknown> {
    return this.request('POST', `${callPath(type, id)}/rtmp_broadcasts/stop`);
  }

  broadcastDetails(type: string, id: string, name: string): Promise<{ broadcast: BroadcastDetails }> {
    return this.request('GET', `${callPath(type, id)}/rtmp_broadcasts/${encodeURIComponent(name)}`);
  }

  /** Dead (parked) webhook deliveries, oldest first (server token or admin user). */
  deadWebhooks(limit = 100): Promise<{ total: number; deliveries: DeadDeliveryJson[] }> {
    return this.request('GET', `/video/webhooks/dead?limit=${limit}`);
  }

  /** Queues dead deliveries again: one by id, or all; how many. */
  replayDeadWebhooks(selection: { id: string } | { all: true }): Promise<{ replayed: number }> {
    return this.request('POST', '/video/webhooks/dead/replay', selection);
  }

  /** The cluster's live nodes (server token or admin user); `cluster: false` when the server runs alone. */
  cluster(): Promise<ClusterJson> {
    return this.request<ClusterJson>('GET', '/video/cluster');
  }

  /** The composed picture of a broadcast as a JPEG blob, or null while there is none yet; `signal` aborts the request. */
  async preview(type: string, id: string, name: string, signal?: AbortSignal): Promise<Blob | null> {
    const res = await fetch(this.url(`${callPath(type, id)}/rtmp_broadcasts/${encodeURIComponent(name)}/preview.jpg`), {
      headers: this.headers(),
      ...(signal ? { signal } : {}),
    });
    if (res.status === 404 || res.status === 204) return null;
    if (!res.ok) {
      let body: unknown = null;
      try {
        body = await res.json();
      } catch {
        body = null;
      }
      throw new ApiRequestError(apiErrorMessage(res.status, body), res.status, null);
    }
    return res.blob();
  }
}

// ---- wire models (the parts the pages read) --------------------------------------------------

/** GET /video/webhooks/dead (beyond Stream's API): one dead delivery as the server shows it. */
export type DeadDeliveryJson = DeadDeliveryView;

/** GET /video/cluster (beyond Stream's API; src/cluster/status.ts). */
export interface ClusterJson {
  /** False on a server that runs alone (then `node` is null and `nodes` empty). */
  cluster: boolean;
  /** The node that answered. */
  node: string | null;
  nodes: Array<{
    id: string;
    url: string;
    /** Share of the node's machine, 0..1; null until measured. */
    cpu: number | null;
    groups: number;
    participants: number;
    calls: number;
    /** Why it takes no new call, or null. */
    full: string | null;
    draining: boolean;
    updated_at: string;
  }>;
}

export interface UserJson {
  id: string;
  name?: string;
  image?: string;
  role?: string;
}

export interface SessionParticipantJson {
  user_session_id: string;
  user: UserJson;
  role?: string;
  joined_at?: string;
  is_speaking?: boolean;
  is_dominant_speaker?: boolean;
  /** `audio`, `video`, `screen_share`, `screen_share_audio`: what the session sends. */
  published_tracks?: string[];
}

export interface RtmpJson {
  name: string;
  stream_url: string;
  stream_key?: string;
  started_at?: string;
}

/** A layout as the API answers it (the parts the pages read). */
export interface LayoutJson {
  name: string;
  options?: Record<string, unknown>;
  screenshare_layout?: string;
}

export interface CallJson {
  type: string;
  id: string;
  cid: string;
  created_at?: string;
  ended_at?: string | null;
  created_by?: UserJson;
  settings?: { broadcasting?: Record<string, unknown> } & Record<string, unknown>;
  egress?: { broadcasting?: boolean; rtmps?: RtmpJson[]; hls?: { playlist_url: string; status: string } };
  session?: { participants?: SessionParticipantJson[] } | null;
}

export interface MemberJson {
  user_id: string;
  user?: UserJson;
  role?: string;
}

export interface CallState {
  call: CallJson;
  members?: MemberJson[];
  own_capabilities?: string[];
}

export interface BroadcastStatsJson {
  name: string;
  state: 'connecting' | 'live' | 'reconnecting' | 'failed' | 'stopped';
  bytesSent: number;
  bitrate: number;
  reconnects: number;
  lastError: string | null;
  liveSince: string | null;
}

export interface BroadcastDetails {
  name: string;
  stream_url: string;
  started_at?: string;
  quality?: string;
  layout?: LayoutJson;
  /** Where the layout comes from: the call's settings (followed) or the broadcast's own. */
  layout_source?: 'settings' | 'request';
  stats: BroadcastStatsJson | null;
}
