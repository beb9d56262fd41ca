import type { WebhookDelivery, WebhookOutbox } from './contract.js';

/**
 * A webhook outbox kept in memory. It is not durable: it serves tests and documents the
 * semantics the store's durable outbox must have:
 * - `add` stores a copy; adding an id that exists replaces it;
 * - `due(now, limit)` returns deliveries with `nextAttemptAt <= now`, oldest (`createdAt`) first,
 *   then by id, at most `limit`;
 * - `reschedule` and `remove` of an unknown id do nothing (the delivery may have been removed
 *   concurrently).
 */
export class MemoryWebhookOutbox implements WebhookOutbox {
  private readonly deliveries = new Map<string, WebhookDelivery>();

  async add(delivery: WebhookDelivery): Promise<void> {
    this.deliveries.set(delivery.id, { ...delivery });
  }

  async due(now: number, limit: number): Promise<WebhookDelivery[]> {
    const due: WebhookDelivery[] = [];
    for (const d of this.deliveries.values()) if (d.nextAttemptAt <= now) due.push({ ...d });
    due.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return due.slice(0, Math.max(0, limit));
  }

  async reschedule(id: string, attempts: number, nextAttemptAt: number): Promise<void> {
    const d = this.deliveries.get(id);
    if (d) this.deliveries.set(id, { ...d, attempts, nextAttemptAt });
  }

  async remove(id: string): Promise<void> {
    this.deliveries.delete(id);
  }

  /** Copies of every stored delivery, oldest first (for inspection). */
  all(): WebhookDelivery[] {
    return [...this.deliveries.values()].map((d) => ({ ...d })).sort((a, b) => a.createdAt - b.createdAt);
  }

  get size(): number {
    return this.deliveries.size;
  }
}
