/**
 * The console's view of a call's broadcasts: the active list from `call.egress.rtmps`, live stats
 * from the broadcast details endpoint, and state changes from the WebSocket events. Pure.
 */
import type { BroadcastStatsJson, RtmpJson } from './api.js';

export type BroadcastStatus = 'connecting' | 'live' | 'reconnecting' | 'failed' | 'stopped';

export interface BroadcastView {
  name: string;
  streamUrl: string;
  startedAt: string | null;
  status: BroadcastStatus;
  bytesSent: number;
  bitrate: number;
  reconnects: number;
  lastError: string | null;
  liveSince: string | null;
  /** False once the broadcast left `egress.rtmps` (failed or stopped); kept to show why. */
  active: boolean;
}

export type BroadcastMap = ReadonlyMap<string, BroadcastView>;

function fresh(r: RtmpJson): BroadcastView {
  return {
    name: r.name,
    streamUrl: r.stream_url,
    startedAt: r.started_at ?? null,
    status: 'connecting',
    bytesSent: 0,
    bitrate: 0,
    reconnects: 0,
    lastError: null,
    liveSince: null,
    active: true,
  };
}

/** Syncs with the call's `egress.rtmps`: new ones appear, missing ones become inactive. */
export function syncWithEgress(map: BroadcastMap, rtmps: RtmpJson[] | undefined): Map<string, BroadcastView> {
  const out = new Map<string, BroadcastView>();
  const list = Array.isArray(rtmps) ? rtmps : [];
  for (const r of list) {
    const prev = map.get(r.name);
    // An inactive entry still listed is one being stopped (or a stale answer): it stays inactive
    // until the user starts that name again (which drops the entry first).
    if (prev) out.set(r.name, prev.active ? { ...prev, streamUrl: r.stream_url, startedAt: r.started_at ?? prev.startedAt } : prev);
    else out.set(r.name, fresh(r));
  }
  for (const [name, v] of map) {
    if (out.has(name)) continue;
    if (v.active) out.set(name, { ...v, active: false, status: v.status === 'failed' ? 'failed' : 'stopped', bitrate: 0 });
    else out.set(name, v);
  }
  return out;
}

export function applyStats(map: BroadcastMap, stats: BroadcastStatsJson): Map<string, BroadcastView> {
  const out = new Map(map);
  const prev = out.get(stats.name);
  if (!prev || !prev.active) return out;
  out.set(stats.name, {
    ...prev,
    status: stats.state,
    bytesSent: stats.bytesSent,
    bitrate: stats.bitrate,
    reconnects: stats.reconnects,
    lastError: stats.lastError,
    liveSince: stats.liveSince,
  });
  return out;
}

export function applyBroadcastEvent(map: BroadcastMap, event: Record<string, unknown>): Map<string, BroadcastView> {
  const out = new Map(map);
  const name = typeof event.name === 'string' ? event.name : null;
  if (!name) return out;
  const prev = out.get(name);
  const reason = typeof event.error === 'string' ? event.error : typeof event.reason === 'string' ? event.reason : null;
  switch (event.type) {
    case 'call.rtmp_broadcast_started':
      if (prev && prev.active)
        out.set(name, { ...prev, status: 'live', liveSince: prev.liveSince ?? (event.created_at as string) ?? null });
      // Started again (elsewhere) under a name shown as ended: show it afresh.
      else if (prev && prev.status !== 'stopped')
        out.set(name, {
          ...prev,
          active: true,
          status: 'live',
          lastError: null,
          reconnects: 0,
          bytesSent: 0,
          liveSince: (event.created_at as string) ?? null,
        });
      break;
    case 'call.rtmp_broadcast_failed':
      if (prev) out.set(name, { ...prev, status: 'failed', active: false, bitrate: 0, lastError: reason ?? prev.lastError });
      break;
    case 'call.rtmp_broadcast_stopped':
      if (prev) out.set(name, { ...prev, status: 'stopped', active: false, bitrate: 0 });
      break;
    default:
      break;
  }
  return out;
}

/** Removes inactive entries (after the user dismisses them or starts one with the same name). */
export function dropInactive(map: BroadcastMap, name?: string): Map<string, BroadcastView> {
  const out = new Map(map);
  for (const [n, v] of out) if (!v.active && (name === undefined || n === name)) out.delete(n);
  return out;
}

/** Marks broadcasts as being stopped on request (all when no name): no more stats or previews. */
export function markStopping(map: BroadcastMap, name?: string): Map<string, BroadcastView> {
  const out = new Map(map);
  for (const [n, v] of out) {
    if (v.active && (name === undefined || n === name)) out.set(n, { ...v, active: false, status: 'stopped', bitrate: 0 });
  }
  return out;
}
