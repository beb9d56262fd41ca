import type { FastifyInstance } from 'fastify';
import { parseUserQuery } from '../../calls/query.js';
import { fullUserResponse } from '../../calls/responses.js';
import { isPlainObject } from '../../calls/settings.js';
import { userFromRequest, type UserRequest } from '../../calls/users.js';
import type { JsonObject } from '../../store/records.js';
import { principalOf, requireServer, type ApiDeps } from '../context.js';
import { badRequest, notAllowed } from '../errors.js';
import { updateAppBody, upsertUsersBody } from '../schemas.js';

/** The common API (under /api/v2): users and app settings. */
export async function commonRoutes(app: FastifyInstance, deps: ApiDeps & { publish: (event: JsonObject & { type: string }) => void }): Promise<void> {
  const { store } = deps;

  app.post<{ Body: { users: Record<string, UserRequest> } }>(
    '/users',
    { config: { operation: 'UpdateUsers' }, schema: { body: upsertUsersBody } },
    async (request) => {
      const principal = principalOf(request);
      const entries = Object.entries(request.body.users);
      if (entries.length > 100) throw badRequest('users accepts at most 100 users per request');
      for (const [key, u] of entries) {
        if (u.id !== key) throw badRequest(`users.${key}.id must equal its key`);
        if (u.id === '' || u.id.length > 255) throw badRequest(`users.${key}.id must be 1 to 255 characters`);
      }
      if (principal.kind === 'user' && entries.some(([, u]) => u.id !== principal.userId || (u.role !== undefined && u.role !== 'user'))) {
        throw notAllowed('users can only update themselves, and not their role');
      }
      const now = new Date().toISOString();
      const existing = await store.getUsers(entries.map(([k]) => k));
      const records = entries.map(([, u]) => userFromRequest(u, now, existing.get(u.id) ?? null));
      await store.upsertUsers(records);
      for (const r of records) deps.publish({ type: 'user.updated', user: fullUserResponse(r) });
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
    const users = await store.queryUsers(parseUserQuery(payload));
    return { users: users.map(fullUserResponse) };
  });

  app.get('/app', { config: { operation: 'GetApp' } }, async (request) => {
    requireServer(request, 'reading app settings');
    const settings = await store.getAppSettings();
    return { app: { name: 'callcast', webhook_url: settings.webhook_url, webhook_events: settings.webhook_events } };
  });

  app.patch<{ Body: { webhook_url?: string; webhook_events?: string[] } }>(
    '/app',
    { config: { operation: 'UpdateApp' }, schema: { body: updateAppBody } },
    async (request) => {
      requireServer(request, 'updating app settings');
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
