/**
 * The store: one interface over SQLite (embedded default) and PostgreSQL, through Kysely.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLiteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import pg from 'pg';
import type { WebhookOutbox } from '../events/contract.js';
import { silentLogger, type Logger } from '../log.js';
import { ResilientPgPool } from './availability.js';
import { migrateToLatest } from './migrations.js';
import { KyselyWebhookOutbox } from './outbox.js';
import { KyselyOutputsStore, type OutputsStore } from './outputs.js';
import type {
  AppSettingsRecord,
  BroadcastLayoutSource,
  BroadcastRecord,
  CallFilter,
  CallQuery,
  CallRecord,
  CallTypeRecord,
  JsonObject,
  MemberRecord,
  UserQuery,
  UserRecord,
} from './records.js';
import type { Database } from './schema.js';
import type { LayoutSettings } from '../layout/settings.js';

export type * from './records.js';
export { isStoreUnavailable, retryWhileUnavailable, StoreUnavailableError } from './availability.js';

export type StoreDialect = 'sqlite' | 'postgres';

export interface Store {
  readonly dialect: StoreDialect;
  readonly webhookOutbox: WebhookOutbox;
  /** HLS broadcasts and recordings. */
  readonly outputs: OutputsStore;

  getAppSettings(): Promise<AppSettingsRecord>;
  updateAppSettings(patch: Partial<AppSettingsRecord>): Promise<AppSettingsRecord>;

  getUser(id: string): Promise<UserRecord | null>;
  getUsers(ids: string[]): Promise<Map<string, UserRecord>>;
  /** Full replace of each user (created_at kept for existing ones). */
  upsertUsers(users: UserRecord[]): Promise<void>;
  /** Creates the users that do not exist yet (role "user"); leaves existing ones alone. */
  ensureUsers(ids: string[], now: string): Promise<void>;
  /** Users matching the query; soft-deleted users are left out. */
  queryUsers(query: UserQuery): Promise<UserRecord[]>;
  /** Marks the users deleted (kept for call views; left out of queries; an upsert restores one). */
  softDeleteUsers(ids: string[], at: string): Promise<void>;
  /** Removes the users and their call memberships. */
  hardDeleteUsers(ids: string[]): Promise<void>;

  listCallTypes(): Promise<CallTypeRecord[]>;
  getCallType(name: string): Promise<CallTypeRecord | null>;
  /** Inserts; returns false when the name is taken. */
  createCallType(record: CallTypeRecord): Promise<boolean>;
  saveCallType(record: CallTypeRecord): Promise<void>;
  deleteCallType(name: string): Promise<boolean>;

  getCall(cid: string): Promise<CallRecord | null>;
  /** Inserts; returns false when the call exists already. */
  createCall(record: CallRecord, members: MemberRecord[]): Promise<boolean>;
  saveCall(record: CallRecord): Promise<void>;
  queryCalls(query: CallQuery): Promise<CallRecord[]>;
  /**
   * Soft delete: the call (ended at `at` if it was not) is hidden from getCall and queryCalls; a
   * later createCall of the same cid replaces it. False when there is no such call.
   */
  softDeleteCall(cid: string, at: string): Promise<boolean>;
  /** Hard delete: the call, its members and its broadcast rows are removed. */
  hardDeleteCall(cid: string): Promise<boolean>;

  listMembers(cid: string): Promise<MemberRecord[]>;
  getMember(cid: string, userId: string): Promise<MemberRecord | null>;
  upsertMembers(members: MemberRecord[]): Promise<void>;
  removeMembers(cid: string, userIds: string[]): Promise<void>;
  countMembers(cid: string): Promise<number>;

  listBroadcasts(cid?: string): Promise<BroadcastRecord[]>;
  getBroadcast(cid: string, name: string): Promise<BroadcastRecord | null>;
  /** Inserts; returns false when a broadcast of that name is active already. */
  addBroadcast(record: BroadcastRecord): Promise<boolean>;
  removeBroadcast(cid: string, name: string): Promise<boolean>;
  /** Sets an active broadcast's layout and where it comes from; false when it is not active. */
  updateBroadcastLayout(cid: string, name: string, layout: LayoutSettings, source: BroadcastLayoutSource): Promise<boolean>;

  close(): Promise<void>;
}

export interface StoreOptions {
  /** postgres://... selects PostgreSQL; otherwise SQLite at `sqlitePath`. */
  databaseUrl?: string;
  sqlitePath: string;
  /** Where connection losses and reconnects are reported. */
  log?: Logger;
}

/** How long a request waits for a PostgreSQL connection before it is answered 503. */
const PG_CONNECT_TIMEOUT_MS = 5_000;

function isPostgresUrl(url: string | undefined): url is string {
  return !!url && /^postgres(ql)?:\/\//i.test(url);
}

/** Opens the store and runs migrations. */
export async function openStore(opts: StoreOptions): Promise<Store> {
  let db: Kysely<Database>;
  let dialect: StoreDialect;
  if (isPostgresUrl(opts.databaseUrl)) {
    dialect = 'postgres';
    db = new Kysely<Database>({
      dialect: new PostgresDialect({
        pool: new ResilientPgPool(
          new pg.Pool({ connectionString: opts.databaseUrl, max: 10, connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS }),
          opts.log ?? silentLogger,
        ),
      }),
    });
  } else {
    if (opts.databaseUrl) throw new Error('CALLCAST_DATABASE_URL must be a postgres:// URL (leave it unset for SQLite)');
    dialect = 'sqlite';
    mkdirSync(dirname(opts.sqlitePath), { recursive: true });
    const sqlite = new SQLiteDatabase(opts.sqlitePath);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('busy_timeout = 5000');
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  }
  try {
    let schema: string | undefined;
    if (dialect === 'postgres') {
      const res = await sql<{ schema: string }>`select current_schema() as schema`.execute(db);
      schema = res.rows[0]?.schema;
    }
    await migrateToLatest(db, schema);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return new KyselyStore(db, dialect);
}

/** Escapes LIKE wildcards (the queries say `escape '\\'`). */
function likeEscape(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function parseJson<T>(text: string | null | undefined, fallback: T): T {
  if (text == null || text === '') return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

function toUserRecord(row: Database['users']): UserRecord {
  const data = parseJson<JsonObject>(row.data, {});
  const rec: UserRecord = {
    id: row.id,
    role: row.role,
    name: row.name,
    image: row.image,
    custom: (data.custom as JsonObject) ?? {},
    language: typeof data.language === 'string' ? data.language : '',
    teams: Array.isArray(data.teams) ? (data.teams as string[]) : [],
    invisible: data.invisible === true,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
  if (data.teams_role) rec.teams_role = data.teams_role as Record<string, string>;
  if (data.privacy_settings) rec.privacy_settings = data.privacy_settings as JsonObject;
  return rec;
}

function fromUserRecord(u: UserRecord): Database['users'] {
  const data: JsonObject = { custom: u.custom, language: u.language, teams: u.teams, invisible: u.invisible };
  if (u.teams_role) data.teams_role = u.teams_role;
  if (u.privacy_settings) data.privacy_settings = u.privacy_settings;
  return {
    id: u.id,
    role: u.role,
    name: u.name,
    image: u.image,
    data: JSON.stringify(data),
    created_at: u.created_at,
    updated_at: u.updated_at,
  };
}

function toCallTypeRecord(row: Database['call_types']): CallTypeRecord {
  return {
    name: row.name,
    grants: parseJson(row.grants, {}),
    settings: parseJson(row.settings, {}),
    notification_settings: parseJson(row.notification_settings, {}),
    external_storage: row.external_storage,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

function fromCallTypeRecord(r: CallTypeRecord): Database['call_types'] {
  return {
    name: r.name,
    grants: JSON.stringify(r.grants),
    settings: JSON.stringify(r.settings),
    notification_settings: JSON.stringify(r.notification_settings),
    external_storage: r.external_storage,
    created_at: r.created_at,
    updated_at: r.updated_at,
  };
}

function toCallRecord(row: Database['calls']): CallRecord {
  return {
    cid: row.cid,
    type: row.type,
    id: row.id,
    created_by_id: row.created_by_id,
    custom: parseJson(row.custom, {}),
    settings_override: parseJson(row.settings_override, {}),
    team: row.team,
    starts_at: row.starts_at,
    ended_at: row.ended_at,
    live_started_at: row.live_started_at ?? null,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

function fromCallRecord(r: CallRecord): Database['calls'] {
  return {
    cid: r.cid,
    type: r.type,
    id: r.id,
    created_by_id: r.created_by_id,
    custom: JSON.stringify(r.custom),
    settings_override: JSON.stringify(r.settings_override),
    team: r.team,
    starts_at: r.starts_at,
    ended_at: r.ended_at,
    live_started_at: r.live_started_at,
    created_at: r.created_at,
    updated_at: r.updated_at,
  };
}

function toMemberRecord(row: Database['members']): MemberRecord {
  return { ...row, custom: parseJson(row.custom, {}) };
}

function fromMemberRecord(m: MemberRecord): Database['members'] {
  return { ...m, custom: JSON.stringify(m.custom) };
}

function toBroadcastRecord(row: Database['rtmp_broadcasts']): BroadcastRecord {
  return {
    ...row,
    layout: parseJson(row.layout, { name: 'spotlight', external_app_url: '', external_css_url: '' }),
    layout_source: row.layout_source === 'settings' ? 'settings' : 'request',
  };
}

export class KyselyStore implements Store {
  readonly webhookOutbox: WebhookOutbox;
  readonly outputs: OutputsStore;

  constructor(
    private readonly db: Kysely<Database>,
    readonly dialect: StoreDialect,
  ) {
    this.webhookOutbox = new KyselyWebhookOutbox(db);
    this.outputs = new KyselyOutputsStore(db);
  }

  async getAppSettings(): Promise<AppSettingsRecord> {
    const row = await this.db.selectFrom('app_settings').selectAll().where('id', '=', 1).executeTakeFirst();
    return { webhook_url: row?.webhook_url ?? '', webhook_events: parseJson(row?.webhook_events, []) };
  }

  async updateAppSettings(patch: Partial<AppSettingsRecord>): Promise<AppSettingsRecord> {
    const current = await this.getAppSettings();
    const next: AppSettingsRecord = { ...current, ...patch };
    const row = {
      id: 1,
      webhook_url: next.webhook_url,
      webhook_events: JSON.stringify(next.webhook_events),
      updated_at: new Date().toISOString(),
    };
    await this.db
      .insertInto('app_settings')
      .values(row)
      .onConflict((oc) =>
        oc.column('id').doUpdateSet({ webhook_url: row.webhook_url, webhook_events: row.webhook_events, updated_at: row.updated_at }),
      )
      .execute();
    return next;
  }

  async getUser(id: string): Promise<UserRecord | null> {
    const row = await this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toUserRecord(row) : null;
  }

  async getUsers(ids: string[]): Promise<Map<string, UserRecord>> {
    const out = new Map<string, UserRecord>();
    const unique = [...new Set(ids)];
    for (let i = 0; i < unique.length; i += 500) {
      const chunk = unique.slice(i, i + 500);
      const rows = await this.db.selectFrom('users').selectAll().where('id', 'in', chunk).execute();
      for (const row of rows) out.set(row.id, toUserRecord(row));
    }
    return out;
  }

  async upsertUsers(users: UserRecord[]): Promise<void> {
    if (users.length === 0) return;
    await this.db.transaction().execute(async (trx) => {
      for (const u of users) {
        const row = fromUserRecord(u);
        await trx
          .insertInto('users')
          .values(row)
          .onConflict((oc) =>
            oc.column('id').doUpdateSet({
              role: row.role,
              name: row.name,
              image: row.image,
              data: row.data,
              deleted_at: null,
              updated_at: row.updated_at,
            }),
          )
          .execute();
      }
    });
  }

  async ensureUsers(ids: string[], now: string): Promise<void> {
    const unique = [...new Set(ids)];
    if (unique.length === 0) return;
    await this.db
      .insertInto('users')
      .values(
        unique.map((id) => ({
          id,
          role: 'user',
          name: null,
          image: null,
          data: JSON.stringify({ custom: {}, language: '', teams: [], invisible: false }),
          created_at: now,
          updated_at: now,
        })),
      )
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
  }

  async queryUsers(query: UserQuery): Promise<UserRecord[]> {
    let q = this.db.selectFrom('users').selectAll().where('deleted_at', 'is', null);
    if (query.ids) q = query.ids.length ? q.where('id', 'in', query.ids) : q.where(sql<boolean>`1 = 0`);
    if (query.role !== undefined) q = q.where('role', '=', query.role);
    if (query.name) {
      const { op, value } = query.name;
      if (op === '$autocomplete') {
        const text = likeEscape(value[0]!.toLowerCase());
        q = q.where((eb) =>
          eb.or([sql<boolean>`lower(name) like ${`${text}%`} escape '\\'`, sql<boolean>`lower(name) like ${`% ${text}%`} escape '\\'`]),
        );
      } else {
        q = value.length ? q.where('name', 'in', value) : q.where(sql<boolean>`1 = 0`);
      }
    }
    for (const c of query.custom ?? []) {
      const extracted = this.jsonPath('users.data', ['custom', ...c.path]);
      const values = c.value.map((v) => this.customValue(v));
      q = q.where(
        c.op === '$in'
          ? values.length
            ? sql<boolean>`${extracted} in (${sql.join(values)})`
            : sql<boolean>`1 = 0`
          : c.op === '$eq'
            ? sql<boolean>`${extracted} = ${values[0]}`
            : sql<boolean>`(${extracted} is null or ${extracted} <> ${values[0]})`,
      );
    }
    for (const s of query.sort) q = q.orderBy(s.field, s.direction === 1 ? 'asc' : 'desc');
    q = q.orderBy('id', 'asc').limit(query.limit).offset(query.offset);
    return (await q.execute()).map(toUserRecord);
  }

  async softDeleteUsers(ids: string[], at: string): Promise<void> {
    if (ids.length === 0) return;
    await this.db.updateTable('users').set({ deleted_at: at, updated_at: at }).where('id', 'in', ids).execute();
  }

  async hardDeleteUsers(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('members').where('user_id', 'in', ids).execute();
      await trx.deleteFrom('users').where('id', 'in', ids).execute();
    });
  }

  /** A JSON value inside a text column, as text (PostgreSQL) or its SQLite value. */
  private jsonPath(column: string, path: string[]) {
    return this.dialect === 'postgres'
      ? sql`(${sql.ref(column)}::jsonb #>> ${'{' + path.join(',') + '}'})`
      : sql`json_extract(${sql.ref(column)}, ${'$.' + path.map((p) => `"${p.replace(/"/g, '')}"`).join('.')})`;
  }

  async listCallTypes(): Promise<CallTypeRecord[]> {
    const rows = await this.db.selectFrom('call_types').selectAll().orderBy('name').execute();
    return rows.map(toCallTypeRecord);
  }

  async getCallType(name: string): Promise<CallTypeRecord | null> {
    const row = await this.db.selectFrom('call_types').selectAll().where('name', '=', name).executeTakeFirst();
    return row ? toCallTypeRecord(row) : null;
  }

  async createCallType(record: CallTypeRecord): Promise<boolean> {
    const res = await this.db
      .insertInto('call_types')
      .values(fromCallTypeRecord(record))
      .onConflict((oc) => oc.column('name').doNothing())
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0n) > 0;
  }

  async saveCallType(record: CallTypeRecord): Promise<void> {
    const row = fromCallTypeRecord(record);
    await this.db
      .updateTable('call_types')
      .set({
        grants: row.grants,
        settings: row.settings,
        notification_settings: row.notification_settings,
        external_storage: row.external_storage,
        updated_at: row.updated_at,
      })
      .where('name', '=', record.name)
      .execute();
  }

  async deleteCallType(name: string): Promise<boolean> {
    const res = await this.db.deleteFrom('call_types').where('name', '=', name).executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }

  async getCall(cid: string): Promise<CallRecord | null> {
    const row = await this.db.selectFrom('calls').selectAll().where('cid', '=', cid).where('deleted_at', 'is', null).executeTakeFirst();
    return row ? toCallRecord(row) : null;
  }

  async createCall(record: CallRecord, members: MemberRecord[]): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      // A soft-deleted call of the same cid gives way to the new one.
      const deleted = await trx.deleteFrom('calls').where('cid', '=', record.cid).where('deleted_at', 'is not', null).executeTakeFirst();
      if (Number(deleted.numDeletedRows) > 0) {
        await trx.deleteFrom('members').where('call_cid', '=', record.cid).execute();
        await trx.deleteFrom('rtmp_broadcasts').where('call_cid', '=', record.cid).execute();
      }
      const res = await trx
        .insertInto('calls')
        .values(fromCallRecord(record))
        .onConflict((oc) => oc.column('cid').doNothing())
        .executeTakeFirst();
      if (Number(res.numInsertedOrUpdatedRows ?? 0n) === 0) return false;
      for (const m of members) {
        const row = fromMemberRecord(m);
        await trx
          .insertInto('members')
          .values(row)
          .onConflict((oc) =>
            oc.columns(['call_cid', 'user_id']).doUpdateSet({ role: row.role, custom: row.custom, updated_at: row.updated_at }),
          )
          .execute();
      }
      return true;
    });
  }

  async saveCall(record: CallRecord): Promise<void> {
    const row = fromCallRecord(record);
    await this.db
      .updateTable('calls')
      .set({
        custom: row.custom,
        settings_override: row.settings_override,
        team: row.team,
        starts_at: row.starts_at,
        ended_at: row.ended_at,
        live_started_at: row.live_started_at,
        updated_at: row.updated_at,
      })
      .where('cid', '=', record.cid)
      .execute();
  }

  async softDeleteCall(cid: string, at: string): Promise<boolean> {
    const res = await this.db
      .updateTable('calls')
      .set({ deleted_at: at, ended_at: sql<string>`coalesce(ended_at, ${at})`, updated_at: at })
      .where('cid', '=', cid)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async hardDeleteCall(cid: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('members').where('call_cid', '=', cid).execute();
      await trx.deleteFrom('rtmp_broadcasts').where('call_cid', '=', cid).execute();
      const res = await trx.deleteFrom('calls').where('cid', '=', cid).executeTakeFirst();
      return Number(res.numDeletedRows) > 0;
    });
  }

  async queryCalls(query: CallQuery): Promise<CallRecord[]> {
    let q = this.db.selectFrom('calls').selectAll().where('deleted_at', 'is', null);
    if (query.filter) {
      const filter = query.filter;
      q = q.where((eb) => this.compileFilter(eb, filter));
    }
    for (const s of query.sort) q = q.orderBy(s.column, s.direction === 1 ? 'asc' : 'desc');
    q = q.orderBy('cid', 'asc').limit(query.limit).offset(query.offset);
    return (await q.execute()).map(toCallRecord);
  }

  private compileFilter(eb: ExpressionBuilder<Database, 'calls'>, f: CallFilter): Expression<SqlBool> {
    switch (f.kind) {
      case 'and':
        return f.items.length ? eb.and(f.items.map((i) => this.compileFilter(eb, i))) : sql<boolean>`1 = 1`;
      case 'or':
        return f.items.length ? eb.or(f.items.map((i) => this.compileFilter(eb, i))) : sql<boolean>`1 = 0`;
      case 'exists':
        return f.exists ? eb(f.column, 'is not', null) : eb(f.column, 'is', null);
      case 'ongoing': {
        const broadcasting = eb.exists(
          eb.selectFrom('rtmp_broadcasts').select('rtmp_broadcasts.name').whereRef('rtmp_broadcasts.call_cid', '=', 'calls.cid'),
        );
        const active = f.liveCids?.length ? eb.or([broadcasting, eb('cid', 'in', f.liveCids)]) : broadcasting;
        const ongoing = eb.and([eb('ended_at', 'is', null), active]);
        return f.value ? ongoing : eb.not(ongoing);
      }
      case 'backstage': {
        const enabled =
          this.dialect === 'postgres'
            ? sql<boolean>`coalesce(coalesce(calls.settings_override::jsonb #>> '{backstage,enabled}', (select ct.settings::jsonb #>> '{backstage,enabled}' from call_types ct where ct.name = calls.type)) = 'true', false)`
            : sql<boolean>`coalesce(coalesce(json_extract(calls.settings_override, '$.backstage.enabled'), (select json_extract(ct.settings, '$.backstage.enabled') from call_types ct where ct.name = calls.type)) = 1, 0)`;
        const inBackstage = eb.and([enabled, eb('live_started_at', 'is', null)]);
        return f.value ? inBackstage : eb.not(inBackstage);
      }
      case 'members': {
        if (f.userIds.length === 0) return sql<boolean>`1 = 0`;
        return eb.exists(
          eb
            .selectFrom('members')
            .select('members.user_id')
            .whereRef('members.call_cid', '=', 'calls.cid')
            .where('members.user_id', 'in', f.userIds),
        );
      }
      case 'compare': {
        const { column, op, value } = f;
        if (op === '$in' || op === '$nin') {
          const list = Array.isArray(value) ? value : [value];
          if (list.length === 0) return op === '$in' ? sql<boolean>`1 = 0` : sql<boolean>`1 = 1`;
          return eb(column, op === '$in' ? 'in' : 'not in', list);
        }
        const sqlOp = { $eq: '=', $ne: '<>', $gt: '>', $gte: '>=', $lt: '<', $lte: '<=' }[op] as '=' | '<>' | '>' | '>=' | '<' | '<=';
        return eb(column, sqlOp, value as string);
      }
      case 'custom': {
        const extracted =
          this.dialect === 'postgres'
            ? sql`(calls.custom::jsonb #>> ${'{' + f.path.join(',') + '}'})`
            : sql`json_extract(calls.custom, ${'$.' + f.path.map((p) => `"${p.replace(/"/g, '')}"`).join('.')})`;
        const values = f.value.map((v) => this.customValue(v));
        if (f.op === '$in') return values.length ? sql<boolean>`${extracted} in (${sql.join(values)})` : sql<boolean>`1 = 0`;
        const v = values[0];
        return f.op === '$eq' ? sql<boolean>`${extracted} = ${v}` : sql<boolean>`(${extracted} is null or ${extracted} <> ${v})`;
      }
    }
  }

  private customValue(v: string | number | boolean): string | number {
    if (this.dialect === 'postgres') return String(v);
    if (typeof v === 'boolean') return v ? 1 : 0;
    return v;
  }

  async listMembers(cid: string): Promise<MemberRecord[]> {
    const rows = await this.db
      .selectFrom('members')
      .selectAll()
      .where('call_cid', '=', cid)
      .orderBy('created_at')
      .orderBy('user_id')
      .execute();
    return rows.map(toMemberRecord);
  }

  async getMember(cid: string, userId: string): Promise<MemberRecord | null> {
    const row = await this.db
      .selectFrom('members')
      .selectAll()
      .where('call_cid', '=', cid)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row ? toMemberRecord(row) : null;
  }

  async upsertMembers(members: MemberRecord[]): Promise<void> {
    if (members.length === 0) return;
    await this.db.transaction().execute(async (trx) => {
      for (const m of members) {
        const row = fromMemberRecord(m);
        await trx
          .insertInto('members')
          .values(row)
          .onConflict((oc) =>
            oc.columns(['call_cid', 'user_id']).doUpdateSet({ role: row.role, custom: row.custom, updated_at: row.updated_at }),
          )
          .execute();
      }
    });
  }

  async removeMembers(cid: string, userIds: string[]): Promise<void> {
    if (userIds.length === 0) return;
    await this.db.deleteFrom('members').where('call_cid', '=', cid).where('user_id', 'in', userIds).execute();
  }

  async countMembers(cid: string): Promise<number> {
    const row = await this.db
      .selectFrom('members')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('call_cid', '=', cid)
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async listBroadcasts(cid?: string): Promise<BroadcastRecord[]> {
    let q = this.db.selectFrom('rtmp_broadcasts').selectAll();
    if (cid !== undefined) q = q.where('call_cid', '=', cid);
    const rows = await q.orderBy('started_at').orderBy('name').execute();
    return rows.map(toBroadcastRecord);
  }

  async getBroadcast(cid: string, name: string): Promise<BroadcastRecord | null> {
    const row = await this.db
      .selectFrom('rtmp_broadcasts')
      .selectAll()
      .where('call_cid', '=', cid)
      .where('name', '=', name)
      .executeTakeFirst();
    return row ? toBroadcastRecord(row) : null;
  }

  async addBroadcast(record: BroadcastRecord): Promise<boolean> {
    const res = await this.db
      .insertInto('rtmp_broadcasts')
      .values({ ...record, layout: JSON.stringify(record.layout) })
      .onConflict((oc) => oc.columns(['call_cid', 'name']).doNothing())
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0n) > 0;
  }

  async removeBroadcast(cid: string, name: string): Promise<boolean> {
    const res = await this.db.deleteFrom('rtmp_broadcasts').where('call_cid', '=', cid).where('name', '=', name).executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }

  async updateBroadcastLayout(cid: string, name: string, layout: LayoutSettings, source: BroadcastLayoutSource): Promise<boolean> {
    const res = await this.db
      .updateTable('rtmp_broadcasts')
      .set({ layout: JSON.stringify(layout), layout_source: source })
      .where('call_cid', '=', cid)
      .where('name', '=', name)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}
