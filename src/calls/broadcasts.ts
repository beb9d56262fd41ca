/**
 * Broadcast state: which RTMP broadcasts of which calls are active. It keeps them in the store (so
 * they survive a restart and are resumed on start), hands them to the broadcast engine, which it
 * builds with itself as the engine's listener, and turns what the engine reports into events.
 * It applies `detect_orientation` on the way to the engine: the featured participant's published
 * video picks the portrait or landscape variant of the quality, once per start.
 *
 * A broadcast started without a layout of its own follows the call's RTMP layout settings while it
 * runs (`followSettings`, `followCallType`); `changeLayout` sets one broadcast's layout (kept from
 * then on). Either way the engine moves it to the encode of its new layout under the same session.
 */
import { EventEmitter } from 'node:events';
import type { BroadcastEngine, BroadcastSpec, DestinationStats, EgressListener } from '../egress/contract.js';
import type { EventBus, NewEvent } from '../events/contract.js';
import { startQuality } from '../layout/orientation.js';
import type { LayoutParticipant } from '../layout/participants.js';
import type { Quality } from '../layout/settings.js';
import type { Logger } from '../log.js';
import type { LayoutSettings } from '../layout/settings.js';
import type { BroadcastLayoutSource, BroadcastRecord, CallTypeRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import { ApiError, badRequest, ErrorCodes, notFound } from '../wire/errors.js';
import type { Principal } from '../wire/principal.js';
import type { JsonObject } from '../wire/json.js';
import type { LoadedCall } from './access.js';
import { dig, effectiveSettings } from './settings.js';
import { checkDestination, toLayoutSettings, type BroadcastRequest, type BroadcastUpdate } from './validation.js';
import { followedLayoutUpdates, settingsLayout } from './broadcast-layout.js';
import { parseCallCid } from '../wire/call-cid.js';
import { DestinationPolicy } from '../net/destination-policy.js';
import { retryWhileUnavailable } from '../store/availability.js';

/** Builds the engine that produces the broadcasts, given the listener it reports to. */
export type EngineFactory = (listener: EgressListener) => BroadcastEngine;

export interface BroadcastStateOptions {
  store: Store;
  bus: EventBus;
  log: Logger;
  engine: EngineFactory;
  /** The call's participants as the layout sees them (orientation); default: none. */
  participants?: (callCid: string) => readonly LayoutParticipant[];
  now?: () => Date;
  /** Refuses broadcasts to internal addresses written literally (src/net); default: the default policy. */
  destinationPolicy?: DestinationPolicy;
  /** RTMP broadcasts one call may have at once; default DEFAULT_MAX_BROADCASTS_PER_CALL. */
  maxBroadcastsPerCall?: number;
  /**
   * Checked before a start, stop or layout change writes the call's state: throws when this
   * process may not (cluster mode: another node owns the call). Default: always allowed.
   */
  assertWriter?: (callCid: string) => Promise<void>;
}

export const DEFAULT_MAX_BROADCASTS_PER_CALL = 10;

export interface BroadcastStateEvents {
  /** The call's broadcasts changed (started, stopped, failed): its call response did too. */
  changed: [callCid: string];
}

/** How long a start waits for an engine stop of the same broadcast name still in progress. */
const PREDECESSOR_STOP_WAIT_MS = 2_000;

/** How long a stopped broadcast counts as recently stopped (see `recentlyStopped`). */
const RECENT_STOP_MS = 10_000;

export class BroadcastState extends EventEmitter<BroadcastStateEvents> implements EgressListener {
  /** The engine producing the broadcasts (built with this state as its listener). */
  readonly engine: BroadcastEngine;
  /** Engine stops in progress, so a broadcast restarted under the same name waits for its predecessor. */
  private readonly stopping = new Map<string, Promise<void>>();
  /** When each broadcast's stop was asked (kept RECENT_STOP_MS), for `recentlyStopped`. */
  private readonly stopRequests = new Map<string, number>();
  /** Set at close: engine reports are ignored from then on, so active broadcasts stay persisted. */
  private closing = false;
  private readonly store: Store;
  private readonly bus: EventBus;
  private readonly log: Logger;
  private readonly participants: (callCid: string) => readonly LayoutParticipant[];
  private readonly now: () => Date;
  private readonly destinationPolicy: DestinationPolicy;
  private readonly maxBroadcastsPerCall: number;
  private readonly assertWriter: (callCid: string) => Promise<void>;
  /** Calls whose broadcasts are being handed to another process: engine reports of them are not state changes. */
  private readonly released = new Set<string>();
  /** What the next started event of a resumed broadcast says about the resume (cluster mode). */
  private readonly resumeNotes = new Map<string, JsonObject>();

  constructor(opts: BroadcastStateOptions) {
    super();
    this.store = opts.store;
    this.bus = opts.bus;
    this.log = opts.log;
    this.participants = opts.participants ?? (() => []);
    this.now = opts.now ?? (() => new Date());
    this.destinationPolicy = opts.destinationPolicy ?? new DestinationPolicy();
    this.maxBroadcastsPerCall = opts.maxBroadcastsPerCall ?? DEFAULT_MAX_BROADCASTS_PER_CALL;
    this.assertWriter = opts.assertWriter ?? (async () => undefined);
    this.engine = opts.engine(this);
  }

  /** Live stats of the call's destinations. */
  stats(cid: string): DestinationStats[] {
    return this.engine.stats(cid);
  }

  /**
   * Starts a broadcast of the loaded call (access already checked): stored, then handed to the
   * engine. `by` is who asks: a user's broadcasts are bound by the engine's per-user group limit.
   */
  async start(loaded: LoadedCall, req: BroadcastRequest, by?: Principal): Promise<void> {
    const cid = loaded.call.cid;
    if (loaded.call.ended_at !== null) throw badRequest(`call ${cid} has ended: broadcasts cannot be started`);
    const settings = effectiveSettings(loaded.callType.settings, loaded.call.settings_override);
    if (dig(settings, ['broadcasting', 'enabled']) !== true)
      throw badRequest(`broadcasting is disabled for call ${cid} (settings.broadcasting.enabled)`);
    if (dig(settings, ['broadcasting', 'rtmp', 'enabled']) !== true)
      throw badRequest(`RTMP broadcasting is disabled for call ${cid} (settings.broadcasting.rtmp.enabled)`);
    checkDestination(this.destinationPolicy, req.streamUrl, 'broadcasts[0].stream_url');
    const quality = (req.quality ?? (dig(settings, ['broadcasting', 'rtmp', 'quality']) as Quality | undefined) ?? '720p') as Quality;
    const record: BroadcastRecord = {
      call_cid: cid,
      name: req.name,
      stream_url: req.streamUrl,
      stream_key: req.streamKey,
      quality,
      // A layout of the request's own is kept; otherwise the settings' is followed while it runs.
      layout: req.layout ? toLayoutSettings(req.layout) : settingsLayout(settings),
      layout_source: req.layout ? 'request' : 'settings',
      started_at: this.now().toISOString(),
    };
    await this.assertWriter(cid);
    this.released.delete(cid);
    await this.withinCallLimit(cid);
    if (!(await this.store.addBroadcast(record))) {
      throw badRequest(`a broadcast named "${req.name}" is already active in call ${cid}`);
    }
    // Two starts at once may both have passed the check: the one over the limit goes.
    const order = (await this.store.listBroadcasts(cid))
      .sort((a, b) => a.started_at.localeCompare(b.started_at) || a.name.localeCompare(b.name))
      .map((b) => b.name);
    if (order.indexOf(record.name) >= this.maxBroadcastsPerCall) {
      await this.store.removeBroadcast(cid, record.name);
      await this.withinCallLimit(cid);
    }
    await this.predecessorStopped(cid, record.name);
    try {
      this.engine.start({ ...this.specOf(record), ...(by?.kind === 'user' ? { startedBy: by.userId } : {}) });
    } catch (err) {
      await this.store.removeBroadcast(cid, record.name);
      // Refused by admission (no room for a new encode): answered as the engine words it.
      if (err instanceof ApiError) {
        this.log.warn({ callCid: cid, name: record.name, status: err.status, reason: err.detail }, 'broadcast refused');
        throw err;
      }
      this.log.error({ callCid: cid, name: record.name, err: String(err) }, 'broadcast could not be started');
      this.publish({ type: 'call.rtmp_broadcast_failed', call_cid: cid, name: record.name });
      throw badRequest(`broadcast "${record.name}" could not be started`);
    }
    this.log.info({ callCid: cid, name: record.name, quality }, 'broadcast started');
    this.emit('changed', cid);
  }

  /** Stops the call's active broadcast of that name (404 when there is none). */
  async stop(cid: string, name: string): Promise<void> {
    const record = await this.store.getBroadcast(cid, name);
    if (!record) throw notFound(`no active broadcast named "${name}" in call ${cid}`);
    await this.assertWriter(cid);
    await this.stopRecords(cid, [record]);
  }

  /** Stops every active broadcast of the call. */
  async stopAll(cid: string): Promise<void> {
    await this.assertWriter(cid);
    await this.stopRecords(cid, await this.store.listBroadcasts(cid));
  }

  /**
   * Changes one running broadcast's layout (UpdateRTMPBroadcast, beyond Stream's API): the
   * destination moves to the encode of its new layout at a keyframe under the same session, and
   * the layout is the broadcast's own from then on (settings changes no longer touch it). Its
   * quality cannot change (400); 404 when it is not active. Answers the broadcast's details.
   */
  async update(cid: string, name: string, change: BroadcastUpdate): Promise<JsonObject> {
    const record = await this.store.getBroadcast(cid, name);
    if (!record) throw notFound(`no active broadcast named "${name}" in call ${cid}`);
    if (change.quality !== undefined && change.quality !== record.quality) {
      throw badRequest(
        `the quality of a running broadcast cannot change (broadcast "${name}" runs at ${record.quality}); stop it and start it again`,
      );
    }
    await this.assertWriter(cid);
    if (change.layout !== undefined) await this.applyLayout(record, toLayoutSettings(change.layout), 'request');
    return this.details(cid, name);
  }

  /**
   * The call's settings changed (UpdateCall's settings_override): its running broadcasts that
   * follow the settings take the layout they now give. Never throws (failures are logged).
   */
  async followSettings(loaded: LoadedCall): Promise<number> {
    const cid = loaded.call.cid;
    const settings = effectiveSettings(loaded.callType.settings, loaded.call.settings_override);
    let changed = 0;
    try {
      const updates = followedLayoutUpdates(await this.store.listBroadcasts(cid), settings);
      // Only the owner's encodes can move (in cluster mode, another node's records stay as its
      // encodes are: the call follows at its next update, which goes to the owner).
      if (updates.length) await this.assertWriter(cid);
      for (const u of updates) {
        const record = await this.store.getBroadcast(cid, u.name);
        if (record?.layout_source !== 'settings') continue;
        try {
          await this.applyLayout(record, u.layout, 'settings');
          changed += 1;
        } catch (err) {
          this.log.error({ callCid: cid, name: u.name, err: String(err) }, 'broadcast could not follow the layout settings');
        }
      }
    } catch (err) {
      this.log.error({ callCid: cid, err: String(err) }, 'broadcasts could not follow the layout settings');
    }
    return changed;
  }

  /**
   * A call type's settings changed (UpdateCallType): the running broadcasts of its calls that
   * follow the settings take the layout they now give; each call whose broadcasts changed is
   * announced (`changed`: call.updated with its new effective settings). Never throws (logged).
   */
  async followCallType(callType: CallTypeRecord): Promise<void> {
    try {
      const cids = new Set(
        (await this.store.listBroadcasts())
          .filter((r) => r.layout_source === 'settings' && parseCallCid(r.call_cid)?.type === callType.name)
          .map((r) => r.call_cid),
      );
      for (const cid of cids) {
        const call = await this.store.getCall(cid);
        if (!call) continue;
        if ((await this.followSettings({ call, callType })) > 0) this.emit('changed', cid);
      }
    } catch (err) {
      this.log.error({ callType: callType.name, err: String(err) }, 'broadcasts could not follow the call type settings');
    }
  }

  /** Hands the new layout to the engine, then stores it. */
  private async applyLayout(record: BroadcastRecord, layout: LayoutSettings, source: BroadcastLayoutSource): Promise<void> {
    const cid = record.call_cid;
    try {
      this.engine.changeLayout(cid, record.name, layout);
    } catch (err) {
      this.log.error({ callCid: cid, name: record.name, err: String(err) }, 'broadcast layout could not be changed');
      throw badRequest(`the layout of broadcast "${record.name}" could not be changed`);
    }
    await this.store.updateBroadcastLayout(cid, record.name, layout, source);
    this.log.info({ callCid: cid, name: record.name, layout: layout.name, source }, 'broadcast layout changed');
  }

  /** The active broadcast with its quality, layout and live stats (404 when there is none). */
  async details(cid: string, name: string): Promise<JsonObject> {
    const record = await this.store.getBroadcast(cid, name);
    if (!record) throw notFound(`no active broadcast named "${name}" in call ${cid}`);
    const stats = this.engine.stats(cid).find((s) => s.name === name) ?? null;
    return {
      name: record.name,
      stream_url: record.stream_url,
      stream_key: record.stream_key,
      started_at: record.started_at,
      quality: record.quality,
      layout: record.layout,
      // Beyond Stream's model: whether the layout follows the call's settings or is the broadcast's own.
      layout_source: record.layout_source,
      stats,
    };
  }

  /**
   * Starts on the engine every broadcast the store holds as active (after a restart), or those of
   * one call (cluster mode: this node took the call over). `note` goes into each one's next
   * `call.rtmp_broadcast_started` as `resumed` (beyond Stream's model: why and where it resumed).
   */
  async resume(callCid?: string, note?: JsonObject): Promise<number> {
    if (callCid !== undefined) this.released.delete(callCid);
    const records = await this.store.listBroadcasts(callCid);
    let resumed = 0;
    for (const r of records) {
      if (note) this.resumeNotes.set(`${r.call_cid}\u0000${r.name}`, note);
      try {
        this.engine.start(this.specOf(r));
        resumed++;
        this.log.info({ callCid: r.call_cid, name: r.name }, 'broadcast resumed');
      } catch (err) {
        this.log.error({ callCid: r.call_cid, name: r.name, err: String(err) }, 'broadcast could not be resumed');
        await this.store.removeBroadcast(r.call_cid, r.name);
        this.publish({ type: 'call.rtmp_broadcast_failed', call_cid: r.call_cid, name: r.name });
        this.emit('changed', r.call_cid);
      }
    }
    return resumed;
  }

  /**
   * Stops the call's broadcasts on the engine and leaves their stored state as it is, with no
   * event: another process runs them from now on (cluster mode: the call moved to another node).
   */
  async release(callCid: string): Promise<void> {
    this.released.add(callCid);
    const names = new Set(this.engine.stats(callCid).map((s) => s.name));
    for (const r of await this.store.listBroadcasts(callCid)) names.add(r.name);
    await Promise.allSettled([...names].map((name) => this.engine.stop(callCid, name)));
  }

  /**
   * Service shutdown: engine reports are ignored from now on, so the active broadcasts stay in the
   * store (to be resumed on the next start); then the engine closes.
   */
  async close(): Promise<void> {
    this.closing = true;
    await this.engine.close();
  }

  // ---- EgressListener -----------------------------------------------------------------------

  onStarted(cid: string, name: string): void {
    if (this.closing || this.released.has(cid)) return;
    const key = `${cid}\u0000${name}`;
    const note = this.resumeNotes.get(key);
    this.resumeNotes.delete(key);
    this.publish({ type: 'call.rtmp_broadcast_started', call_cid: cid, name, ...(note ? { resumed: note } : {}) });
  }

  onFailed(cid: string, name: string, reason: string): void {
    if (this.closing || this.released.has(cid)) return;
    this.log.warn({ callCid: cid, name, reason }, 'broadcast failed');
    // A state transition that must not be lost: retried until the store is back if it is away.
    retryWhileUnavailable(() => this.store.removeBroadcast(cid, name), {
      log: this.log,
      what: 'failed broadcast removal',
      abandoned: () => this.closing,
    })
      .then(() => {
        // `error` goes beyond Stream's model (clients ignore unknown fields); the egress words its
        // reasons without stream keys.
        this.publish({ type: 'call.rtmp_broadcast_failed', call_cid: cid, name, error: reason });
        this.emit('changed', cid);
      })
      .catch((err: unknown) => this.log.error({ callCid: cid, name, err: String(err) }, 'failed broadcast could not be removed'));
  }

  onStopped(cid: string, name: string): void {
    if (this.closing || this.released.has(cid)) return;
    this.publish({ type: 'call.rtmp_broadcast_stopped', call_cid: cid, name });
    this.emit('changed', cid);
  }

  // ---- internals ----------------------------------------------------------------------------

  /** The engine's spec of a stored broadcast, with the orientation chosen now. */
  private specOf(r: BroadcastRecord): BroadcastSpec {
    const quality = startQuality(r.quality as Quality, r.layout.detect_orientation, this.participants(r.call_cid));
    return { callCid: r.call_cid, name: r.name, streamUrl: r.stream_url, streamKey: r.stream_key, quality, layout: r.layout };
  }

  /**
   * Removes the broadcasts from the state now, and says so (`changed`: the call response no longer
   * lists them, so clients stop asking for their previews and stats); the engine reports
   * onStopped when each is closed, which can take seconds.
   */
  private async stopRecords(cid: string, records: BroadcastRecord[]): Promise<void> {
    let removed = 0;
    for (const r of records) {
      if (!(await this.store.removeBroadcast(cid, r.name))) continue;
      removed++;
      this.log.info({ callCid: cid, name: r.name }, 'broadcast stop requested');
      const key = `${cid}\u0000${r.name}`;
      this.noteStopRequest(key);
      const done = this.engine
        .stop(cid, r.name)
        .catch((err: unknown) => {
          this.log.error({ callCid: cid, name: r.name, err: String(err) }, 'broadcast did not stop cleanly');
        })
        .finally(() => {
          if (this.stopping.get(key) === done) this.stopping.delete(key);
        });
      this.stopping.set(key, done);
    }
    if (removed > 0) this.emit('changed', cid);
  }

  /** 429 (code 9) when the call already has as many active broadcasts as it may. */
  private async withinCallLimit(cid: string): Promise<void> {
    const active = (await this.store.listBroadcasts(cid)).length;
    if (active >= this.maxBroadcastsPerCall) {
      throw new ApiError(
        429,
        ErrorCodes.rateLimited,
        `call ${cid} already has ${active} active RTMP broadcasts (the limit is ${this.maxBroadcastsPerCall}); stop one first`,
      );
    }
  }

  /**
   * Whether a broadcast of that name was stopped a moment ago (its engine stop is in progress, or
   * was asked less than RECENT_STOP_MS ago): pages that have not heard of the stop yet may still
   * ask for its picture, which is then "no picture" rather than "no such broadcast".
   */
  recentlyStopped(cid: string, name: string): boolean {
    const key = `${cid}\u0000${name}`;
    if (this.stopping.has(key)) return true;
    const at = this.stopRequests.get(key);
    return at !== undefined && Date.now() - at < RECENT_STOP_MS;
  }

  private noteStopRequest(key: string): void {
    const now = Date.now();
    for (const [k, at] of this.stopRequests) if (now - at >= RECENT_STOP_MS) this.stopRequests.delete(k);
    this.stopRequests.set(key, now);
  }

  /** Waits (at most a few seconds) for an engine stop of the same name still in progress. */
  private async predecessorStopped(cid: string, name: string): Promise<void> {
    const pending = this.stopping.get(`${cid}\u0000${name}`);
    if (!pending) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([pending, new Promise<void>((resolve) => (timer = setTimeout(resolve, PREDECESSOR_STOP_WAIT_MS)))]);
    clearTimeout(timer);
  }

  private publish(event: NewEvent): void {
    try {
      this.bus.publish(event);
    } catch (err) {
      this.log.error({ eventType: event.type, err: String(err) }, 'event could not be published');
    }
  }
}
