/**
 * Call access in one place: which roles a principal holds in a call, which capabilities follow from
 * the call type's grants, and the checks every surface uses (REST, WHIP, the event WebSocket, the
 * previews). Throws the wire contract's errors; knows nothing of HTTP.
 */
import type { CallRecord, CallTypeRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import { callCid, parseCallCid } from '../wire/call-cid.js';
import { badRequest, notAllowed, notFound } from '../wire/errors.js';
import type { JsonObject } from '../wire/json.js';
import type { Principal } from '../wire/principal.js';
import { CAPABILITIES, capabilitiesFor, RECORDER_CAPABILITIES, RECORDER_ROLE, type Capability } from './capabilities.js';
import { dig, effectiveSettings } from './settings.js';
import { audienceOf, type CallAudience } from './visibility.js';

/** A call with its type. */
export interface LoadedCall {
  call: CallRecord;
  callType: CallTypeRecord;
}

/** What a publisher may do in a call (the media plane's PublisherIdentity fits it). */
export interface PublisherGrant {
  userId: string;
  name?: string;
  image?: string;
  roles: string[];
  canSendAudio: boolean;
  canSendVideo: boolean;
  canScreenshare: boolean;
  /** The call's `limits.max_participants`, when it has one. */
  maxParticipants?: number;
  /** Not counted against (nor bound by) max_participants: the owner with `max_participants_exclude_owner`, or an excluded role. */
  exemptFromLimit?: boolean;
}

/**
 * The participant limit of a call for a publisher, from the call's effective settings: `max`
 * (absent: none) and whether the publisher is left out of the count. Pure.
 */
export function participantLimitOf(
  settings: JsonObject,
  call: Pick<CallRecord, 'created_by_id'>,
  userId: string,
  roles: readonly string[],
): { max?: number; exempt: boolean } {
  const max = dig(settings, ['limits', 'max_participants']);
  if (typeof max !== 'number' || !Number.isInteger(max) || max <= 0) return { exempt: false };
  const excludeOwner = dig(settings, ['limits', 'max_participants_exclude_owner']) === true;
  const excludedRoles = dig(settings, ['limits', 'max_participants_exclude_roles']);
  const exempt =
    (excludeOwner && call.created_by_id === userId) || (Array.isArray(excludedRoles) && roles.some((r) => excludedRoles.includes(r)));
  return { max, exempt };
}

export class Access {
  constructor(private readonly store: Store) {}

  async loadCallType(type: string): Promise<CallTypeRecord> {
    const callType = await this.store.getCallType(type);
    if (!callType) throw notFound(`call type ${type} does not exist`);
    return callType;
  }

  /** The call and its type; 404 (code 16) when either does not exist. */
  async loadCall(type: string, id: string): Promise<LoadedCall> {
    const callType = await this.loadCallType(type);
    const cid = callCid(type, id);
    const call = await this.store.getCall(cid);
    if (!call) throw notFound(`call ${cid} does not exist`);
    return { call, callType };
  }

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

  /** The capabilities (own_capabilities) of the principal in the call; a server token has all. */
  async capabilitiesIn(principal: Principal, callType: CallTypeRecord, cid: string): Promise<string[]> {
    if (principal.kind === 'server') return [...CAPABILITIES];
    if (principal.role === RECORDER_ROLE) return principal.callCids?.includes(cid) ? [...RECORDER_CAPABILITIES] : [];
    return capabilitiesFor(callType.grants, await this.rolesIn(principal, cid));
  }

  /** Whether the principal may do `capability` in the call; false when the call does not exist. */
  async can(principal: Principal, cid: string, capability: Capability): Promise<boolean> {
    const parsed = parseCallCid(cid);
    if (!parsed) return false;
    const call = await this.store.getCall(cid);
    if (!call) return false;
    const callType = await this.store.getCallType(call.type);
    if (!callType) return false;
    return (await this.capabilitiesIn(principal, callType, cid)).includes(capability);
  }

  /**
   * Throws 403 (code 17) unless the principal may do `capability` in the call `cid` of that type
   * (which need not exist yet: creation is checked this way); returns its capabilities.
   */
  async require(principal: Principal, callType: CallTypeRecord, cid: string, capability: Capability): Promise<string[]> {
    const caps = await this.capabilitiesIn(principal, callType, cid);
    if (principal.kind === 'user' && !caps.includes(capability)) {
      throw notAllowed(`User '${principal.userId}' is not allowed to perform action ${capability} in scope '${callType.name}'`);
    }
    return caps;
  }

  /** Loads the call and requires the capability in it (404/16, 403/17). */
  async requireIn(principal: Principal, type: string, id: string, capability: Capability): Promise<LoadedCall> {
    const loaded = await this.loadCall(type, id);
    await this.require(principal, loaded.callType, loaded.call.cid, capability);
    return loaded;
  }

  /** Throws unless the call exists and the principal may read it (404/16, 403/17). */
  async requireRead(principal: Principal, cid: string): Promise<LoadedCall> {
    const parsed = parseCallCid(cid);
    if (!parsed) throw notFound(`call ${cid} does not exist`);
    return this.requireIn(principal, parsed.type, parsed.id, 'read-call');
  }

  /** For app-level operations only a server token may do (403/17 otherwise). */
  requireServer(principal: Principal, what: string): void {
    if (principal.kind !== 'server') throw notAllowed(`${what} requires server-side authentication`);
  }

  /**
   * For the operations views beyond Stream's API (dead webhook deliveries, the cluster): a server
   * token, or a user whose app role is `admin` (the console's operator); 403/17 otherwise.
   */
  async requireOperator(principal: Principal, what: string): Promise<void> {
    if (principal.kind === 'server') return;
    if (principal.role !== RECORDER_ROLE && (await this.store.getUser(principal.userId))?.role === 'admin') return;
    throw notAllowed(`${what} needs a server token or a user with the admin role`);
  }

  /** The principal's audience in the call: operators see its stream keys (see visibility.ts). */
  async audience(principal: Principal, callType: CallTypeRecord, cid: string): Promise<CallAudience> {
    return audienceOf(await this.capabilitiesIn(principal, callType, cid));
  }

  /**
   * Whether a connected user receives the call's events (a call token naming the call, or
   * `read-call` in it) and as which audience; null when not at all.
   */
  async eventAudience(principal: Principal, cid: string): Promise<CallAudience | null> {
    if (!parseCallCid(cid)) return null;
    const call = await this.store.getCall(cid);
    const callType = call ? await this.store.getCallType(call.type) : null;
    const caps = callType ? await this.capabilitiesIn(principal, callType, cid) : [];
    if (caps.includes('read-call') || (principal.kind === 'user' && principal.callCids?.includes(cid))) return audienceOf(caps);
    return null;
  }

  /**
   * Who publishes into the call and what they may send: a user token (the publisher is a
   * participant) with `join-call` in a call that has not ended.
   */
  async publisher(principal: Principal, type: string, id: string): Promise<PublisherGrant> {
    if (principal.kind !== 'user') throw notAllowed('publishing needs a user token (the publisher is a participant)');
    const { call, callType } = await this.loadCall(type, id);
    if (call.ended_at !== null) throw badRequest(`call ${call.cid} has ended`);
    const caps = await this.capabilitiesIn(principal, callType, call.cid);
    if (!caps.includes('join-call')) throw notAllowed(`user "${principal.userId}" may not join call ${call.cid} (join-call)`);
    const user = await this.store.getUser(principal.userId);
    const roles = await this.rolesIn(principal, call.cid);
    const limit = participantLimitOf(effectiveSettings(callType.settings, call.settings_override), call, principal.userId, roles);
    return {
      userId: principal.userId,
      ...(user?.name ? { name: user.name } : {}),
      ...(user?.image ? { image: user.image } : {}),
      roles,
      canSendAudio: caps.includes('send-audio'),
      canSendVideo: caps.includes('send-video'),
      canScreenshare: caps.includes('screenshare'),
      ...(limit.max !== undefined ? { maxParticipants: limit.max, exemptFromLimit: limit.exempt } : {}),
    };
  }
}
