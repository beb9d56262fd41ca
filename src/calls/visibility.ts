/**
 * Who sees a call's broadcast secrets. Stream keys (and the details of a destination's last
 * error, which tell open, closed and non-RTMP ports apart) go only to the operator audience:
 * server tokens and principals that may start or stop broadcasts in the call. Everyone else who
 * may read the call gets each `egress.rtmps[]` entry without `stream_key` (optional in Stream's
 * model) and without `stats.lastError`. One pure shaping function per wire shape; the call views
 * (REST) and the event WebSocket both use them. Webhooks go to the operator and are not shaped.
 */
import type { CallAudience } from '../events/contract.js';
import type { JsonObject } from '../wire/json.js';

export type { CallAudience } from '../events/contract.js';

/** The audience of a principal holding these capabilities in the call (a server token holds all). */
export function audienceOf(capabilities: readonly string[]): CallAudience {
  return capabilities.includes('start-broadcast-call') || capabilities.includes('stop-broadcast-call') ? 'operator' : 'viewer';
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A broadcast entry (`egress.rtmps[]` or GetRTMPBroadcast's `broadcast`) as the audience sees it. */
export function broadcastForAudience<T extends JsonObject>(entry: T, audience: CallAudience): T {
  if (audience === 'operator') return entry;
  const { stream_key: _key, ...rest } = entry;
  const out = rest as JsonObject;
  if (isObject(entry.stats)) {
    const { lastError: _error, ...stats } = entry.stats;
    out.stats = stats;
  }
  return out as T;
}

/** A CallResponse as the audience sees it (a copy when anything is removed). */
export function callForAudience<T extends JsonObject>(call: T, audience: CallAudience): T {
  if (audience === 'operator') return call;
  const egress = call.egress;
  if (!isObject(egress) || !Array.isArray(egress.rtmps)) return call;
  const rtmps = egress.rtmps.map((r) => (isObject(r) ? broadcastForAudience(r, audience) : r));
  return { ...call, egress: { ...egress, rtmps } };
}

/**
 * An event as the audience sees it: its `call` shaped, and a failed broadcast's `error` (the
 * destination's reason) left out for viewers.
 */
export function eventForAudience<T extends Record<string, unknown>>(event: T, audience: CallAudience): T {
  if (audience === 'operator') return event;
  let out: Record<string, unknown> = event;
  if (isObject(event.call)) out = { ...out, call: callForAudience(event.call, audience) };
  if (event.type === 'call.rtmp_broadcast_failed' && 'error' in event) {
    const { error: _error, ...rest } = out;
    out = rest;
  }
  return out as T;
}
