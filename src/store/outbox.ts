import { sql, type Kysely } from 'kysely';
import type { DeadWebhookDelivery, ReplaySelection, WebhookDelivery, WebhookOutbox } from '../events/contract.js';
import type { Database } from './schema.js';

const PENDING = 'pending';
const DEAD = 'dead';

function toDelivery(row: Database['webhook_outbox']): WebhookDelivery {
  return {
    id: row.id,
    url: row.url,
    body: row.body,
    attempts: Number(row.attempts),
    nextAttemptAt: Number(row.next_attempt_at),
    createdAt: Number(row.created_at),
    orderKey: row.order_key,
    seq: Number(row.seq),
    retryFrom: Number(row.retry_from),
  };
}

/**
 * The durable webhook outbox: deliveries survive a restart; parked (dead) ones stay until they are
 * replayed. See MemoryWebhookOutbox for the semantics.
 */
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
      status: PENDING,
      order_key: d.orderKey,
      seq: d.seq,
      retry_from: d.retryFrom,
      dead_at: null,
      last_error: null,
    };
    const { id: _id, ...update } = row;
    await this.db
      .insertInto('webhook_outbox')
      .values(row)
      .onConflict((oc) => oc.column('id').doUpdateSet(update))
      .execute();
  }

  async due(now: number, limit: number): Promise<WebhookDelivery[]> {
    if (limit <= 0) return [];
    const rows = await this.db
      .selectFrom('webhook_outbox as o')
      .selectAll()
      .where('o.status', '=', PENDING)
      .where('o.next_attempt_at', '<=', now)
      // Only the head of each order key: no pending delivery of the same key comes before it.
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('webhook_outbox as p')
              .select('p.id')
              .where('p.status', '=', PENDING)
              .whereRef('p.order_key', '=', 'o.order_key')
              .where((eb) =>
                eb.or([eb('p.seq', '<', eb.ref('o.seq')), eb.and([eb('p.seq', '=', eb.ref('o.seq')), eb('p.id', '<', eb.ref('o.id'))])]),
              ),
          ),
        ),
      )
      .orderBy('o.seq')
      .orderBy('o.id')
      .limit(limit)
      .execute();
    return rows.map(toDelivery);
  }

  /**
   * PostgreSQL, several nodes: the due deliveries (as `due` picks them), claimed for `leaseMs`
   * (their next attempt moves to the end of the claim, so no other dispatcher takes them meanwhile;
   * the outcome then reschedules, removes or parks them). `FOR UPDATE SKIP LOCKED`: a row another
   * claim is taking is skipped, and one it took is no longer due when it is read again.
   */
  async claimDue(now: number, limit: number, leaseMs: number): Promise<WebhookDelivery[]> {
    if (limit <= 0) return [];
    const res = await sql<Database['webhook_outbox']>`
      update webhook_outbox set next_attempt_at = ${now + leaseMs}
      where id in (
        select o.id from webhook_outbox o
        where o.status = ${PENDING} and o.next_attempt_at <= ${now}
          and not exists (
            select 1 from webhook_outbox p
            where p.status = ${PENDING} and p.order_key = o.order_key
              and (p.seq < o.seq or (p.seq = o.seq and p.id < o.id)))
        order by o.seq, o.id
        limit ${limit}
        for update of o skip locked)
      returning *`.execute(this.db);
    return res.rows.map(toDelivery).sort((a, b) => a.seq - b.seq || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async reschedule(id: string, attempts: number, nextAttemptAt: number): Promise<void> {
    await this.db.updateTable('webhook_outbox').set({ attempts, next_attempt_at: nextAttemptAt }).where('id', '=', id).execute();
  }

  async remove(id: string): Promise<void> {
    await this.db.deleteFrom('webhook_outbox').where('id', '=', id).execute();
  }

  async markDead(id: string, attempts: number, deadAt: number, reason: string): Promise<void> {
    await this.db
      .updateTable('webhook_outbox')
      .set({ status: DEAD, attempts, dead_at: deadAt, last_error: reason.slice(0, 1000) })
      .where('id', '=', id)
      .execute();
  }

  async listDead(limit: number): Promise<DeadWebhookDelivery[]> {
    const rows = await this.db
      .selectFrom('webhook_outbox')
      .selectAll()
      .where('status', '=', DEAD)
      .orderBy('seq')
      .orderBy('id')
      .limit(Math.max(0, limit))
      .execute();
    return rows.map((row) => ({ ...toDelivery(row), deadAt: Number(row.dead_at ?? 0), reason: row.last_error ?? '' }));
  }

  async countDead(): Promise<number> {
    const row = await this.db
      .selectFrom('webhook_outbox')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('status', '=', DEAD)
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async replayDead(selection: ReplaySelection, now: number): Promise<number> {
    let q = this.db
      .updateTable('webhook_outbox')
      .set({ status: PENDING, attempts: 0, next_attempt_at: now, retry_from: now, dead_at: null, last_error: null })
      .where('status', '=', DEAD);
    if ('id' in selection) q = q.where('id', '=', selection.id);
    const res = await q.executeTakeFirst();
    return Number(res.numUpdatedRows);
  }
}
