import type { DeadWebhookDelivery, ReplaySelection, WebhookDelivery, WebhookOutbox } from './contract.js';

type Stored = WebhookDelivery & { dead?: { deadAt: number; reason: string } };

function bySeq(a: WebhookDelivery, b: WebhookDelivery): number {
  return a.seq - b.seq || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * A webhook outbox kept in memory. It is not durable: it serves tests and documents the
 * semantics the store's durable outbox must have:
 * - `add` stores a copy; adding an id that exists replaces it (as pending);
 * - `due(now, limit)` returns, in seq order, the pending deliveries with `nextAttemptAt <= now`
 *   that are the oldest pending delivery of their order key (a later one of the same key waits);
 * - `markDead` parks a delivery: it stays, but is no longer pending;
 * - `reschedule`, `remove`, `markDead` of an unknown id do nothing (the delivery may have been
 *   removed concurrently).
 */
export class MemoryWebhookOutbox implements WebhookOutbox {
  private readonly deliveries = new Map<string, Stored>();

  async add(delivery: WebhookDelivery): Promise<void> {
    this.deliveries.set(delivery.id, { ...delivery });
  }

  async due(now: number, limit: number): Promise<WebhookDelivery[]> {
    const heads = new Map<string, Stored>();
    for (const d of [...this.deliveries.values()].sort(bySeq)) {
      if (d.dead || heads.has(d.orderKey)) continue;
      heads.set(d.orderKey, d);
    }
    return [...heads.values()]
      .filter((d) => d.nextAttemptAt <= now)
      .sort(bySeq)
      .slice(0, Math.max(0, limit))
      .map(strip);
  }

  async reschedule(id: string, attempts: number, nextAttemptAt: number): Promise<void> {
    const d = this.deliveries.get(id);
    if (d) this.deliveries.set(id, { ...d, attempts, nextAttemptAt });
  }

  async remove(id: string): Promise<void> {
    this.deliveries.delete(id);
  }

  async markDead(id: string, attempts: number, deadAt: number, reason: string): Promise<void> {
    const d = this.deliveries.get(id);
    if (d) this.deliveries.set(id, { ...d, attempts, dead: { deadAt, reason } });
  }

  async listDead(limit: number): Promise<DeadWebhookDelivery[]> {
    return [...this.deliveries.values()]
      .filter((d) => d.dead)
      .sort(bySeq)
      .slice(0, Math.max(0, limit))
      .map((d) => ({ ...strip(d), deadAt: d.dead!.deadAt, reason: d.dead!.reason }));
  }

  async countDead(): Promise<number> {
    return [...this.deliveries.values()].filter((d) => d.dead).length;
  }

  async replayDead(selection: ReplaySelection, now: number): Promise<number> {
    let n = 0;
    for (const d of this.deliveries.values()) {
      if (!d.dead || ('id' in selection && selection.id !== d.id)) continue;
      this.deliveries.set(d.id, { ...strip(d), attempts: 0, nextAttemptAt: now, retryFrom: now });
      n++;
    }
    return n;
  }

  /** Copies of every pending delivery, in seq order (for inspection). */
  all(): WebhookDelivery[] {
    return [...this.deliveries.values()]
      .filter((d) => !d.dead)
      .map(strip)
      .sort(bySeq);
  }

  /** Pending deliveries (dead ones are counted by countDead). */
  get size(): number {
    return [...this.deliveries.values()].filter((d) => !d.dead).length;
  }
}

function strip(d: Stored): WebhookDelivery {
  const { dead: _dead, ...rest } = d;
  return { ...rest };
}
