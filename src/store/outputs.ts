/** The store's HLS broadcasts and recordings. */
import type { Kysely } from 'kysely';
import type { LayoutSettings } from '../layout/settings.js';
import type { HlsRecord, HlsStatus, RecordingRecord, RecordingStatus } from './records.js';
import type { Database } from './schema.js';

const DEFAULT_LAYOUT: LayoutSettings = { name: 'spotlight', external_app_url: '', external_css_url: '' };

function parse<T>(text: string, fallback: T): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

function toHls(row: Database['hls_broadcasts']): HlsRecord {
  return {
    ...row,
    qualities: parse(row.qualities, []),
    layout: parse(row.layout, DEFAULT_LAYOUT),
    status: row.status as HlsStatus,
  };
}

function toRecording(row: Database['recordings']): RecordingRecord {
  return { ...row, layout: parse(row.layout, DEFAULT_LAYOUT), status: row.status as RecordingStatus };
}

export interface OutputsStore {
  getHls(cid: string): Promise<HlsRecord | null>;
  getHlsByToken(token: string): Promise<HlsRecord | null>;
  /** Every HLS broadcast, or those with the status. */
  listHls(status?: HlsStatus): Promise<HlsRecord[]>;
  /** Inserts or replaces the call's HLS broadcast. */
  putHls(record: HlsRecord): Promise<void>;
  /** Sets the status (and stopped_at); false when there is no such broadcast or it has another token. */
  setHlsStatus(cid: string, token: string, status: HlsStatus, stoppedAt?: string): Promise<boolean>;
  removeHls(cid: string, token: string): Promise<boolean>;

  addRecording(record: RecordingRecord): Promise<void>;
  getRecording(id: string): Promise<RecordingRecord | null>;
  /** The call's recordings (every call's for undefined), oldest first; optionally of one status. */
  listRecordings(cid?: string, status?: RecordingStatus): Promise<RecordingRecord[]>;
  updateRecording(id: string, patch: Partial<Pick<RecordingRecord, 'status' | 'end_time' | 'error' | 'layout'>>): Promise<void>;
  removeRecording(id: string): Promise<boolean>;
}

export class KyselyOutputsStore implements OutputsStore {
  constructor(private readonly db: Kysely<Database>) {}

  async getHls(cid: string): Promise<HlsRecord | null> {
    const row = await this.db.selectFrom('hls_broadcasts').selectAll().where('call_cid', '=', cid).executeTakeFirst();
    return row ? toHls(row) : null;
  }

  async getHlsByToken(token: string): Promise<HlsRecord | null> {
    const row = await this.db.selectFrom('hls_broadcasts').selectAll().where('token', '=', token).executeTakeFirst();
    return row ? toHls(row) : null;
  }

  async listHls(status?: HlsStatus): Promise<HlsRecord[]> {
    let q = this.db.selectFrom('hls_broadcasts').selectAll();
    if (status) q = q.where('status', '=', status);
    return (await q.orderBy('started_at').execute()).map(toHls);
  }

  async putHls(r: HlsRecord): Promise<void> {
    const row = {
      ...r,
      qualities: JSON.stringify(r.qualities),
      layout: JSON.stringify(r.layout),
      node_id: r.node_id ?? null,
      playlist_url: r.playlist_url ?? null,
    };
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('hls_broadcasts').where('call_cid', '=', r.call_cid).execute();
      await tx.insertInto('hls_broadcasts').values(row).execute();
    });
  }

  async setHlsStatus(cid: string, token: string, status: HlsStatus, stoppedAt?: string): Promise<boolean> {
    const res = await this.db
      .updateTable('hls_broadcasts')
      .set({ status, ...(stoppedAt !== undefined ? { stopped_at: stoppedAt } : {}) })
      .where('call_cid', '=', cid)
      .where('token', '=', token)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async removeHls(cid: string, token: string): Promise<boolean> {
    const res = await this.db.deleteFrom('hls_broadcasts').where('call_cid', '=', cid).where('token', '=', token).executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }

  async addRecording(r: RecordingRecord): Promise<void> {
    await this.db
      .insertInto('recordings')
      .values({ ...r, layout: JSON.stringify(r.layout), node_id: r.node_id ?? null })
      .execute();
  }

  async getRecording(id: string): Promise<RecordingRecord | null> {
    const row = await this.db.selectFrom('recordings').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toRecording(row) : null;
  }

  async listRecordings(cid?: string, status?: RecordingStatus): Promise<RecordingRecord[]> {
    let q = this.db.selectFrom('recordings').selectAll();
    if (cid !== undefined) q = q.where('call_cid', '=', cid);
    if (status) q = q.where('status', '=', status);
    return (await q.orderBy('start_time').orderBy('id').execute()).map(toRecording);
  }

  async updateRecording(id: string, patch: Partial<Pick<RecordingRecord, 'status' | 'end_time' | 'error' | 'layout'>>): Promise<void> {
    if (Object.keys(patch).length === 0) return;
    const { layout, ...rest } = patch;
    const row = layout === undefined ? rest : { ...rest, layout: JSON.stringify(layout) };
    await this.db.updateTable('recordings').set(row).where('id', '=', id).execute();
  }

  async removeRecording(id: string): Promise<boolean> {
    const res = await this.db.deleteFrom('recordings').where('id', '=', id).executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }
}
