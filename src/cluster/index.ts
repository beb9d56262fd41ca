/**
 * Cluster mode (CALLCAST_REDIS_URL): what src/app.ts adds to a node when it is one of several
 * sharing a PostgreSQL store. Built before the HTTP routes (the owner routing hooks into them),
 * started once the node listens, drained first when it stops.
 */
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import type { Access } from '../calls/access.js';
import type { BroadcastState } from '../calls/broadcasts.js';
import { admitNewGroup, type AdmissionPolicy } from '../egress/admission.js';
import type { EgressEngine } from '../egress/engine.js';
import { ServiceLoad } from '../egress/load.js';
import type { EventBus, WebhookOutbox } from '../events/contract.js';
import type { Logger } from '../log.js';
import type { CallMedia } from '../media/call-media.js';
import { KyselyWebhookOutbox } from '../store/outbox.js';
import type { Store } from '../store/store.js';
import { ClusterEvents } from './events.js';
import { ClusterNode } from './node.js';
import { defaultNodeId } from './node-id.js';
import { claimingOutbox } from './outbox.js';
import { installOwnerRouting } from './routing.js';
import { clusterStatusRoutes } from './status.js';

export interface ClusterOptions {
  redisUrl: string;
  nodeId?: string;
  store: Store;
  /** The node's own bus (what it publishes); WebSocket clients get `events.bus` (every node's). */
  bus: EventBus;
  log: Logger;
  media: CallMedia;
  /** Admission as the egress applies it, for the `full` flag the node publishes. */
  admission: AdmissionPolicy;
  publicUrl: () => string;
  /** The app's API secret (signs requests forwarded between nodes). */
  apiSecret: string;
  leaseMs?: number;
}

export class Cluster {
  readonly node: ClusterNode;
  readonly events: ClusterEvents;
  private readonly load = new ServiceLoad();
  private broadcasts: BroadcastState | null = null;
  private egress: EgressEngine | null = null;

  constructor(private readonly opts: ClusterOptions) {
    if (opts.store.dialect !== 'postgres') {
      throw new Error('cluster mode needs the PostgreSQL store (CALLCAST_DATABASE_URL)');
    }
    this.node = new ClusterNode({
      redisUrl: opts.redisUrl,
      log: opts.log,
      ...(opts.leaseMs !== undefined ? { leaseMs: opts.leaseMs } : {}),
      host: {
        publicUrl: opts.publicUrl,
        load: (owned) => this.loadOf(owned),
        callsWithBroadcasts: async () => [...new Set((await opts.store.listBroadcasts()).map((b) => b.call_cid))],
        resumeCall: (cid, reason) => this.broadcasts?.resume(cid, { node: this.node.id, reason }) ?? Promise.resolve(0),
        dropCall: (cid) => this.broadcasts?.release(cid) ?? Promise.resolve(),
        idle: async (cid) =>
          opts.media.participants(cid).length === 0 &&
          (this.broadcasts?.stats(cid).length ?? 0) === 0 &&
          (await opts.store.listBroadcasts(cid)).length === 0,
      },
    });
    this.events = new ClusterEvents(opts.bus, this.node.connections, () => this.node.id, opts.log);
  }

  /** The outbox every node's webhook dispatcher shares: each delivery claimed by one node. */
  webhookOutbox(): WebhookOutbox {
    const outbox = this.opts.store.webhookOutbox;
    if (!(outbox instanceof KyselyWebhookOutbox)) throw new Error('cluster mode needs the store’s webhook outbox');
    return claimingOutbox(outbox);
  }

  /** May this node write the call's broadcast state (BroadcastState's `assertWriter`). */
  assertWriter(cid: string): Promise<void> {
    return this.node.assertWriter(cid);
  }

  /** Hooks the owner routing into the routes registered after this, and adds GET /video/cluster. */
  installRouting(app: FastifyInstance, access: Access): void {
    installOwnerRouting(app, { node: this.node, secret: this.opts.apiSecret });
    clusterStatusRoutes(app, this.node, access);
  }

  /** Registers the node (once it listens on `port`) and joins the event fan-out. */
  async start(deps: { port: number; broadcasts: BroadcastState; egress: EgressEngine | null }): Promise<void> {
    this.broadcasts = deps.broadcasts;
    this.egress = deps.egress;
    this.load.start();
    await this.node.start(this.opts.nodeId ?? defaultNodeId(hostname(), deps.port));
    await this.events.start();
  }

  /** Stops the node: takes no new call, stops its broadcasts here (state kept), hands its calls over, leaves. */
  async drain(): Promise<void> {
    this.load.close();
    this.events.close();
    await this.node.drain(async () => {
      await this.broadcasts?.close();
    });
  }

  /** Prometheus lines for /metrics: this node's calls and the live nodes it sees. */
  async metricsText(): Promise<string> {
    let live: number | null = null;
    try {
      live = (await this.node.nodes()).length;
    } catch {
      // Redis away: the gauge is left out
    }
    return [
      '# HELP callcast_cluster_calls_owned Calls this node owns (their media and encodes run here).',
      '# TYPE callcast_cluster_calls_owned gauge',
      `callcast_cluster_calls_owned ${this.node.ownedCalls().length}`,
      ...(live === null
        ? []
        : [
            '# HELP callcast_cluster_nodes Live nodes of the cluster.',
            '# TYPE callcast_cluster_nodes gauge',
            `callcast_cluster_nodes ${live}`,
          ]),
      '',
    ].join('\n');
  }

  private loadOf(owned: readonly string[]) {
    const groups = this.egress?.groupStats() ?? [];
    const decision = admitNewGroup({ groups, cpuShare: this.load.cpuShare(), requester: null, requesterGroups: 0 }, this.opts.admission);
    let participants = 0;
    for (const cid of owned) participants += this.opts.media.participants(cid).length;
    return {
      cpu: this.load.cpuShare(),
      groups: groups.length,
      participants,
      full: decision.admit ? null : decision.detail,
    };
  }
}
