/**
 * GET /video/cluster (beyond Stream's API): the cluster as this node sees it, for operators: every
 * live node with its published load and the calls it owns. A server token or an admin user (the
 * console's operator).
 */
import type { FastifyInstance } from 'fastify';
import type { Access } from '../calls/access.js';
import { ApiError, ErrorCodes } from '../wire/errors.js';
import type { ClusterNode } from './node.js';

export function clusterStatusRoutes(app: FastifyInstance, node: ClusterNode, access: Access): void {
  for (const prefix of ['/api/v2/video', '/video']) {
    app.get(`${prefix}/cluster`, { config: { operation: 'GetCluster' } }, async (req) => {
      await access.requireOperator(await req.authenticate(), 'the cluster view');
      let nodes: Awaited<ReturnType<ClusterNode['nodes']>>;
      try {
        nodes = await node.nodes();
      } catch {
        throw new ApiError(503, ErrorCodes.internal, "the cluster's coordination (Redis) is unavailable; try again shortly", 5);
      }
      nodes.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      return {
        cluster: true,
        node: node.id,
        nodes: nodes.map((n) => ({
          id: n.id,
          url: n.url,
          cpu: n.cpu,
          groups: n.groups,
          participants: n.participants,
          calls: n.calls,
          full: n.full,
          draining: n.draining,
          updated_at: new Date(n.at).toISOString(),
        })),
      };
    });
  }
}
