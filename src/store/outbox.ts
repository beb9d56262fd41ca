import type { Kysely } from 'kysely';
import type { WebhookDelivery, WebhookOutbox } from '../events/contract.js';
import type { Database } from './schema.js';

function toDelivery(row: Database['webhook_outbox']): WebhookDelivery {
  return {
    id: row.id,
    url: row.url,
    body: row.body,
    attempts: Number(row.attempts),
    nextAttemptAt: Number(row.next_attempt_at),
    createdAt: Number(row.created_at),
  };
}

/** The durable webhook outbox: pending deliveries survive a restart. */
export class KyselyWebhookOutbox implements WebhookOutbox {
  constructor(private readonly db: Kysely<Database>) {}

  async add(d: WebhookDelivery): Promise<void> {
    const row = {
      id: d.id,
      url: d.url,
      body: d.body,
      attempts: d.attempts,
      next_attempt_at: d.nextAttemptAt,
      created_at: d.createdAt,
    };
    await this.db
      .insertInto('webhook_outbox')
      .values(row)
      .onConflict((oc) => oc.column('id').doUpdateSet({ url: row.url, body: row.body, attempts: row.attempts, next_attempt_at: row.next_attempt_at, created_at: row.created_at }))
      .execute();
  }

  async due(now: number, limit: number): Promise<WebhookDelivery[]> {
    if (limit <= 0) return [];
    const rows = await this.db
      .selectFrom('webhook_outbox')
      .selectAll()
      .where('next_attempt_at', '<=', now)
      .orderBy('created_at')
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map(toDelivery);
  }

  async reschedule(id: string, attempts: number, nextAttemptAt: number): Promise<void> {
    await this.db.updateTable('webhook_outbox').set({ attempts, next_attempt_at: nextAttemptAt }).where('id', '=', id).execute();
  }

  async remove(id: string): Promise<void> {
    await this.db.deleteFrom('webhook_outbox').where('id', '=', id).execute();
  }
}
