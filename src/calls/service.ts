/**
 * The calls service: calls, members and RTMP broadcast state, with permission checks and events.
 * It is the egress engine's listener, and keeps broadcast state in the store so it survives a
 * restart. Route handlers parse requests and call it; it never touches HTTP.
 */
import type { Principal } from '../api/auth.js';
import { badRequest, notAllowed, notFound } from '../api/errors.js';
import type { BroadcastEngine, BroadcastSpec, EgressListener } from '../egress/contract.js';
import type { EventBus, WireEvent } from '../events/contract.js';
import type { Quality } from '../layout/settings.js';
import type { BroadcastRecord, CallQuery, CallRecord, CallTypeRecord, JsonObject, MemberRecord, UserRecord } from '../store/records.js';
import { retryWhileUnavailable } from '../store/availability.js';
import type { Store } from '../store/store.js';
import { CAPABILITIES, capabilitiesFor, type Capability } from './capabilities.js';
import { callResponse, memberResponse, unknownUser, userResponse } from './responses.js';
import { dig, effectiveSettings, isPlainObject, mergeSettings } from './settings.js';
import { checkDestination, toLayoutSettings, type BroadcastRequest } from './validation.js';
import { DestinationPolicy } from '../net/destination-policy.js';

export interface Logger {
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
}

export interface CallServiceOptions {
  store: Store;
  bus: EventBus;
  log: Logger;
  /** Base URL for ingress addresses (read per response: the port is known only after listen). */
  publicUrl: () => string;
  now?: () => Date;
  /** Refuses broadcasts to internal addresses written literally (src/net); default: the default policy. */
  destinationPolicy?: DestinationPolicy;
}

/** Where live sessions come from (the media plane): a CallSessionResponse while anyone is in the call. */
export interface CallSessionSource {
  session(cid: string): (JsonObject & { id: string }) | null;
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

/** A call with what a response about it needs. */
export interface LoadedCall {
  call: CallRecord;
  callType: CallTypeRecord;
}

/** How long a start waits for an engine stop of the same broadcast name still in progress. */
const PREDECESSOR_STOP_WAIT_MS = 2_000;

type EventFields = { type: string; call_cid?: string; [key: string]: unknown };

export function callCid(type: string, id: string): string {
  return `${type}:${id}`;
}

export class CallService implements EgressListener {
  private engine: BroadcastEngine | null = null;
  /** Engine stops in progress, so a broadcast restarted under the same name waits for its predecessor. */
  private readonly stopping = new Map<string, Promise<void>>();
  private readonly store: Store;
  private readonly bus: EventBus;
  private readonly log: Logger;
  private readonly publicUrl: () => string;
  private readonly now: () => Date;
  private readonly destinationPolicy: DestinationPolicy;

  constructor(opts: CallServiceOptions) {
    this.store = opts.store;
    this.bus = opts.bus;
    this.log = opts.log;
    this.publicUrl = opts.publicUrl;
    this.now = opts.now ?? (() => new Date());
    this.destinationPolicy = opts.destinationPolicy ?? new DestinationPolicy();
  }

  attachEngine(engine: BroadcastEngine): void {
    this.engine = engine;
  }

  private sessions: CallSessionSource | undefined;

  /** Live sessions (participants) for call responses; without a source, calls have no session. */
  attachSessions(source: CallSessionSource): void {
    this.sessions = source;
  }

  /** Set at shutdown: engine reports are ignored from then on, so active broadcasts stay persisted. */
  private closing = false;

  /** Called before the engine shuts down: broadcast state stays as it is, to be resumed on the next start. */
  beginShutdown(): void {
    this.closing = true;
  }

  private get egress(): BroadcastEngine {
    if (!this.engine) throw new Error('no broadcast engine attached');
    return this.engine;
  }

  private stamp(): string {
    return this.now().toISOString();
  }

  // ---- access -------------------------------------------------------------------------------

  /** Roles the principal holds in the call (app role, membership, call token). */
  async rolesIn(principal: Principal, cid: string): Promise<string[]> {
    if (principal.kind === 'server') return ['admin'];
    const roles = new Set<string>();
    const user = await this.store.getUser(principal.userId);
    roles.add(user?.role ?? 'user');
    const member = await this.store.getMember(cid, principal.userId);
    if (member) roles.add(member.role);
    if (principal.callCids?.includes(cid)) roles.add(principal.role ?? 'call_member');
    return [...roles];
  }

  async capabilitiesIn(principal: Principal, callType: CallTypeRecord, cid: string): Promise<string[]> {
    if (principal.kind === 'server') return [...CAPABILITIES];
    return capabilitiesFor(callType.grants, await this.rolesIn(principal, cid));
  }

  private async require(principal: Principal, callType: CallTypeRecord, cid: string, capability: Capability): Promise<string[]> {
    const caps = await this.capabilitiesIn(principal, callType, cid);
    if (principal.kind === 'user' && !caps.includes(capability)) {
      throw notAllowed(`User '${principal.userId}' is not allowed to perform action ${capability} in scope '${callType.name}'`);
    }
    return caps;
  }

  // ---- loading and responses ----------------------------------------------------------------

  async loadCallType(type: string): Promise<CallTypeRecord> {
    const callType = await this.store.getCallType(type);
    if (!callType) throw notFound(`call type ${type} does not exist`);
    return callType;
  }

  async loadCall(type: string, id: string): Promise<LoadedCall> {
    const callType = await this.loadCallType(type);
    const call = await this.store.getCall(callCid(type, id));
    if (!call) throw notFound(`call ${callCid(type, id)} does not exist`);
    return { call, callType };
  }

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
      stats: this.engine?.stats(loaded.call.cid) ?? [],
    });
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

  /** `{call, members, own_capabilities}` for the principal. */
  async callState(principal: Principal, loaded: LoadedCall, membersLimit?: number): Promise<JsonObject> {
    const [call, members, caps] = await Promise.all([
      this.callJson(loaded),
      this.membersJson(loaded.call.cid, membersLimit),
      this.capabilitiesIn(principal, loaded.callType, loaded.call.cid),
    ]);
    return { call, members, own_capabilities: caps };
  }

  /** Throws unless the call exists and the principal may read it (404/16, 403/17). */
  async authorizeRead(principal: Principal, cid: string): Promise<void> {
    const sep = cid.indexOf(':');
    if (sep <= 0) throw notFound(`call ${cid} does not exist`);
    const loaded = await this.loadCall(cid.slice(0, sep), cid.slice(sep + 1));
    await this.require(principal, loaded.callType, loaded.call.cid, 'read-call');
  }

  // ---- events -------------------------------------------------------------------------------

  private publish(event: EventFields): void {
    try {
      this.bus.publish({ ...event, created_at: this.stamp() } as WireEvent);
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

  /** Fire-and-forget call.updated (used from the egress callbacks). */
  private emitCallUpdated(cid: string): void {
    this.publishCallUpdated(cid).catch((err: unknown) => this.log.error({ callCid: cid, err: String(err) }, 'call.updated could not be built'));
  }

  // ---- calls --------------------------------------------------------------------------------

  async get(principal: Principal, type: string, id: string, membersLimit?: number): Promise<JsonObject> {
    const loaded = await this.loadCall(type, id);
    await this.require(principal, loaded.callType, loaded.call.cid, 'read-call');
    return this.callState(principal, loaded, membersLimit);
  }

  async getOrCreate(principal: Principal, type: string, id: string, input: CreateCallInput, membersLimit?: number): Promise<JsonObject> {
    const callType = await this.loadCallType(type);
    const cid = callCid(type, id);
    const existing = await this.store.getCall(cid);
    if (existing) {
      await this.require(principal, callType, cid, 'read-call');
      return { created: false, ...(await this.callState(principal, { call: existing, callType }, membersLimit)) };
    }
    let creatorId: string;
    if (principal.kind === 'server') {
      const id = input.createdBy?.id ?? input.createdById;
      if (!id) throw badRequest('either data.created_by or data.created_by_id must be provided when using server side auth.');
      creatorId = id;
    } else {
      creatorId = principal.userId;
      await this.require(principal, callType, cid, 'create-call');
      if (input.settingsOverride) await this.require(principal, callType, cid, 'update-call-settings');
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
    const members = dedupeMembers(input.members).map((m) => this.memberRecord(cid, m, now, null));
    const created = await this.store.createCall(call, members);
    const loaded: LoadedCall = { call: created ? call : ((await this.store.getCall(cid)) ?? call), callType };
    const state = await this.callState(principal, loaded, membersLimit);
    if (created) {
      this.publish({ type: 'call.created', call_cid: cid, call: state.call, members: await this.membersJson(cid) });
    }
    return { created, ...state };
  }

  private memberRecord(cid: string, m: MemberInput, now: string, existing: MemberRecord | null): MemberRecord {
    return {
      call_cid: cid,
      user_id: m.user_id,
      role: m.role ?? existing?.role ?? 'call_member',
      custom: m.custom ?? existing?.custom ?? {},
      created_at: existing?.created_at ?? now,
      updated_at: now,
    };
  }

  async update(principal: Principal, type: string, id: string, input: UpdateCallInput): Promise<JsonObject> {
    const loaded = await this.loadCall(type, id);
    const cid = loaded.call.cid;
    await this.require(principal, loaded.callType, cid, 'update-call');
    if (input.settingsOverride) await this.require(principal, loaded.callType, cid, 'update-call-settings');
    const call: CallRecord = {
      ...loaded.call,
      custom: input.custom ?? loaded.call.custom,
      settings_override: input.settingsOverride ? mergeSettings(loaded.call.settings_override, input.settingsOverride) : loaded.call.settings_override,
      starts_at: input.startsAt ?? loaded.call.starts_at,
      updated_at: this.stamp(),
    };
    await this.store.saveCall(call);
    const state = await this.callState(principal, { call, callType: loaded.callType });
    this.publish({ type: 'call.updated', call_cid: cid, call: state.call, capabilities_by_role: loaded.callType.grants });
    return state;
  }

  /** Takes the call out of backstage. */
  async goLive(principal: Principal, type: string, id: string): Promise<JsonObject> {
    const loaded = await this.loadCall(type, id);
    const cid = loaded.call.cid;
    await this.require(principal, loaded.callType, cid, 'update-call');
    if (loaded.call.ended_at !== null) throw badRequest(`call ${cid} has ended`);
    if (loaded.call.live_started_at !== null) return this.callJson(loaded);
    const now = this.stamp();
    const call: CallRecord = { ...loaded.call, live_started_at: now, updated_at: now };
    await this.store.saveCall(call);
    const json = await this.callJson({ call, callType: loaded.callType });
    this.publish({ type: 'call.live_started', call_cid: cid, call: json });
    this.publish({ type: 'call.updated', call_cid: cid, call: json, capabilities_by_role: loaded.callType.grants });
    return json;
  }

  /** Puts the call back in backstage; its RTMP broadcasts stop unless `continueRtmp`. */
  async stopLive(principal: Principal, type: string, id: string, continueRtmp: boolean): Promise<JsonObject> {
    const loaded = await this.loadCall(type, id);
    const cid = loaded.call.cid;
    await this.require(principal, loaded.callType, cid, 'update-call');
    const now = this.stamp();
    const call: CallRecord = { ...loaded.call, live_started_at: null, updated_at: now };
    await this.store.saveCall(call);
    if (!continueRtmp) await this.stopBroadcasts(cid, await this.store.listBroadcasts(cid));
    const json = await this.callJson({ call, callType: loaded.callType });
    this.publish({ type: 'call.updated', call_cid: cid, call: json, capabilities_by_role: loaded.callType.grants });
    return json;
  }

  /** Ends the call and stops all of its broadcasts. */
  async end(principal: Principal, type: string, id: string): Promise<void> {
    const loaded = await this.loadCall(type, id);
    const cid = loaded.call.cid;
    await this.require(principal, loaded.callType, cid, 'end-call');
    const now = this.stamp();
    const call: CallRecord = { ...loaded.call, ended_at: loaded.call.ended_at ?? now, updated_at: now };
    await this.store.saveCall(call);
    await this.stopBroadcasts(cid, await this.store.listBroadcasts(cid));
    const members = await this.membersJson(cid);
    const user = principal.kind === 'user' ? await this.store.getUser(principal.userId) : null;
    const event: EventFields = { type: 'call.ended', call_cid: cid, call: await this.callJson({ call, callType: loaded.callType }), members };
    if (user) event.user = userResponse(user);
    this.publish(event);
    await this.publishCallUpdated(cid);
  }

  async updateMembers(principal: Principal, type: string, id: string, update: MemberInput[], remove: string[]): Promise<JsonObject[]> {
    const loaded = await this.loadCall(type, id);
    const cid = loaded.call.cid;
    if (update.length) await this.require(principal, loaded.callType, cid, 'update-call-member');
    if (remove.length) await this.require(principal, loaded.callType, cid, 'remove-call-member');
    const now = this.stamp();
    const unique = dedupeMembers(update);
    await this.store.ensureUsers(unique.map((m) => m.user_id), now);
    const added: MemberRecord[] = [];
    const updated: MemberRecord[] = [];
    const records: MemberRecord[] = [];
    for (const m of unique) {
      const existing = await this.store.getMember(cid, m.user_id);
      const rec = this.memberRecord(cid, m, now, existing);
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
    const rows = await this.store.queryCalls({ ...query, limit: query.limit + 1 });
    const hasMore = rows.length > query.limit;
    const calls: JsonObject[] = [];
    const types = new Map<string, CallTypeRecord | null>();
    for (const call of rows.slice(0, query.limit)) {
      if (!types.has(call.type)) types.set(call.type, await this.store.getCallType(call.type));
      const callType = types.get(call.type);
      if (!callType) continue;
      if (principal.kind === 'user') {
        const caps = await this.capabilitiesIn(principal, callType, call.cid);
        if (!caps.includes('read-call')) continue;
      }
      calls.push(await this.callState(principal, { call, callType }));
    }
    return { calls, hasMore };
  }

  // ---- broadcasts ---------------------------------------------------------------------------

  async startBroadcast(principal: Principal, type: string, id: string, req: BroadcastRequest): Promise<void> {
    const loaded = await this.loadCall(type, id);
    const cid = loaded.call.cid;
    await this.require(principal, loaded.callType, cid, 'start-broadcast-call');
    if (loaded.call.ended_at !== null) throw badRequest(`call ${cid} has ended: broadcasts cannot be started`);
    const settings = effectiveSettings(loaded.callType.settings, loaded.call.settings_override);
    if (dig(settings, ['broadcasting', 'enabled']) !== true) throw badRequest(`broadcasting is disabled for call ${cid} (settings.broadcasting.enabled)`);
    if (dig(settings, ['broadcasting', 'rtmp', 'enabled']) !== true) throw badRequest(`RTMP broadcasting is disabled for call ${cid} (settings.broadcasting.rtmp.enabled)`);
    checkDestination(this.destinationPolicy, req.streamUrl, 'broadcasts[0].stream_url');
    const quality = (req.quality ?? (dig(settings, ['broadcasting', 'rtmp', 'quality']) as Quality | undefined) ?? '720p') as Quality;
    const layoutSource = req.layout ?? dig(settings, ['broadcasting', 'rtmp', 'layout']);
    const record: BroadcastRecord = {
      call_cid: cid,
      name: req.name,
      stream_url: req.streamUrl,
      stream_key: req.streamKey,
      quality,
      layout: toLayoutSettings(isPlainObject(layoutSource) ? layoutSource : {}),
      started_at: this.stamp(),
    };
    if (!(await this.store.addBroadcast(record))) {
      throw badRequest(`a broadcast named "${req.name}" is already active in call ${cid}`);
    }
    await this.predecessorStopped(cid, record.name);
    try {
      this.egress.start(specOf(record));
    } catch (err) {
      await this.store.removeBroadcast(cid, record.name);
      this.log.error({ callCid: cid, name: record.name, err: String(err) }, 'broadcast could not be started');
      this.publish({ type: 'call.rtmp_broadcast_failed', call_cid: cid, name: record.name });
      throw badRequest(`broadcast "${record.name}" could not be started`);
    }
    this.log.info({ callCid: cid, name: record.name, quality }, 'broadcast started');
    this.emitCallUpdated(cid);
  }

  async stopBroadcast(principal: Principal, type: string, id: string, name: string): Promise<void> {
    const loaded = await this.loadCall(type, id);
    const cid = loaded.call.cid;
    await this.require(principal, loaded.callType, cid, 'stop-broadcast-call');
    const record = await this.store.getBroadcast(cid, name);
    if (!record) throw notFound(`no active broadcast named "${name}" in call ${cid}`);
    await this.stopBroadcasts(cid, [record]);
  }

  async stopAllBroadcasts(principal: Principal, type: string, id: string): Promise<void> {
    const loaded = await this.loadCall(type, id);
    const cid = loaded.call.cid;
    await this.require(principal, loaded.callType, cid, 'stop-broadcast-call');
    await this.stopBroadcasts(cid, await this.store.listBroadcasts(cid));
  }

  /** Removes the broadcasts from the state now; the engine reports onStopped when each is closed. */
  private async stopBroadcasts(cid: string, records: BroadcastRecord[]): Promise<void> {
    for (const r of records) {
      if (!(await this.store.removeBroadcast(cid, r.name))) continue;
      this.log.info({ callCid: cid, name: r.name }, 'broadcast stop requested');
      const key = `${cid}\u0000${r.name}`;
      const done = this.egress
        .stop(cid, r.name)
        .catch((err: unknown) => {
          this.log.error({ callCid: cid, name: r.name, err: String(err) }, 'broadcast did not stop cleanly');
        })
        .finally(() => {
          if (this.stopping.get(key) === done) this.stopping.delete(key);
        });
      this.stopping.set(key, done);
    }
  }

  /** Waits (at most a few seconds) for an engine stop of the same name still in progress. */
  private async predecessorStopped(cid: string, name: string): Promise<void> {
    const pending = this.stopping.get(`${cid}\u0000${name}`);
    if (!pending) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([pending, new Promise<void>((resolve) => (timer = setTimeout(resolve, PREDECESSOR_STOP_WAIT_MS)))]);
    clearTimeout(timer);
  }

  async broadcastDetails(principal: Principal, type: string, id: string, name: string): Promise<JsonObject> {
    const loaded = await this.loadCall(type, id);
    const cid = loaded.call.cid;
    await this.require(principal, loaded.callType, cid, 'read-call');
    const record = await this.store.getBroadcast(cid, name);
    if (!record) throw notFound(`no active broadcast named "${name}" in call ${cid}`);
    const stats = this.egress.stats(cid).find((s) => s.name === name) ?? null;
    return {
      name: record.name,
      stream_url: record.stream_url,
      stream_key: record.stream_key,
      started_at: record.started_at,
      quality: record.quality,
      layout: record.layout,
      stats,
    };
  }

  /** Starts on the engine every broadcast the store holds as active (after a restart). */
  async resumeBroadcasts(): Promise<number> {
    const records = await this.store.listBroadcasts();
    let resumed = 0;
    for (const r of records) {
      try {
        this.egress.start(specOf(r));
        resumed++;
        this.log.info({ callCid: r.call_cid, name: r.name }, 'broadcast resumed');
      } catch (err) {
        this.log.error({ callCid: r.call_cid, name: r.name, err: String(err) }, 'broadcast could not be resumed');
        await this.store.removeBroadcast(r.call_cid, r.name);
        this.publish({ type: 'call.rtmp_broadcast_failed', call_cid: r.call_cid, name: r.name });
        this.emitCallUpdated(r.call_cid);
      }
    }
    return resumed;
  }

  // ---- EgressListener -----------------------------------------------------------------------

  onStarted(cid: string, name: string): void {
    if (this.closing) return;
    this.publish({ type: 'call.rtmp_broadcast_started', call_cid: cid, name });
  }

  onFailed(cid: string, name: string, reason: string): void {
    if (this.closing) return;
    this.log.warn({ callCid: cid, name, reason }, 'broadcast failed');
    // A state transition that must not be lost: retried until the store is back if it is away.
    retryWhileUnavailable(() => this.store.removeBroadcast(cid, name), { log: this.log, what: 'failed broadcast removal', abandoned: () => this.closing })
      .then(() => {
        // `error` goes beyond Stream's model (clients ignore unknown fields); the egress words its
        // reasons without stream keys.
        this.publish({ type: 'call.rtmp_broadcast_failed', call_cid: cid, name, error: reason });
        this.emitCallUpdated(cid);
      })
      .catch((err: unknown) => this.log.error({ callCid: cid, name, err: String(err) }, 'failed broadcast could not be removed'));
  }

  onStopped(cid: string, name: string): void {
    if (this.closing) return;
    this.publish({ type: 'call.rtmp_broadcast_stopped', call_cid: cid, name });
    this.emitCallUpdated(cid);
  }
}

function specOf(r: BroadcastRecord): BroadcastSpec {
  return { callCid: r.call_cid, name: r.name, streamUrl: r.stream_url, streamKey: r.stream_key, quality: r.quality as Quality, layout: r.layout };
}

function dedupeMembers(members: MemberInput[]): MemberInput[] {
  const seen = new Map<string, MemberInput>();
  for (const m of members) seen.set(m.user_id, m);
  return [...seen.values()];
}
