/**
 * HLS state: which calls broadcast HLS, under which unguessable token their files are served,
 * and the events of their fate. One HLS broadcast per call at the qualities of
 * `settings.broadcasting.hls.quality_tracks` with `settings.broadcasting.hls.layout`; each track
 * is an output of the egress's broadcast group of its (call, quality, layout), so a running RTMP
 * encode of the same picture is shared. Kept in the store: an active one is resumed after a
 * restart (its playlists continue), a stopped one keeps its files for `retentionMs`, then they are
 * removed. Call end stops it.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { HlsOutput, MASTER_PLAYLIST, type OutputAttacher } from '../egress/hls.js';
import type { EventBus, NewEvent } from '../events/contract.js';
import { startQuality } from '../layout/orientation.js';
import type { LayoutParticipant } from '../layout/participants.js';
import type { Quality } from '../layout/settings.js';
import type { Logger } from '../log.js';
import type { HlsRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import { ApiError, badRequest } from '../wire/errors.js';
import type { JsonObject } from '../wire/json.js';
import type { LoadedCall } from './access.js';
import { followLayoutSettings, layoutAt } from './broadcast-layout.js';
import { runsOnAnotherLiveNode, type OutputNodes } from './output-nodes.js';
import { dig, effectiveSettings } from './settings.js';

export const DEFAULT_HLS_RETENTION_MS = 10 * 60_000;

/** Where the HLS layout is in a call's settings. */
const HLS_LAYOUT = ['broadcasting', 'hls', 'layout'] as const;

/** Segment and playlist names the HLS server may serve: what the packager writes. */
const SERVABLE_FILE = /^(master|[a-z0-9x-]+)\.m3u8$|^[a-z0-9x-]+_\d{6}\.ts$/;
const TOKEN = /^[A-Za-z0-9_-]{32,64}$/;

export interface HlsStateOptions {
  store: Store;
  bus: EventBus;
  log: Logger;
  /** The egress the tracks attach to; null where there is none (HLS then answers 400). */
  engine: OutputAttacher | null;
  /** Where each broadcast's directory (named by its token) goes. */
  dir: string;
  /** The base URL players reach the service at (read per use). */
  publicUrl: () => string;
  ffmpegPath?: string;
  retentionMs?: number;
  /** The call's participants as the layout sees them (orientation); default: none. */
  participants?: (callCid: string) => readonly LayoutParticipant[];
  /** Cluster mode: HLS broadcasts of other live nodes are shown from the store. */
  nodes?: OutputNodes;
  now?: () => Date;
}

export interface HlsStateEvents {
  /** The call's HLS changed (started, live, stopped, failed): its call response did too. */
  changed: [callCid: string];
}

interface Running {
  record: HlsRecord;
  output: HlsOutput;
}

export class HlsState extends EventEmitter<HlsStateEvents> {
  private readonly running = new Map<string, Running>();
  private readonly cleanups = new Map<string, NodeJS.Timeout>();
  private readonly retentionMs: number;
  private readonly now: () => Date;
  private closing = false;
  /** Builds the call response carried by call.hls_broadcasting_started (set by the call service). */
  callJson: ((cid: string) => Promise<JsonObject | null>) | null = null;

  constructor(private readonly opts: HlsStateOptions) {
    super();
    this.retentionMs = opts.retentionMs ?? DEFAULT_HLS_RETENTION_MS;
    this.now = opts.now ?? (() => new Date());
  }

  /** `call.egress.hls` of the call, or null when it has no HLS broadcast running. */
  view(cid: string): { playlist_url: string; status: string } | null {
    const r = this.running.get(cid);
    return r ? { playlist_url: this.playlistUrl(r.record.token), status: r.record.status === 'live' ? 'live' : 'starting' } : null;
  }

  /**
   * `call.egress.hls` as this node answers it: its own running broadcast, else (cluster mode) the
   * one another live node runs, from the store.
   */
  async egressView(cid: string): Promise<{ playlist_url: string; status: string } | null> {
    const local = this.view(cid);
    if (local || !this.opts.nodes) return local;
    const r = await this.opts.store.outputs.getHls(cid).catch(() => null);
    if (!r || r.status === 'stopped' || !r.playlist_url) return null;
    if (!(await runsOnAnotherLiveNode(this.opts.nodes, [r.node_id]))) return null;
    return { playlist_url: r.playlist_url, status: r.status === 'live' ? 'live' : 'starting' };
  }

  /** HLS runs for the call (starting or live). */
  active(cid: string): boolean {
    return this.running.has(cid);
  }

  playlistUrl(token: string): string {
    return `${this.opts.publicUrl()}/hls/${token}/${MASTER_PLAYLIST}`;
  }

  /** Starts the call's HLS broadcast (access already checked); returns the playlist URL. */
  async start(loaded: LoadedCall): Promise<string> {
    const cid = loaded.call.cid;
    if (!this.opts.engine) throw badRequest('HLS broadcasting needs the egress, which this service runs without');
    if (loaded.call.ended_at !== null) throw badRequest(`call ${cid} has ended: HLS cannot be started`);
    const running = this.running.get(cid);
    if (running) return this.playlistUrl(running.record.token);
    const settings = effectiveSettings(loaded.callType.settings, loaded.call.settings_override);
    if (dig(settings, ['broadcasting', 'enabled']) !== true)
      throw badRequest(`broadcasting is disabled for call ${cid} (settings.broadcasting.enabled)`);
    if (dig(settings, ['broadcasting', 'hls', 'enabled']) !== true)
      throw badRequest(`HLS broadcasting is disabled for call ${cid} (settings.broadcasting.hls.enabled)`);
    const tracks = dig(settings, ['broadcasting', 'hls', 'quality_tracks']);
    const qualities = (Array.isArray(tracks) && tracks.length > 0 ? tracks : ['720p']).map(String).slice(0, 3);
    const token = randomBytes(24).toString('base64url');
    const record: HlsRecord = {
      call_cid: cid,
      token,
      node_id: this.opts.nodes?.nodeId() ?? null,
      playlist_url: this.playlistUrl(token),
      qualities,
      layout: layoutAt(settings, HLS_LAYOUT),
      status: 'starting',
      started_at: this.now().toISOString(),
      stopped_at: null,
    };
    const previous = await this.opts.store.outputs.getHls(cid);
    if (previous) await this.removeFiles(previous);
    await this.opts.store.outputs.putHls(record);
    await this.run(record);
    this.emit('changed', cid);
    return this.playlistUrl(record.token);
  }

  /**
   * The call's settings changed: a running HLS broadcast takes the layout
   * `settings.broadcasting.hls.layout` now gives (every track moves to the encode of that layout at
   * its next keyframe; the playlists go on). Its qualities stay. Never throws (logged). True when
   * it changed.
   */
  async followSettings(loaded: LoadedCall): Promise<boolean> {
    const cid = loaded.call.cid;
    const r = this.running.get(cid);
    if (!r) return false;
    return followLayoutSettings(
      loaded,
      {
        what: 'HLS',
        path: HLS_LAYOUT,
        current: r.record.layout,
        apply: async (layout) => {
          r.output.changeLayout(layout);
          r.record = { ...r.record, layout };
          if (this.running.get(cid) === r) await this.opts.store.outputs.putHls(r.record);
        },
      },
      this.opts.log,
    );
  }

  /** The calls with an HLS broadcast running on this node. */
  runningCalls(): Iterable<string> {
    return this.running.keys();
  }

  /** Stops the call's HLS broadcast (400 when none runs). */
  async stop(cid: string): Promise<void> {
    if (!this.running.has(cid)) throw badRequest(`no HLS broadcast is running in call ${cid}`);
    await this.stopForCall(cid);
  }

  /** Stops the call's HLS broadcast if one runs (call end, stop live). */
  async stopForCall(cid: string): Promise<void> {
    const r = this.running.get(cid);
    if (!r) return;
    this.running.delete(cid);
    const stoppedAt = this.now().toISOString();
    await this.opts.store.outputs.setHlsStatus(cid, r.record.token, 'stopped', stoppedAt);
    await r.output.stop();
    this.scheduleCleanup({ ...r.record, status: 'stopped', stopped_at: stoppedAt });
    this.opts.log.info({ callCid: cid }, 'HLS broadcast stopped');
    this.publish({ type: 'call.hls_broadcasting_stopped', call_cid: cid });
    this.emit('changed', cid);
  }

  /** After a restart: resumes the active broadcasts, schedules (or does) the removal of stopped ones. */
  async resume(): Promise<number> {
    let resumed = 0;
    for (const r of await this.opts.store.outputs.listHls()) {
      if (r.status === 'stopped') {
        this.scheduleCleanup(r);
        continue;
      }
      const call = await this.opts.store.getCall(r.call_cid);
      if (!call || call.ended_at !== null || !this.opts.engine) {
        await this.opts.store.outputs.setHlsStatus(r.call_cid, r.token, 'stopped', this.now().toISOString());
        this.scheduleCleanup({ ...r, status: 'stopped', stopped_at: this.now().toISOString() });
        this.publish({ type: 'call.hls_broadcasting_stopped', call_cid: r.call_cid });
        continue;
      }
      try {
        await this.run(r);
        resumed++;
        this.opts.log.info({ callCid: r.call_cid }, 'HLS broadcast resumed');
      } catch (err) {
        this.opts.log.error({ callCid: r.call_cid, err: String(err) }, 'HLS broadcast could not be resumed');
      }
    }
    return resumed;
  }

  /** The file to serve for GET /hls/{token}/{file}, or null (unknown token or name). */
  async servable(token: string, file: string): Promise<string | null> {
    if (!TOKEN.test(token) || !SERVABLE_FILE.test(file)) return null;
    const r = await this.opts.store.outputs.getHlsByToken(token);
    return r ? join(this.opts.dir, r.token, file) : null;
  }

  /**
   * Service shutdown: the packagers close (their playlists end) but the broadcasts stay active in
   * the store, to be resumed on the next start. Removal timers are dropped (redone at resume).
   */
  async close(): Promise<void> {
    this.closing = true;
    for (const t of this.cleanups.values()) clearTimeout(t);
    this.cleanups.clear();
    const all = [...this.running.values()];
    this.running.clear();
    await Promise.all(all.map((r) => r.output.stop()));
  }

  private async run(record: HlsRecord): Promise<void> {
    const engine = this.opts.engine;
    if (!engine) throw new Error('no egress');
    const cid = record.call_cid;
    const participants = this.opts.participants?.(cid) ?? [];
    const qualities = record.qualities.map((q) => startQuality(q as Quality, record.layout.detect_orientation, participants));
    const output = new HlsOutput({
      engine,
      callCid: cid,
      layout: record.layout,
      qualities,
      dir: join(this.opts.dir, record.token),
      log: this.opts.log,
      ...(this.opts.ffmpegPath ? { ffmpegPath: this.opts.ffmpegPath } : {}),
    });
    const entry: Running = { record, output };
    output.once('started', () => void this.onLive(entry));
    output.once('failed', (reason) => void this.onFailed(entry, reason));
    this.running.set(cid, entry);
    try {
      await output.start();
    } catch (err) {
      this.running.delete(cid);
      await this.opts.store.outputs.setHlsStatus(cid, record.token, 'stopped', this.now().toISOString());
      this.publish({ type: 'call.hls_broadcasting_failed', call_cid: cid, error: String(err) });
      // Refused by admission (no room for a new encode): answered as the engine words it.
      if (err instanceof ApiError) throw err;
      throw badRequest(`HLS could not be started: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private async onLive(entry: Running): Promise<void> {
    const cid = entry.record.call_cid;
    if (this.closing || this.running.get(cid) !== entry) return;
    entry.record = { ...entry.record, status: 'live' };
    await this.opts.store.outputs.setHlsStatus(cid, entry.record.token, 'live');
    const call = (await this.callJson?.(cid).catch(() => null)) ?? null;
    this.opts.log.info({ callCid: cid, qualities: entry.record.qualities }, 'HLS broadcast live');
    this.publish({
      type: 'call.hls_broadcasting_started',
      call_cid: cid,
      hls_playlist_url: this.playlistUrl(entry.record.token),
      ...(call ? { call } : {}),
    });
    this.emit('changed', cid);
  }

  private async onFailed(entry: Running, reason: string): Promise<void> {
    const cid = entry.record.call_cid;
    if (this.closing || this.running.get(cid) !== entry) return;
    this.running.delete(cid);
    const stoppedAt = this.now().toISOString();
    await this.opts.store.outputs.setHlsStatus(cid, entry.record.token, 'stopped', stoppedAt);
    this.scheduleCleanup({ ...entry.record, status: 'stopped', stopped_at: stoppedAt });
    this.opts.log.warn({ callCid: cid, reason }, 'HLS broadcast failed');
    // `error` goes beyond Stream's model (clients ignore unknown fields).
    this.publish({ type: 'call.hls_broadcasting_failed', call_cid: cid, error: reason });
    this.emit('changed', cid);
  }

  /** Removes the files `retentionMs` after the stop (at once if that is past). */
  private scheduleCleanup(r: HlsRecord): void {
    const stoppedAt = r.stopped_at ? Date.parse(r.stopped_at) : this.now().getTime();
    const delay = Math.max(0, stoppedAt + this.retentionMs - this.now().getTime());
    const existing = this.cleanups.get(r.token);
    if (existing) clearTimeout(existing);
    const timer = setTimeout(() => {
      this.cleanups.delete(r.token);
      void this.removeFiles(r);
    }, delay);
    timer.unref();
    this.cleanups.set(r.token, timer);
  }

  private async removeFiles(r: HlsRecord): Promise<void> {
    const timer = this.cleanups.get(r.token);
    if (timer) clearTimeout(timer);
    this.cleanups.delete(r.token);
    try {
      await rm(join(this.opts.dir, r.token), { recursive: true, force: true });
      await this.opts.store.outputs.removeHls(r.call_cid, r.token);
      this.opts.log.info({ callCid: r.call_cid }, 'HLS files removed');
    } catch (err) {
      this.opts.log.error({ callCid: r.call_cid, err: String(err) }, 'HLS files could not be removed');
    }
  }

  private publish(event: NewEvent): void {
    try {
      this.opts.bus.publish(event);
    } catch (err) {
      this.opts.log.error({ eventType: event.type, err: String(err) }, 'event could not be published');
    }
  }
}
