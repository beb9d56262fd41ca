/**
 * Operations beyond Stream's API, for the console and scripts: the webhook deliveries parked as
 * dead (listed without their bodies) and their replay, as `callcast webhooks list|replay` does on
 * the store; and, on a server that runs alone, GET /video/cluster saying so (in cluster mode
 * src/cluster/status.ts answers it). A server token or an admin user.
 */
import type { FastifyInstance } from 'fastify';
import { deadDeliveryView } from '../../events/dead-deliveries.js';
import { badRequest, notFound } from '../../wire/errors.js';
import { principalOf, type RestOptions } from './index.js';
import { replayDeadBody } from './schemas.js';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

/** `limit` of the query: a whole number from 1 to 1000 (default 100). Pure. */
export function parseLimit(raw: unknown): number {
  if (raw === undefined || raw === '') return DEFAULT_LIMIT;
  const n = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_LIMIT) throw badRequest(`limit must be a whole number from 1 to ${MAX_LIMIT}`);
  return n;
}

export async function operationsRoutes(app: FastifyInstance, deps: RestOptions): Promise<void> {
  const { store, access } = deps;
  const outbox = store.webhookOutbox;

  app.get('/webhooks/dead', { config: { operation: 'ListDeadWebhooks' } }, async (request) => {
    await access.requireOperator(principalOf(request), 'listing dead webhook deliveries');
    const limit = parseLimit((request.query as Record<string, unknown>).limit);
    const [dead, total] = await Promise.all([outbox.listDead(limit), outbox.countDead()]);
    return { total, deliveries: dead.map(deadDeliveryView) };
  });

  if (!deps.clustered) {
    app.get('/cluster', { config: { operation: 'GetCluster' } }, async (request) => {
      await access.requireOperator(principalOf(request), 'the cluster view');
      return { cluster: false, node: null, nodes: [] };
    });
  }

  app.post<{ Body: { id?: string; all?: boolean } }>(
    '/webhooks/dead/replay',
    { config: { operation: 'ReplayDeadWebhooks' }, schema: { body: replayDeadBody } },
    async (request) => {
      await access.requireOperator(principalOf(request), 'replaying dead webhook deliveries');
      const { id, all } = request.body ?? {};
      if ((id === undefined) === (all !== true)) throw badRequest('give exactly one of id (one delivery) or all: true');
      const replayed = await outbox.replayDead(id !== undefined ? { id } : { all: true }, Date.now());
      if (id !== undefined && replayed === 0) throw notFound(`no dead webhook delivery with id "${id}"`);
      return { replayed };
    },
  );
}
