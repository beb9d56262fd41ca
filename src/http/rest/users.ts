import type { FastifyInstance } from 'fastify';
import { appResponse, parseAppPatch } from '../../calls/app-settings.js';
import { parseUserQuery } from '../../calls/query.js';
import { fullUserResponse } from '../../calls/responses.js';
import { isPlainObject } from '../../calls/settings.js';
import type { DeleteUsersRequest } from '../../calls/user-deletion.js';
import type { UserPartialUpdate, UserRequest } from '../../calls/users.js';
import { badRequest } from '../../wire/errors.js';
import { principalOf, type RestOptions } from './index.js';
import { deleteUsersBody, updateAppBody, updateUsersPartialBody, upsertUsersBody } from './schemas.js';

/** The common API (under /api/v2): users and app settings. */
export async function userRoutes(app: FastifyInstance, deps: RestOptions): Promise<void> {
  const { store, users, access, userDeletion, tasks } = deps;

  app.post<{ Body: { users: Record<string, UserRequest> } }>(
    '/users',
    { config: { operation: 'UpdateUsers' }, schema: { body: upsertUsersBody } },
    async (request) => {
      const records = await users.upsert(principalOf(request), request.body.users);
      return { users: Object.fromEntries(records.map((r) => [r.id, fullUserResponse(r)])), membership_deletion_task_id: '' };
    },
  );

  app.patch<{ Body: { users: UserPartialUpdate[] } }>(
    '/users',
    { config: { operation: 'UpdateUsersPartial' }, schema: { body: updateUsersPartialBody } },
    async (request) => {
      const records = await users.partialUpdate(principalOf(request), request.body.users);
      return { users: Object.fromEntries(records.map((r) => [r.id, fullUserResponse(r)])), membership_deletion_task_id: '' };
    },
  );

  app.post<{ Body: DeleteUsersRequest }>(
    '/users/delete',
    { config: { operation: 'DeleteUsers' }, schema: { body: deleteUsersBody } },
    async (request) => ({ task_id: await userDeletion.delete(principalOf(request), request.body) }),
  );

  app.get<{ Params: { id: string } }>('/tasks/:id', { config: { operation: 'GetTask' } }, async (request) => {
    principalOf(request);
    return tasks.get(request.params.id);
  });

  app.get('/users', { config: { operation: 'QueryUsers' } }, async (request) => {
    const raw = (request.query as Record<string, unknown>).payload;
    let payload: unknown = {};
    if (typeof raw === 'string' && raw !== '') {
      try {
        payload = JSON.parse(raw);
      } catch {
        throw badRequest('payload must be a JSON object');
      }
    }
    if (!isPlainObject(payload)) throw badRequest('payload must be a JSON object');
    const found = await users.query(parseUserQuery(payload));
    return { users: found.map(fullUserResponse) };
  });

  app.get('/app', { config: { operation: 'GetApp' } }, async (request) => {
    access.requireServer(principalOf(request), 'reading app settings');
    const [settings, callTypes] = await Promise.all([store.getAppSettings(), store.listCallTypes()]);
    return { app: appResponse(settings, callTypes) };
  });

  app.patch<{ Body: Record<string, unknown> }>(
    '/app',
    { config: { operation: 'UpdateApp' }, schema: { body: updateAppBody } },
    async (request) => {
      access.requireServer(principalOf(request), 'updating app settings');
      await store.updateAppSettings(parseAppPatch(request.body));
      return {};
    },
  );
}
