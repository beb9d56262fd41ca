/**
 * Placement of a call on a node: the least-loaded live node that has room. Pure over what the
 * nodes published (src/cluster/registry.ts) and the calls they own now.
 */

/** What a node publishes about itself with every heartbeat. */
export interface NodeInfo {
  id: string;
  /** Where the node's HTTP API, WHIP and WHEP are reached (its CALLCAST_PUBLIC_URL or listen address). */
  url: string;
  /** CPU of the node's process tree over the last seconds as a share of all cores; null until measured. */
  cpu: number | null;
  /** Broadcast groups (encodes) running on it. */
  groups: number;
  /** Participants publishing media to it. */
  participants: number;
  /** Why it takes no new call (its admission refuses a new encode), or null when it has room. */
  full: string | null;
  /** Stopping: it hands its calls over and takes no new one. */
  draining: boolean;
  /** When this was published (epoch ms). */
  at: number;
}

/** A live node with the number of calls it owns now. */
export interface Candidate extends NodeInfo {
  calls: number;
}

/** Nodes whose CPU is within this share of the machine of the least-loaded one count as equally loaded (closer figures are measurement noise). */
export const CPU_STEP = 0.2;

/** Orders equally loaded nodes: fewest encodes, then calls, then participants, then by id. Pure. */
export function byLoad(a: Candidate, b: Candidate): number {
  return a.groups - b.groups || a.calls - b.calls || a.participants - b.participants || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

export type PlacementDecision = { node: Candidate } | { full: string };

/**
 * The node a new call goes to: among the nodes that are not draining and whose admission has room,
 * those within CPU_STEP of the lowest CPU, and of them the one with the fewest encodes, calls,
 * participants; when every node is full (or none is live), why. Pure.
 */
export function chooseNode(candidates: readonly Candidate[]): PlacementDecision {
  const open = candidates.filter((c) => !c.draining && c.full === null);
  if (open.length > 0) {
    const least = Math.min(...open.map((c) => c.cpu ?? 0));
    const even = open.filter((c) => (c.cpu ?? 0) - least < CPU_STEP);
    return { node: even.sort(byLoad)[0]! };
  }
  const live = candidates.filter((c) => !c.draining);
  if (live.length === 0) return { full: 'no node of the cluster is available to take the call' };
  const reasons = [...live]
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((c) => `${c.id}: ${c.full}`)
    .join('; ');
  return { full: `every node of the cluster is at capacity (${reasons}); try again later` };
}
