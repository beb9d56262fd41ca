import { type Kysely, Migrator, sql, type Migration, type MigrationProvider } from 'kysely';

/** Schema migrations, in code, applied in name order. Never edit one that has shipped: add another. */
const migrations: Record<string, Migration> = {
  '0001_initial': {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('app_settings')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('webhook_url', 'text', (c) => c.notNull())
        .addColumn('webhook_events', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('users')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('name', 'text')
        .addColumn('image', 'text')
        .addColumn('data', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('call_types')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('grants', 'text', (c) => c.notNull())
        .addColumn('settings', 'text', (c) => c.notNull())
        .addColumn('notification_settings', 'text', (c) => c.notNull())
        .addColumn('external_storage', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('calls')
        .addColumn('cid', 'text', (c) => c.primaryKey())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('created_by_id', 'text', (c) => c.notNull())
        .addColumn('custom', 'text', (c) => c.notNull())
        .addColumn('settings_override', 'text', (c) => c.notNull())
        .addColumn('team', 'text')
        .addColumn('starts_at', 'text')
        .addColumn('ended_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('calls_created_at').on('calls').column('created_at').execute();
      await db.schema
        .createTable('members')
        .addColumn('call_cid', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('custom', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('members_pk', ['call_cid', 'user_id'])
        .execute();
      await db.schema.createIndex('members_user_id').on('members').column('user_id').execute();
      await db.schema
        .createTable('rtmp_broadcasts')
        .addColumn('call_cid', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('stream_url', 'text', (c) => c.notNull())
        .addColumn('stream_key', 'text', (c) => c.notNull())
        .addColumn('quality', 'text', (c) => c.notNull())
        .addColumn('layout', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('rtmp_broadcasts_pk', ['call_cid', 'name'])
        .execute();
      await db.schema
        .createTable('webhook_outbox')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('body', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('webhook_outbox_due').on('webhook_outbox').column('next_attempt_at').execute();
    },
  },
  '0002_call_live': {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema.alterTable('calls').addColumn('live_started_at', 'text').execute();
    },
  },
  '0003_webhook_order_and_dead': {
    async up(db: Kysely<any>): Promise<void> {
      // Per-call order (order_key, seq), the retry horizon start (retry_from) and parked deliveries
      // (status 'dead' with dead_at and last_error). Rows from before keep their creation order.
      await db.schema
        .alterTable('webhook_outbox')
        .addColumn('status', 'text', (c) => c.notNull().defaultTo('pending'))
        .execute();
      await db.schema
        .alterTable('webhook_outbox')
        .addColumn('order_key', 'text', (c) => c.notNull().defaultTo(''))
        .execute();
      await db.schema
        .alterTable('webhook_outbox')
        .addColumn('seq', 'bigint', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .alterTable('webhook_outbox')
        .addColumn('retry_from', 'bigint', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.alterTable('webhook_outbox').addColumn('dead_at', 'bigint').execute();
      await db.schema.alterTable('webhook_outbox').addColumn('last_error', 'text').execute();
      await sql`update webhook_outbox set seq = created_at * 1000, retry_from = created_at`.execute(db);
      await db.schema.createIndex('webhook_outbox_order').on('webhook_outbox').columns(['status', 'order_key', 'seq']).execute();
    },
  },
  '0004_deleted_at': {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema.alterTable('calls').addColumn('deleted_at', 'text').execute();
      await db.schema.alterTable('users').addColumn('deleted_at', 'text').execute();
    },
  },
  '0005_hls_recordings': {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('hls_broadcasts')
        .addColumn('call_cid', 'text', (c) => c.primaryKey())
        .addColumn('token', 'text', (c) => c.notNull().unique())
        .addColumn('qualities', 'text', (c) => c.notNull())
        .addColumn('layout', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text', (c) => c.notNull())
        .addColumn('stopped_at', 'text')
        .execute();
      await db.schema
        .createTable('recordings')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('call_cid', 'text', (c) => c.notNull())
        .addColumn('session_id', 'text', (c) => c.notNull())
        .addColumn('filename', 'text', (c) => c.notNull())
        .addColumn('storage_key', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('quality', 'text', (c) => c.notNull())
        .addColumn('layout', 'text', (c) => c.notNull())
        .addColumn('part_path', 'text', (c) => c.notNull())
        .addColumn('start_time', 'text', (c) => c.notNull())
        .addColumn('end_time', 'text')
        .addColumn('error', 'text')
        .execute();
      await db.schema.createIndex('recordings_call').on('recordings').columns(['call_cid', 'start_time']).execute();
    },
  },
  '0006_broadcast_layout_source': {
    async up(db: Kysely<any>): Promise<void> {
      // Whether an RTMP broadcast's layout came with its request (kept) or from the call's
      // settings (followed while it runs). Broadcasts from before keep theirs.
      await db.schema
        .alterTable('rtmp_broadcasts')
        .addColumn('layout_source', 'text', (c) => c.notNull().defaultTo('request'))
        .execute();
    },
  },
  '0007_output_nodes': {
    async up(db: Kysely<any>): Promise<void> {
      // Cluster mode: which node runs an HLS broadcast or a recording (and the playlist URL it
      // serves), so that every node can show them while that node is alive.
      await db.schema.alterTable('hls_broadcasts').addColumn('node_id', 'text').execute();
      await db.schema.alterTable('hls_broadcasts').addColumn('playlist_url', 'text').execute();
      await db.schema.alterTable('recordings').addColumn('node_id', 'text').execute();
    },
  },
};

class InCodeMigrationProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return migrations;
  }
}

/**
 * Brings the database schema up to date; throws with the failing migration's error.
 * `migrationTableSchema` pins the migration bookkeeping tables to the schema in use (PostgreSQL:
 * otherwise Kysely may see another schema's bookkeeping tables on the same database).
 */
export async function migrateToLatest(db: Kysely<any>, migrationTableSchema?: string): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: new InCodeMigrationProvider(),
    ...(migrationTableSchema ? { migrationTableSchema } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`database migration ${failed} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}
