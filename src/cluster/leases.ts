/**
 * Call ownership as Redis leases: at most one node owns a call at a time. A lease is taken with a
 * fencing token (INCR of the call's counter) and SET NX PX, renewed by its owner, and expires when
 * the owner stops renewing it (a dead node). Every step is one Lua script, so it is atomic.
 */
import type { Redis } from 'ioredis';
import { keys } from './keys.js';

export interface Lease {
  node: string;
  token: number;
}

/** "<node> <token>" as kept in Redis, or null. Pure. */
export function parseLease(value: string | null | undefined): Lease | null {
  if (!value) return null;
  const space = value.lastIndexOf(' ');
  const token = Number(value.slice(space + 1));
  if (space <= 0 || !Number.isSafeInteger(token)) return null;
  return { node: value.slice(0, space), token };
}

export function leaseValue(lease: Lease): string {
  return `${lease.node} ${lease.token}`;
}

// KEYS: owner, fence, nodeCalls(node). ARGV: node, leaseMs. Returns the owner's value (ours when taken).
const ACQUIRE = `
local cur = redis.call('GET', KEYS[1])
if cur then return cur end
local token = redis.call('INCR', KEYS[2])
local v = ARGV[1] .. ' ' .. token
redis.call('SET', KEYS[1], v, 'PX', ARGV[2])
redis.call('SADD', KEYS[3], ARGV[3])
return v`;

// KEYS: owner, fence, nodeCalls(node). ARGV: value, leaseMs, cid, token.
// 1: renewed; 2: the lease was gone (Redis lost it) and is ours again; 0: another node owns it.
const RENEW = `
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('SADD', KEYS[3], ARGV[3])
  return 1
end
if cur then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SADD', KEYS[3], ARGV[3])
local f = tonumber(redis.call('GET', KEYS[2]) or '0')
if f < tonumber(ARGV[4]) then redis.call('SET', KEYS[2], ARGV[4]) end
return 2`;

// KEYS: owner, nodeCalls(node). ARGV: value, cid. Deletes the lease only when it is still ours.
const RELEASE = `
redis.call('SREM', KEYS[2], ARGV[2])
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0`;

// KEYS: owner, fence, nodeCalls(new node). ARGV: expected stale value, new node, leaseMs, cid.
// Takes over a lease left by an earlier run of the same node (same id, not renewed by us).
const TAKE_OVER = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return false end
local token = redis.call('INCR', KEYS[2])
local v = ARGV[2] .. ' ' .. token
redis.call('SET', KEYS[1], v, 'PX', ARGV[3])
redis.call('SADD', KEYS[3], ARGV[4])
return v`;

export type RenewResult = 'renewed' | 'restored' | 'lost';

export class CallLeases {
  constructor(
    private readonly redis: Redis,
    readonly leaseMs: number,
  ) {}

  /** Takes the call for `node` when nobody owns it; the lease that holds now (ours or another's). */
  async acquire(cid: string, node: string): Promise<Lease> {
    const v = (await this.redis.eval(
      ACQUIRE,
      3,
      keys.owner(cid),
      keys.fence(cid),
      keys.nodeCalls(node),
      node,
      this.leaseMs,
      cid,
    )) as string;
    return parseLease(v)!;
  }

  async renew(cid: string, lease: Lease): Promise<RenewResult> {
    const r = Number(
      await this.redis.eval(
        RENEW,
        3,
        keys.owner(cid),
        keys.fence(cid),
        keys.nodeCalls(lease.node),
        leaseValue(lease),
        this.leaseMs,
        cid,
        lease.token,
      ),
    );
    return r === 1 ? 'renewed' : r === 2 ? 'restored' : 'lost';
  }

  async release(cid: string, lease: Lease): Promise<boolean> {
    return Number(await this.redis.eval(RELEASE, 2, keys.owner(cid), keys.nodeCalls(lease.node), leaseValue(lease), cid)) === 1;
  }

  /** Replaces `stale` (an earlier run's lease of the same node id) with a new lease of `node`. */
  async takeOver(cid: string, stale: Lease, node: string): Promise<Lease | null> {
    const v = (await this.redis.eval(
      TAKE_OVER,
      3,
      keys.owner(cid),
      keys.fence(cid),
      keys.nodeCalls(node),
      leaseValue(stale),
      node,
      this.leaseMs,
      cid,
    )) as string | null;
    return parseLease(v);
  }

  async owner(cid: string): Promise<Lease | null> {
    return parseLease(await this.redis.get(keys.owner(cid)));
  }

  /** The owners of many calls in one round trip. */
  async owners(cids: readonly string[]): Promise<Map<string, Lease | null>> {
    const out = new Map<string, Lease | null>();
    if (cids.length === 0) return out;
    const values = await this.redis.mget(...cids.map((c) => keys.owner(c)));
    cids.forEach((c, i) => out.set(c, parseLease(values[i])));
    return out;
  }
}
