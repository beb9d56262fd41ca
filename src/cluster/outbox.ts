/**
 * The webhook outbox as several nodes share it: `due` claims (src/store/outbox.ts `claimDue`), so
 * each delivery is sent by one node, whichever produced it. A node that dies mid-request leaves
 * its claim to run out; the delivery is then sent by another node (at least once, with the same
 * X-WEBHOOK-ID, so a receiver can drop a repeat).
 */
import type { WebhookDelivery, WebhookOutbox } from '../events/contract.js';
import type { KyselyWebhookOutbox } from '../store/outbox.js';

/** How long a claimed delivery is not due for other nodes: longer than any request takes. */
export const CLAIM_MS = 60_000;

export function claimingOutbox(outbox: KyselyWebhookOutbox, claimMs = CLAIM_MS): WebhookOutbox {
  return {
    claims: true,
    add: (d) => outbox.add(d),
    due: (now: number, limit: number): Promise<WebhookDelivery[]> => outbox.claimDue(now, limit, claimMs),
    reschedule: (id, attempts, at) => outbox.reschedule(id, attempts, at),
    remove: (id) => outbox.remove(id),
    markDead: (id, attempts, deadAt, reason) => outbox.markDead(id, attempts, deadAt, reason),
    listDead: (limit) => outbox.listDead(limit),
    countDead: () => outbox.countDead(),
    replayDead: (selection, now) => outbox.replayDead(selection, now),
  };
}
