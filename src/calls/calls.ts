/**
 * Calls and their members: creation, updates, going live and back, ending, member changes,
 * queries, and the call views (CallResponse with members and own_capabilities) every answer and
 * call event carries. Access is checked through `Access`; broadcasts are `BroadcastState`'s.
 */
import type { EventBus, NewEvent } from '../events/contract.js';
import type { Logger } from '../log.js';
import type { CallFilter, CallQuery, CallRecord, CallTypeRecord, MemberRecord, UserRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import { callCid } from '../wire/call-cid.js';
import { ApiError, badRequest } from '../wire/errors.js';
import type { JsonObject } from '../wire/json.js';
import type { Principal } from '../wire/principal.js';
import type { Access, LoadedCall } from './access.js';
import type { BroadcastState } from './broadcasts.js';
import type { HlsState } from './hls.js';
import type { RecordingState } from './recordings.js';
import { callResponse, memberResponse, unknownUser, userResponse } from './responses.js';
import { mergeSettings } from './settings.js';
import { audienceOf, callForAudience } from './visibility.js';

/** Where live sessions come from: a CallSessionResponse while anyone is in the call (LiveSessions fits). */
export interface CallSessionSource {
  session(cid: string): (JsonObject & { id: string }) | null;
  /** The cids of the calls with a live session (QueryCalls' `ongoing`). */
  liveCids?(): string[];
}

export interface CallServiceOptions {
  store: Store;
  bus: EventBus;
  log: Logger;
  access: Access;
  broadcasts: BroadcastState;
  /** HLS broadcasts (call.egress.hls, goLive start_hls, stopped at call end). */
  hls?: HlsState;
  /** Composite recordings (call.recording, goLive start_recording, stopped at call end). */
  recordings?: RecordingState;
  sessions?: CallSessionSource;
  /** Base URL for ingress addresses (read per response: the port is known only after listen). */
  publicUrl: () => string;
  now?: () => Date;
}

export interface MemberInput {
  user_id: string;
  role?: string;
  custom?: JsonObject;
}

export interface CreateCallInput {
  createdById?: string;
  createdBy?: UserRecord;
  members: MemberInput[];
  custom?: JsonObject;
  settingsOverride?: JsonObject;
  startsAt?: string;
  team?: string;
}

export interface UpdateCallInput {
  custom?: JsonObject;
  settingsOverride?: JsonObject;
  startsAt?: string;
}

export class CallService {
  private readonly store: Store;
  private readonly bus: EventBus;
  private readonly log: Logger;
  private readonly access: Access;
  private readonly broadcasts: BroadcastState;
  private readonly hls: HlsState | undefined;
  private readonly recordings: RecordingState | undefined;
  private readonly sessions: CallSessionSource | undefined;
  private readonly publicUrl: () => string;
  private readonly now: () => Date;
  /** The call.updated being built per call (emitCallUpdated runs them in order). */
  private readonly updating = new Map<string, Promise<void>>();

  constructor(opts: CallServiceOptions) {
    this.store = opts.store;
    this.bus = opts.bus;
    this.log = opts.log;
    this.access = opts.access;
    this.broadcasts = opts.broadcasts;
    this.hls = opts.hls;
    this.recordings = opts.recordings;
    this.sessions = opts.sessions;
    this.publicUrl = opts.publicUrl;
    this.now = opts.now ?? (() => new Date());
    // A call whose broadcasts changed has a new call response: announce it.
    this.broadcasts.on('changed', (cid) => this.emitCallUpdated(cid));
    this.hls?.on('changed', (cid) => this.emitCallUpdated(cid));
    this.recordings?.on('changed', (cid) => this.emitCallUpdated(cid));
    if (this.hls) this.hls.callJson = (cid) => this.callJsonOf(cid);
  }

  private stamp(): string {
    return this.now().toISOString();
  }

  // ---- views --------------------------------------------------------------------------------

  async callJson(loaded: LoadedCall): Promise<JsonObject> {
    const [creator, broadcasts] = await Promise.all([
      this.store.getUser(loaded.call.created_by_id),
      this.store.listBroadcasts(loaded.call.cid),
    ]);
    const session = this.sessions?.session(loaded.call.cid) ?? null;
    return callResponse({
      call: loaded.call,
      callType: loaded.callType,
      createdBy: creator ?? unknownUser(loaded.call.created_by_id, loaded.call.created_at),
      broadcasts,
      publicUrl: this.publicUrl(),
      ...(session ? { session } : {}),
      stats: this.broadcasts.stats(loaded.call.cid),
      hls: (await this.hls?.egressView(loaded.call.cid)) ?? null,
      recording: (await this.recordings?.egressView(loaded.call.cid)) ?? null,
    });
  }

  /** The call response of a call by cid, or null when it (or its type) does not exist. */
  async callJsonOf(cid: string): Promise<JsonObject | null> {
    const call = await this.store.getCall(cid);
    if (!call) return null;
    const callType = await this.store.getCallType(call.type);
    return callType ? this.callJson({ call, callType }) : null;
  }

  async membersJson(cid: string, limit?: number): Promise<JsonObject[]> {
    const members = await this.store.listMembers(cid);
    const shown = limit === undefined ? members : members.slice(0, limit);
    return this.memberList(shown);
  }

  private async memberList(members: MemberRecord[]): Promise<JsonObject[]> {
    const users = await this.store.getUsers(members.map((m) => m.user_id));
    return members.map((m) => memberResponse(m, users.get(m.user_id) ?? unknownUser(m.user_id, m.created_at)));
  }

  /** `{call, members, own_capabilities}` for the principal (stream keys only to operators). */
  async callState(principal: Principal, loaded: LoadedCall, membersLimit?: number): Promise<JsonObject> {
    const [call, members, caps] = await Promise.all([
      this.callJson(loaded),
      this.membersJson(loaded.call.cid, membersLimit),
      this.access.capabilitiesIn(principal, loaded.callType, loaded.call.cid),
    ]);
    return { call: callForAudience(call, audienceOf(caps)), members, own_capabilities: caps };
  }

  /** The call response as the principal sees it (stream keys only to operators). */
  private async callJsonFor(principal: Principal, loaded: LoadedCall, full: JsonObject): Promise<JsonObject> {
    return callForAudience(full, await this.access.audience(principal, loaded.callType, loaded.call.cid));
  }

  // ---- events -------------------------------------------------------------------------------

  private publish(event: NewEvent): void {
    try {
      this.bus.publish(event);
    } catch (err) {
      this.log.error({ eventType: event.type, err: String(err) }, 'event could not be published');
    }
  }

  private async publishCallUpdated(cid: string): Promise<void> {
    const call = await this.store.getCall(cid);
    if (!call) return;
    const callType = await this.store.getCallType(call.type);
    if (!callType) return;
    this.publish({
      type: 'call.updated',
      call_cid: cid,
      call: await this.callJson({ call, callType }),
      capabilities_by_role: callType.grants,
    });
  }

  /**
   * Fire-and-forget call.updated (after broadcast, HLS or recording changes), one call at a time
   * per call: each is built after the previous one was published, so a view read from the store
   * before a change can never be published after the view that shows it.
   */
  private emitCallUpdated(cid: string): void {
    const next = (this.updating.get(cid) ?? Promise.resolve())
      .then(() => this.publishCallUpdated(cid))
      .catch((err: unknown) => this.log.error({ callCid: cid, err: String(err) }, 'call.updated could not be built'))
      .finally(() => {
        if (this.updating.get(cid) === next) this.updating.delete(cid);
      });
    this.updating.set(cid, next);
  }

  // ---- calls --------------------------------------------------------------------------------

  async get(principal: Principal, type: string, id: string, membersLimit?: number): Promise<JsonObject> {
    const loaded = await this.access.requireIn(principal, type, id, 'read-call');
    return this.callState(principal, loaded, membersLimit);
  }

  async getOrCreate(principal: Principal, type: string, id: string, input: CreateCallInput, membersLimit?: number): Promise<JsonObject> {
    const callType = await this.access.loadCallType(type);
    const cid = callCid(type, id);
    const existing = await this.store.getCall(cid);
    if (existing) {
      const loaded = { call: existing, callType };
      await this.access.require(principal, callType, cid, 'read-call');
      return { created: false, ...(await this.callState(principal, loaded, membersLimit)) };
    }
    let creatorId: string;
    if (principal.kind === 'server') {
      const id = input.createdBy?.id ?? input.createdById;
      if (!id) throw badRequest('either data.created_by or data.created_by_id must be provided when using server side auth.');
      creatorId = id;
    } else {
      creatorId = principal.userId;
      await this.access.require(principal, callType, cid, 'create-call');
      if (input.settingsOverride) await this.access.require(principal, callType, cid, 'update-call-settings');
      // Roles are granted only by those who may manage members (or the server side).
      if (input.members.some((m) => m.role !== undefined)) await this.access.require(principal, callType, cid, 'update-call-member');
    }
    const now = this.stamp();
    if (input.createdBy) await this.store.upsertUsers([input.createdBy]);
    await this.store.ensureUsers([creatorId, ...input.members.map((m) => m.user_id)], now);
    const call: CallRecord = {
      cid,
      type,
      id,
      created_by_id: creatorId,
      custom: input.custom ?? {},
      settings_override: input.settingsOverride ?? {},
      team: input.team ?? null,
      starts_at: input.startsAt ?? null,
      ended_at: null,
      live_started_at: null,
      created_at: now,
      updated_at: now,
    };
    const members = dedupeMembers(input.members).map((m) => memberRecord(cid, m, now, null));
    const created = await this.store.createCall(call, members);
    const loaded: LoadedCall = { call: created ? call : ((await this.store.getCall(cid)) ?? call), callType };
    const state = await this.callState(principal, loaded, membersLimit);
    if (created) {
      this.publish({ type: 'call.created', call_cid: cid, call: state.call, members: await this.membersJson(cid) });
    }
    return { created, ...state };
  }

  async update(principal: Principal, type: string, id: string, input: UpdateCallInput): Promise<JsonObject> {
    const loaded = await this.access.requireIn(principal, type, id, 'update-call');
    const cid = loaded.call.cid;
    if (input.settingsOverride) await this.access.require(principal, loaded.callType, cid, 'update-call-settings');
    const call: CallRecord = {
      ...loaded.call,
      custom: input.custom ?? loaded.call.custom,
      settings_override: input.settingsOverride
        ? mergeSettings(loaded.call.settings_override, input.settingsOverride)
        : loaded.call.settings_override,
      starts_at: input.startsAt ?? loaded.call.starts_at,
      updated_at: this.stamp(),
    };
    await this.store.saveCall(call);
    const updated: LoadedCall = { call, callType: loaded.callType };
    // Running broadcasts that follow the RTMP layout settings take the new layout, and a running
    // HLS broadcast and recording the HLS and recording layouts (the call.updated below carries
    // the new settings).
    if (input.settingsOverride) {
      await this.broadcasts.followSettings(updated);
      await this.hls?.followSettings(updated);
      await this.recordings?.followSettings(updated);
    }
    const state = await this.callState(principal, updated);
    this.publish({ type: 'call.updated', call_cid: cid, call: await this.callJson(updated), capabilities_by_role: loaded.callType.grants });
    return state;
  }

  /**
   * Takes the call out of backstage, first starting HLS and a recording when asked (each with
   * its capability; if one cannot start, what was started for it is stopped and the call stays
   * in backstage).
   */
  async goLive(principal: Principal, type: string, id: string, start: { hls?: boolean; recording?: boolean } = {}): Promise<JsonObject> {
    const loaded = await this.access.requireIn(principal, type, id, 'update-call');
    const cid = loaded.call.cid;
    if (loaded.call.ended_at !== null) throw badRequest(`call ${cid} has ended`);
    if (start.hls) await this.access.require(principal, loaded.callType, cid, 'start-broadcast-call');
    if (start.recording) await this.access.require(principal, loaded.callType, cid, 'start-record-call');
    if (start.hls && !this.hls) throw badRequest('start_hls is not supported by this server');
    if (start.recording && !this.recordings) throw badRequest('start_recording is not supported by this server');
    // A refusal names the flag it answers (start_hls: HLS broadcasting is disabled ...).
    const naming =
      (flag: string) =>
      (err: unknown): never => {
        if (err instanceof ApiError) throw new ApiError(err.status, err.code, `${flag}: ${err.detail}`, err.retryAfterSeconds);
        throw err;
      };
    let startedHls = false;
    if (start.hls && this.hls && !this.hls.active(cid)) {
      await this.hls.start(loaded).catch(naming('start_hls'));
      startedHls = true;
    }
    if (start.recording && this.recordings && !this.recordings.active(cid)) {
      try {
        await this.recordings.start(loaded).catch(naming('start_recording'));
      } catch (err) {
        if (startedHls) await this.hls?.stopForCall(cid);
        throw err;
      }
    }
    if (loaded.call.live_started_at !== null) return this.callJsonFor(principal, loaded, await this.callJson(loaded));
    const now = this.stamp();
    const call: CallRecord = { ...loaded.call, live_started_at: now, updated_at: now };
    await this.store.saveCall(call);
    const json = await this.callJson({ call, callType: loaded.callType });
    this.publish({ type: 'call.live_started', call_cid: cid, call: json });
    this.publish({ type: 'call.updated', call_cid: cid, call: json, capabilities_by_role: loaded.callType.grants });
    return this.callJsonFor(principal, loaded, json);
  }

  /** Puts the call back in backstage; its RTMP broadcasts, HLS and recording stop unless continued. */
  async stopLive(
    principal: Principal,
    type: string,
    id: string,
    continueRtmp: boolean,
    keep: { hls?: boolean; recording?: boolean } = {},
  ): Promise<JsonObject> {
    const loaded = await this.access.requireIn(principal, type, id, 'update-call');
    const cid = loaded.call.cid;
    // Stopping the call's broadcasts (started by whoever) is stop-broadcast-call's to do.
    if (!continueRtmp && (await this.store.listBroadcasts(cid)).length > 0) {
      await this.access.require(principal, loaded.callType, cid, 'stop-broadcast-call');
    }
    const now = this.stamp();
    const call: CallRecord = { ...loaded.call, live_started_at: null, updated_at: now };
    await this.store.saveCall(call);
    if (!continueRtmp) await this.broadcasts.stopAll(cid);
    if (!keep.hls) await this.hls?.stopForCall(cid);
    if (!keep.recording) await this.recordings?.stopForCall(cid);
    const json = await this.callJson({ call, callType: loaded.callType });
    this.publish({ type: 'call.updated', call_cid: cid, call: json, capabilities_by_role: loaded.callType.grants });
    return this.callJsonFor(principal, loaded, json);
  }

  /** Ends the call and stops all of its broadcasts; `reason` (e.g. a limit) goes into `call.ended`. */
  async end(principal: Principal, type: string, id: string, reason?: string): Promise<void> {
    const loaded = await this.access.requireIn(principal, type, id, 'end-call');
    const cid = loaded.call.cid;
    const now = this.stamp();
    const call: CallRecord = { ...loaded.call, ended_at: loaded.call.ended_at ?? now, updated_at: now };
    await this.store.saveCall(call);
    await this.broadcasts.stopAll(cid);
    await this.hls?.stopForCall(cid);
    await this.recordings?.stopForCall(cid);
    const members = await this.membersJson(cid);
    const user = principal.kind === 'user' ? await this.store.getUser(principal.userId) : null;
    const event: NewEvent = { type: 'call.ended', call_cid: cid, call: await this.callJson({ call, callType: loaded.callType }), members };
    if (user) event.user = userResponse(user);
    if (reason) event.reason = reason;
    this.publish(event);
    await this.publishCallUpdated(cid);
  }

  async updateMembers(principal: Principal, type: string, id: string, update: MemberInput[], remove: string[]): Promise<JsonObject[]> {
    const loaded = await this.access.loadCall(type, id);
    const cid = loaded.call.cid;
    if (update.length) await this.access.require(principal, loaded.callType, cid, 'update-call-member');
    if (remove.length) await this.access.require(principal, loaded.callType, cid, 'remove-call-member');
    const now = this.stamp();
    const unique = dedupeMembers(update);
    await this.store.ensureUsers(
      unique.map((m) => m.user_id),
      now,
    );
    const added: MemberRecord[] = [];
    const updated: MemberRecord[] = [];
    const records: MemberRecord[] = [];
    for (const m of unique) {
      const existing = await this.store.getMember(cid, m.user_id);
      const rec = memberRecord(cid, m, now, existing);
      records.push(rec);
      (existing ? updated : added).push(rec);
    }
    await this.store.upsertMembers(records);
    const removeIds = [...new Set(remove)].filter((uid) => !unique.some((m) => m.user_id === uid));
    const present = (await this.store.listMembers(cid)).filter((m) => removeIds.includes(m.user_id)).map((m) => m.user_id);
    await this.store.removeMembers(cid, removeIds);

    const call = await this.callJson(loaded);
    if (added.length) this.publish({ type: 'call.member_added', call_cid: cid, call, members: await this.memberList(added) });
    if (updated.length) this.publish({ type: 'call.member_updated', call_cid: cid, call, members: await this.memberList(updated) });
    if (present.length) this.publish({ type: 'call.member_removed', call_cid: cid, call, members: present });
    if (added.length || updated.length || present.length) {
      this.publish({ type: 'call.updated', call_cid: cid, call, capabilities_by_role: loaded.callType.grants });
    }
    // Members in request order (as Stream answers).
    return this.memberList(records);
  }

  /** QueryCalls; with a user token only the calls the user may read are returned. */
  async query(principal: Principal, query: CallQuery): Promise<{ calls: JsonObject[]; hasMore: boolean }> {
    const filter = query.filter && withLiveCids(query.filter, () => this.sessions?.liveCids?.() ?? []);
    const rows = await this.store.queryCalls({ ...query, filter, limit: query.limit + 1 });
    const hasMore = rows.length > query.limit;
    const calls: JsonObject[] = [];
    const types = new Map<string, CallTypeRecord | null>();
    for (const call of rows.slice(0, query.limit)) {
      if (!types.has(call.type)) types.set(call.type, await this.store.getCallType(call.type));
      const callType = types.get(call.type);
      if (!callType) continue;
      if (principal.kind === 'user') {
        const caps = await this.access.capabilitiesIn(principal, callType, call.cid);
        if (!caps.includes('read-call')) continue;
      }
      calls.push(await this.callState(principal, { call, callType }));
    }
    return { calls, hasMore };
  }
}

/** The filter with `ongoing` told which calls have a live session. */
function withLiveCids(f: CallFilter, liveCids: () => string[]): CallFilter {
  if (f.kind === 'and' || f.kind === 'or') return { ...f, items: f.items.map((i) => withLiveCids(i, liveCids)) };
  if (f.kind === 'ongoing') return { ...f, liveCids: liveCids() };
  return f;
}

function memberRecord(cid: string, m: MemberInput, now: string, existing: MemberRecord | null): MemberRecord {
  return {
    call_cid: cid,
    user_id: m.user_id,
    role: m.role ?? existing?.role ?? 'call_member',
    custom: m.custom ?? existing?.custom ?? {},
    created_at: existing?.created_at ?? now,
    updated_at: now,
  };
}

function dedupeMembers(members: MemberInput[]): MemberInput[] {
  const seen = new Map<string, MemberInput>();
  for (const m of members) seen.set(m.user_id, m);
  return [...seen.values()];
}
