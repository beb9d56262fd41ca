/** DeleteCall and QueryCallMembers (under /api/v2/video and /video). */
import type { FastifyInstance } from 'fastify';
import { parseMembersQuery } from '../../calls/members-query.js';
import { badRequest } from '../../wire/errors.js';
import { checkCallParams, type CallParams } from '../call-params.js';
import { principalOf, type RestOptions } from './index.js';
import { deleteCallBody, queryCallMembersBody } from './schemas.js';

export async function callAdminRoutes(app: FastifyInstance, deps: RestOptions): Promise<void> {
  app.post<{ Params: CallParams; Body: { hard?: boolean } }>(
    '/call/:type/:id/delete',
    { config: { operation: 'DeleteCall' }, schema: { body: deleteCallBody } },
    async (request) => {
      checkCallParams(request.params);
      return deps.deletion.delete(principalOf(request), request.params.type, request.params.id, request.body?.hard === true);
    },
  );

  app.post<{ Body: Record<string, unknown> }>(
    '/call/members',
    { config: { operation: 'QueryCallMembers' }, schema: { body: queryCallMembersBody } },
    async (request) => {
      const { type, id } = request.body;
      if (typeof type !== 'string' || typeof id !== 'string') throw badRequest('type and id are required');
      checkCallParams({ type, id });
      return deps.members.query(principalOf(request), type, id, parseMembersQuery(request.body));
    },
  );
}
