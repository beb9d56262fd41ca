/**
 * Admission of new broadcast groups: a new encode (an RTMP broadcast that needs a group of its
 * own, an HLS track, a recording) is refused with a clear error, rather than started to slow
 * every running encode down, when the measured state says the machine is full: a running group
 * is behind real time (`degraded`), or the service's recent CPU use is over the threshold. A
 * user's broadcasts may also have created at most so many running groups. Joining a running
 * group costs no encode and is always admitted (the engine does not ask). `admitNewGroup` is
 * pure over measured figures; the measuring is at the edge (load.ts, the groups' health).
 */
import { ApiError, ErrorCodes } from '../wire/errors.js';

export interface AdmissionPolicy {
  /** Refuse a new group while any running group is degraded. */
  refuseWhileDegraded: boolean;
  /** Refuse above this share of all cores (0..1) used by the service and its children; null: not checked. */
  maxCpuShare: number | null;
  /** Running groups one user's requests may have created; null: no bound. Server requests are not bound. */
  maxGroupsPerUser: number | null;
}

/** Nothing refused: the engine's behaviour without a policy. */
export const OPEN_ADMISSION: Readonly<AdmissionPolicy> = Object.freeze({
  refuseWhileDegraded: false,
  maxCpuShare: null,
  maxGroupsPerUser: null,
});

/** A running group as admission sees it (BroadcastGroupHealth fits). */
export interface AdmissionGroup {
  callCid: string;
  quality: string;
  degraded: boolean;
  realtimeRatio: number | null;
}

export interface AdmissionFigures {
  groups: readonly AdmissionGroup[];
  /** The service's CPU (itself and its children) over the last seconds as a share of all cores; null: not known yet. */
  cpuShare: number | null;
  /** Who asks for the group: a user id, or null for the server side (server tokens, resumes). */
  requester: string | null;
  /** Running groups the requester's requests created. */
  requesterGroups: number;
}

export type AdmissionRefusal = 'user_groups' | 'degraded' | 'cpu';

export type AdmissionDecision = { admit: true } | { admit: false; reason: AdmissionRefusal; detail: string };

const percent = (share: number) => `${Math.round(share * 100)}%`;

/** Whether a new group may start, from the measured figures. Pure. */
export function admitNewGroup(figures: AdmissionFigures, policy: AdmissionPolicy): AdmissionDecision {
  const { requester, requesterGroups } = figures;
  if (requester !== null && policy.maxGroupsPerUser !== null && requesterGroups >= policy.maxGroupsPerUser) {
    return {
      admit: false,
      reason: 'user_groups',
      detail:
        `user "${requester}" already runs ${requesterGroups} broadcast encodes (the limit is ${policy.maxGroupsPerUser}); ` +
        'stop one, or use a quality and layout of a running broadcast of the call',
    };
  }
  if (policy.refuseWhileDegraded) {
    const behind = figures.groups.filter((g) => g.degraded);
    if (behind.length > 0) {
      const g = behind[0]!;
      const ratio = g.realtimeRatio === null ? '' : ` at ${g.realtimeRatio.toFixed(2)}x real time`;
      return {
        admit: false,
        reason: 'degraded',
        detail:
          `the server is at capacity: ${behind.length} running broadcast encode${behind.length === 1 ? ' is' : 's are'} ` +
          `behind real time (${g.callCid} ${g.quality}${ratio}); a new encode is refused until ${behind.length === 1 ? 'it catches' : 'they catch'} up`,
      };
    }
  }
  if (policy.maxCpuShare !== null && figures.cpuShare !== null && figures.cpuShare > policy.maxCpuShare) {
    return {
      admit: false,
      reason: 'cpu',
      detail:
        `the server is at capacity: it uses ${percent(figures.cpuShare)} of its CPU (the admission limit is ` +
        `${percent(policy.maxCpuShare)}); a new encode is refused until the load goes down`,
    };
  }
  return { admit: true };
}

/** How long a client refused for load should wait before asking again (Retry-After). */
export const LOAD_RETRY_AFTER_SECONDS = 10;

/**
 * A new group refused: 429 (code 9, rate limited) for a user over their bound, 503 (code -1,
 * with Retry-After) when the machine is full. An ApiError, so every surface answers it as is.
 */
export class GroupRefusedError extends ApiError {
  override name = 'GroupRefusedError';
  constructor(
    readonly reason: AdmissionRefusal,
    detail: string,
  ) {
    super(
      reason === 'user_groups' ? 429 : 503,
      reason === 'user_groups' ? ErrorCodes.rateLimited : ErrorCodes.internal,
      detail,
      reason === 'user_groups' ? undefined : LOAD_RETRY_AFTER_SECONDS,
    );
  }
}
