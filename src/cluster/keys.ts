/** The names of the cluster's Redis keys and channels (one prefix, so a Redis may serve other things too). */
const PREFIX = 'callcast:';

export const keys = {
  /** Sorted set: node id -> when its registration expires (epoch ms). */
  nodes: `${PREFIX}nodes`,
  /** The node's published NodeInfo (JSON), expiring with its lease. */
  node: (id: string) => `${PREFIX}node:${id}`,
  /** Set of the calls a node owns. */
  nodeCalls: (id: string) => `${PREFIX}node-calls:${id}`,
  /** The call's owner: "<node id> <fencing token>", expiring with the lease. */
  owner: (cid: string) => `${PREFIX}owner:${cid}`,
  /** The call's fencing counter (INCR at every placement). */
  fence: (cid: string) => `${PREFIX}fence:${cid}`,
  /** Set by a draining node before it releases a call: who handed it over (for the resume's event). */
  handover: (cid: string) => `${PREFIX}handover:${cid}`,
  /** Pub/sub: events published on one node, for the WebSocket clients of the others. */
  events: `${PREFIX}events`,
  /** Pub/sub: a node handed a call over (drain): the others look for it at once. */
  released: `${PREFIX}released`,
};
