/**
 * One node of a cluster: its registration and heartbeat, the calls it owns (leases renewed with
 * the heartbeat), placement of new calls, and the failover scan that takes over the broadcasts of
 * calls whose owner is gone. Timers and Redis connections live here; the decisions are in
 * placement.ts and the Lua scripts of leases.ts.
 *
 * Redis away: the node keeps running what it owns (nothing here stops a broadcast because Redis
 * is unreachable), its leases are written again when Redis is back (`restored`), and requests
 * that need placement answer 503 meanwhile.
 */
import { Redis } from 'ioredis';
import { describeError, type Logger } from '../log.js';
import { ApiError, ErrorCodes } from '../wire/errors.js';
import { keys } from './keys.js';
import { CallLeases, type Lease } from './leases.js';
import { chooseNode, type NodeInfo } from './placement.js';
import { NodeRegistry } from './registry.js';

/** What the node reads from the rest of the service. */
export interface NodeHost {
  /** Where clients reach this node. */
  publicUrl(): string;
  /** The node's measured load and admission state, for its registration. */
  load(ownedCalls: readonly string[]): Pick<NodeInfo, 'cpu' | 'groups' | 'participants' | 'full'>;
  /** The calls with active broadcasts in the shared store. */
  callsWithBroadcasts(): Promise<string[]>;
  /** Starts the call's stored broadcasts on this node (it owns the call now); `reason` says why, for their events. */
  resumeCall(cid: string, reason: string): Promise<number>;
  /** Stops the call's broadcasts on this node without touching the stored state (another node owns it now). */
  dropCall(cid: string): Promise<void>;
  /** Whether the call has nothing on this node: no participant, no broadcast running or stored. */
  idle(cid: string): Promise<boolean>;
}

export interface ClusterNodeOptions {
  redisUrl: string;
  host: NodeHost;
  log: Logger;
  /** Lease of a node's registration and of its calls; default 10 s. */
  leaseMs?: number;
  /** Heartbeat (registration and lease renewal) interval; default 2 s. */
  heartbeatMs?: number;
  /** Failover scan interval; default 2 s. */
  scanMs?: number;
  /** How long an owned call may be idle before its lease is released; default 30 s. */
  idleReleaseMs?: number;
}

/** Where a request about a call is served. */
export type Route = { local: true } | { local: false; node: NodeInfo };

export class ClusterNode {
  /** This node's name (set by `start`). */
  id = '';
  readonly leaseMs: number;
  private readonly redis: Redis;
  private readonly sub: Redis;
  private readonly registry: NodeRegistry;
  private readonly leases: CallLeases;
  private readonly host: NodeHost;
  private readonly log: Logger;
  private readonly heartbeatMs: number;
  private readonly scanMs: number;
  /** Calls this node owns, with their lease and when it was last confirmed in Redis. */
  private readonly owned = new Map<string, { lease: Lease; confirmedAt: number }>();
  /** Calls without an owner, and since when this node has seen them so. */
  private readonly orphanSince = new Map<string, number>();
  /** Owned calls with nothing on this node, and since when. */
  private readonly idleSince = new Map<string, number>();
  private readonly idleReleaseMs: number;
  /** Calls a draining node announced it released: taken over without waiting. */
  private readonly handedOver = new Set<string>();
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private scanTimer: NodeJS.Timeout | null = null;
  private draining = false;
  private started = false;
  private closed = false;
  private redisAway = false;
  /** When Redis last came back after being away (0: never away). */
  private redisBackAt = 0;
  private scanning: Promise<void> | null = null;

  constructor(opts: ClusterNodeOptions) {
    this.host = opts.host;
    this.log = opts.log;
    this.leaseMs = opts.leaseMs ?? 10_000;
    this.heartbeatMs = opts.heartbeatMs ?? 2_000;
    this.scanMs = opts.scanMs ?? 2_000;
    this.idleReleaseMs = opts.idleReleaseMs ?? 30_000;
    const common = {
      lazyConnect: true,
      // Commands fail at once while Redis is away (the callers retry at their next tick) rather than queue.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      retryStrategy: (times: number) => Math.min(200 * times, 2_000),
    };
    this.redis = new Redis(opts.redisUrl, common);
    // The subscriber keeps its subscriptions across reconnects (ioredis subscribes again).
    this.sub = new Redis(opts.redisUrl, { ...common, enableOfflineQueue: true, maxRetriesPerRequest: null });
    for (const r of [this.redis, this.sub]) r.on('error', () => undefined);
    this.redis.on('error', (err) => this.noteRedisAway(err));
    this.redis.on('close', () => this.noteRedisAway(new Error('connection to Redis closed')));
    this.redis.on('ready', () => this.noteRedisBack());
    this.registry = new NodeRegistry(this.redis, this.leaseMs);
    this.leases = new CallLeases(this.redis, this.leaseMs);
  }

  /** The connection other cluster parts (event fan-out) publish on, and the one they subscribe on. */
  get connections(): { pub: Redis; sub: Redis } {
    return { pub: this.redis, sub: this.sub };
  }

  async start(nodeId: string): Promise<void> {
    this.id = nodeId;
    try {
      await this.redis.connect();
      await this.sub.connect();
    } catch (err) {
      throw new Error(`cluster mode: Redis (CALLCAST_REDIS_URL) cannot be reached: ${describeError(err)}`);
    }
    this.started = true;
    await this.sub.subscribe(keys.released);
    this.sub.on('message', (channel, message) => {
      if (channel !== keys.released) return;
      // A drained node's calls are orphans at once: no need to wait for a lease to run out.
      try {
        const { calls } = JSON.parse(message) as { calls?: unknown };
        if (Array.isArray(calls)) for (const cid of calls) if (typeof cid === 'string') this.handedOver.add(cid);
      } catch {
        // not ours
      }
      this.scanSoon();
    });
    await this.heartbeat();
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.heartbeatMs);
    this.heartbeatTimer.unref();
    this.scanTimer = setInterval(() => this.scanSoon(), this.scanMs);
    this.scanTimer.unref();
    this.scanSoon();
    this.log.info({ node: this.id }, 'cluster node registered');
  }

  /** The calls this node owns now. */
  ownedCalls(): string[] {
    return [...this.owned.keys()];
  }

  /** The live nodes as the registry lists them, with the calls each owns (console, metrics, tests). */
  async nodes() {
    return this.registry.live();
  }

  /**
   * Where a request about the call is served: here, or on its owner. With `place`, a call nobody
   * owns is placed (on the least-loaded node with room; `here` prefers this node, for a request
   * another node already placed here). 503 in Stream's error shape when every node is full, when
   * the owner is registered nowhere (it died: its lease expires soon), or when Redis is away.
   */
  async route(cid: string, opts: { place: boolean; here?: boolean }): Promise<Route> {
    try {
      const lease = await this.leases.owner(cid);
      if (lease) {
        if (lease.node === this.id) {
          if (!this.owned.has(cid)) await this.adoptStale(cid, lease);
          return { local: true };
        }
        const info = await this.registry.get(lease.node);
        if (info) return { local: false, node: info };
        throw new ApiError(
          503,
          ErrorCodes.internal,
          `call ${cid} is served by node ${lease.node}, which is not answering; another node takes the call over ` +
            `within ${Math.round(this.leaseMs / 1000)} s; try again then`,
          Math.ceil(this.leaseMs / 1000),
        );
      }
      if (!opts.place) return { local: true };
      if (opts.here && !this.draining) return this.take(cid);
      const decision = chooseNode(await this.registry.live());
      if ('full' in decision) throw new ApiError(503, ErrorCodes.internal, decision.full, 10);
      if (decision.node.id === this.id) return this.take(cid);
      return { local: false, node: decision.node };
    } catch (err) {
      if (err instanceof ApiError) throw err;
      throw new ApiError(
        503,
        ErrorCodes.internal,
        `the cluster's coordination (Redis) is unavailable, so call ${cid} cannot be placed: ${describeError(err)}`,
        5,
      );
    }
  }

  /**
   * Whether this node may write the call's broadcast state: it holds the call's lease (confirmed
   * in Redis now, or, while Redis is away, renewed less than a lease ago), or nobody owns the call.
   * Throws 503 (another node owns it) otherwise. The fencing token is the lease's.
   */
  async assertWriter(cid: string): Promise<void> {
    const mine = this.owned.get(cid);
    let current: Lease | null;
    try {
      current = await this.leases.owner(cid);
    } catch (err) {
      if (mine && Date.now() - mine.confirmedAt < this.leaseMs) return;
      throw new ApiError(503, ErrorCodes.internal, `the cluster's coordination (Redis) is unavailable: ${String(err)}`, 5);
    }
    if (current === null) return;
    if (mine && current.node === mine.lease.node && current.token === mine.lease.token) return;
    throw new ApiError(
      503,
      ErrorCodes.internal,
      `call ${cid} is owned by node ${current.node} now (this node's lease has ended); try again`,
      1,
    );
  }

  /** Stops the node: it takes no new call, hands its calls over (after `beforeRelease`, which stops their media here), and leaves. */
  async drain(beforeRelease: () => Promise<void>): Promise<void> {
    if (this.closed) return;
    this.draining = true;
    this.closed = true;
    if (this.scanTimer) clearInterval(this.scanTimer);
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    await this.scanning;
    await this.publishInfo().catch(() => undefined);
    try {
      await beforeRelease();
    } finally {
      const calls = [...this.owned.entries()];
      this.owned.clear();
      for (const [cid, { lease }] of calls) {
        await this.redis.set(keys.handover(cid), this.id, 'PX', 60_000).catch(() => undefined);
        await this.leases.release(cid, lease).catch((err: unknown) => {
          this.log.warn({ callCid: cid, err: describeError(err) }, 'call lease could not be released (it expires)');
        });
      }
      await this.registry.remove(this.id).catch(() => undefined);
      if (calls.length > 0) {
        const message = JSON.stringify({ node: this.id, calls: calls.map(([cid]) => cid) });
        await this.redis.publish(keys.released, message).catch(() => undefined);
      }
      this.log.info({ node: this.id, handedOver: calls.length }, 'cluster node left');
      this.sub.disconnect();
      this.redis.disconnect();
    }
  }

  // ---- internals ----------------------------------------------------------------------------

  private async take(cid: string): Promise<Route> {
    const lease = await this.leases.acquire(cid, this.id);
    if (lease.node === this.id) {
      this.owned.set(cid, { lease, confirmedAt: Date.now() });
      this.orphanSince.delete(cid);
      this.log.info({ callCid: cid, node: this.id, fence: lease.token }, 'call placed on this node');
      void this.publishInfo().catch(() => undefined);
      return { local: true };
    }
    const info = await this.registry.get(lease.node);
    if (!info) throw new ApiError(503, ErrorCodes.internal, `call ${cid} is being placed on node ${lease.node}; try again`, 1);
    return { local: false, node: info };
  }

  /** A lease under this node's id that this run does not hold: an earlier run's (a restart). */
  private async adoptStale(cid: string, stale: Lease): Promise<void> {
    const lease = await this.leases.takeOver(cid, stale, this.id);
    if (!lease) return;
    this.owned.set(cid, { lease, confirmedAt: Date.now() });
    this.log.info({ callCid: cid, fence: lease.token }, 'call of an earlier run of this node taken over');
    await this.host.resumeCall(cid, 'its node restarted');
  }

  private async publishInfo(): Promise<void> {
    const load = this.host.load(this.ownedCalls());
    await this.registry.publish({
      id: this.id,
      url: this.host.publicUrl(),
      ...load,
      draining: this.draining,
      at: Date.now(),
    });
  }

  private async heartbeat(): Promise<void> {
    if (this.closed) return;
    try {
      await this.publishInfo();
      for (const [cid, entry] of [...this.owned]) {
        const result = await this.leases.renew(cid, entry.lease);
        if (result === 'lost') {
          this.owned.delete(cid);
          this.log.warn({ callCid: cid }, 'call lease lost to another node: its broadcasts stop here');
          await this.host.dropCall(cid).catch(() => undefined);
          continue;
        }
        if (result === 'restored') this.log.info({ callCid: cid }, 'call lease written again (Redis had lost it)');
        entry.confirmedAt = Date.now();
        await this.releaseIfIdle(cid, entry.lease);
      }
    } catch (err) {
      this.noteRedisAway(err);
    }
  }

  /** A call idle here for idleReleaseMs is given up: the next media request places it anew. */
  private async releaseIfIdle(cid: string, lease: Lease): Promise<void> {
    if (!(await this.host.idle(cid))) {
      this.idleSince.delete(cid);
      return;
    }
    const since = this.idleSince.get(cid) ?? Date.now();
    this.idleSince.set(cid, since);
    if (Date.now() - since < this.idleReleaseMs) return;
    this.idleSince.delete(cid);
    this.owned.delete(cid);
    await this.leases.release(cid, lease);
    this.log.info({ callCid: cid }, 'idle call released');
  }

  private scanSoon(): void {
    if (this.closed || this.scanning) return;
    this.scanning = this.scan()
      .catch((err: unknown) => this.log.warn({ err: describeError(err) }, 'cluster failover scan failed (next one soon)'))
      .finally(() => {
        this.scanning = null;
      });
  }

  /**
   * Failover: calls with stored broadcasts and no owner are taken by the node placement picks, or
   * by any node with room once they have been orphaned for a whole lease (so placement
   * disagreements cannot leave a call behind). Within a lease of Redis coming back, an orphan
   * must stay one for a heartbeat and a half first, so an owner that is writing its leases again
   * after a Redis restart keeps its calls.
   */
  private async scan(): Promise<void> {
    if (this.draining || this.redisAway) return;
    const cids = await this.host.callsWithBroadcasts();
    const owners = await this.leases.owners(cids);
    const now = Date.now();
    for (const id of [...this.orphanSince.keys()]) if (!owners.has(id) || owners.get(id)) this.orphanSince.delete(id);
    for (const cid of cids) {
      const lease = owners.get(cid) ?? null;
      if (lease) {
        this.handedOver.delete(cid);
        if (lease.node === this.id && !this.owned.has(cid)) await this.adoptStale(cid, lease);
        continue;
      }
      const since = this.orphanSince.get(cid) ?? now;
      this.orphanSince.set(cid, since);
      const settle = now - this.redisBackAt < this.leaseMs && !this.handedOver.has(cid) ? this.heartbeatMs * 1.5 : 0;
      if (now - since < settle) continue;
      // Read again for each orphan: the calls each node owns count, and a node's takeovers of
      // this round are in Redis at once (so a dead node's calls spread rather than pile up).
      const live = await this.registry.live();
      const decision = chooseNode(live);
      const mine = 'node' in decision && decision.node.id === this.id;
      const overdue = now - since > this.leaseMs && !live.find((n) => n.id === this.id)?.full;
      if (!mine && !overdue) continue;
      const lease2 = await this.leases.acquire(cid, this.id);
      if (lease2.node !== this.id) continue;
      this.owned.set(cid, { lease: lease2, confirmedAt: Date.now() });
      this.orphanSince.delete(cid);
      this.handedOver.delete(cid);
      const from = await this.redis.get(keys.handover(cid)).catch(() => null);
      if (from) await this.redis.del(keys.handover(cid)).catch(() => undefined);
      const reason = from ? `node ${from} handed the call over (it was stopped)` : "the call's node stopped answering (its lease ran out)";
      const resumed = await this.host.resumeCall(cid, reason);
      this.log.info({ callCid: cid, fence: lease2.token, resumed }, 'call taken over: its broadcasts resume on this node');
    }
  }

  private noteRedisAway(err: unknown): void {
    if (this.redisAway || this.closed || !this.started) return;
    this.redisAway = true;
    this.log.warn({ err: describeError(err) }, 'cluster coordination (Redis) unavailable: running broadcasts go on');
  }

  private noteRedisBack(): void {
    if (!this.redisAway) return;
    this.redisAway = false;
    this.redisBackAt = Date.now();
    this.log.info({}, 'cluster coordination (Redis) back');
    void this.heartbeat();
  }
}
