import type { FastifyInstance } from 'fastify';
import { parseUserQuery } from '../../calls/query.js';
import { fullUserResponse } from '../../calls/responses.js';
import { isPlainObject } from '../../calls/settings.js';
import type { UserRequest } from '../../calls/users.js';
import { badRequest } from '../../wire/errors.js';
import { principalOf, type RestOptions } from './index.js';
import { updateAppBody, upsertUsersBody } from './schemas.js';

/** The common API (under /api/v2): users and app settings. */
export async function userRoutes(app: FastifyInstance, deps: RestOptions): Promise<void> {
  const { store, users, access } = deps;

  app.post<{ Body: { users: Record<string, UserRequest> } }>(
    '/users',
    { config: { operation: 'UpdateUsers' }, schema: { body: upsertUsersBody } },
    async (request) => {
      const records = await users.upsert(principalOf(request), request.body.users);
      return { users: Object.fromEntries(records.map((r) => [r.id, fullUserResponse(r)])), membership_deletion_task_id: '' };
    },
  );

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
    const settings = await store.getAppSettings();
    return { app: { name: 'callcast', webhook_url: settings.webhook_url, webhook_events: settings.webhook_events } };
  });

  app.patch<{ Body: { webhook_url?: string; webhook_events?: string[] } }>(
    '/app',
    { config: { operation: 'UpdateApp' }, schema: { body: updateAppBody } },
    async (request) => {
      access.requireServer(principalOf(request), 'updating app settings');
      const { webhook_url, webhook_events } = request.body;
      if (webhook_url !== undefined && webhook_url !== '' && !/^https?:\/\/[^/\s]+/i.test(webhook_url)) {
        throw badRequest('webhook_url must be an http:// or https:// URL');
      }
      const patch: { webhook_url?: string; webhook_events?: string[] } = {};
      if (webhook_url !== undefined) patch.webhook_url = webhook_url;
      if (webhook_events !== undefined) patch.webhook_events = webhook_events;
      await store.updateAppSettings(patch);
      return {};
    },
  );
}
