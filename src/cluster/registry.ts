/**
 * The node registry in Redis: each node publishes its NodeInfo with a heartbeat, under a lease
 * (a key that expires when the heartbeats stop) and in a sorted set by expiry, so the live nodes
 * are listed without scanning. The heartbeat timer is started by ClusterNode.
 */
import type { Redis } from 'ioredis';
import { keys } from './keys.js';
import type { Candidate, NodeInfo } from './placement.js';

export class NodeRegistry {
  constructor(
    private readonly redis: Redis,
    readonly leaseMs: number,
  ) {}

  async publish(info: NodeInfo): Promise<void> {
    const until = Date.now() + this.leaseMs;
    await this.redis.multi().set(keys.node(info.id), JSON.stringify(info), 'PX', this.leaseMs).zadd(keys.nodes, until, info.id).exec();
  }

  async remove(id: string): Promise<void> {
    await this.redis.multi().del(keys.node(id)).zrem(keys.nodes, id).del(keys.nodeCalls(id)).exec();
  }

  /** The live nodes with the number of calls each owns now. */
  async live(): Promise<Candidate[]> {
    const now = Date.now();
    await this.redis.zremrangebyscore(keys.nodes, '-inf', now);
    const ids = await this.redis.zrangebyscore(keys.nodes, now, '+inf');
    if (ids.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.get(keys.node(id)).scard(keys.nodeCalls(id));
    const res = (await pipe.exec()) ?? [];
    const out: Candidate[] = [];
    ids.forEach((_id, i) => {
      const raw = res[2 * i]?.[1];
      const calls = Number(res[2 * i + 1]?.[1] ?? 0);
      if (typeof raw !== 'string') return;
      try {
        out.push({ ...(JSON.parse(raw) as NodeInfo), calls });
      } catch {
        // a malformed entry is not a node
      }
    });
    return out;
  }

  async get(id: string): Promise<NodeInfo | null> {
    const raw = await this.redis.get(keys.node(id));
    return raw ? (JSON.parse(raw) as NodeInfo) : null;
  }

  /** Drops calls from a node's set that it no longer owns (the set is a count for placement). */
  async forgetCalls(id: string, cids: readonly string[]): Promise<void> {
    if (cids.length > 0) await this.redis.srem(keys.nodeCalls(id), ...cids);
  }

  async callsOf(id: string): Promise<string[]> {
    return this.redis.smembers(keys.nodeCalls(id));
  }
}
