/**
 * How a dead (parked) webhook delivery is shown to operators (the CLI, the API, the console):
 * its id, event type, call, the receiver's address without its query (which may hold a secret),
 * attempts and reason. Never its body. Pure.
 */
import type { DeadWebhookDelivery } from './contract.js';
import { redactUrl } from './webhook-url.js';

export interface DeadDeliveryView {
  id: string;
  event_type: string;
  /** The call the event is about; null for events of no call. */
  call_cid: string | null;
  /** Scheme, host and path of the receiver. */
  url: string;
  attempts: number;
  reason: string;
  created_at: string;
  dead_at: string;
}

/** The event's `type`, or "?" when the body is not an event. */
export function eventTypeOf(body: string): string {
  try {
    const t = (JSON.parse(body) as { type?: unknown }).type;
    return typeof t === 'string' ? t : '?';
  } catch {
    return '?';
  }
}

export function deadDeliveryView(d: DeadWebhookDelivery): DeadDeliveryView {
  return {
    id: d.id,
    event_type: eventTypeOf(d.body),
    call_cid: d.orderKey || null,
    url: redactUrl(d.url),
    attempts: d.attempts,
    reason: d.reason,
    created_at: new Date(d.createdAt).toISOString(),
    dead_at: new Date(d.deadAt).toISOString(),
  };
}

/** "1 dead delivery", "3 dead deliveries". */
export function deliveries(n: number, what = ''): string {
  return `${n} ${what}${what ? ' ' : ''}deliver${n === 1 ? 'y' : 'ies'}`;
}
