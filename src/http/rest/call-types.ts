import type { FastifyInstance } from 'fastify';
import type { CallTypeChanges } from '../../calls/call-types.js';
import { callTypeResponse } from '../../calls/responses.js';
import { validateGrants, validateSettingsPatch } from '../../calls/validation.js';
import { validateCallPathPart } from '../../wire/call-cid.js';
import type { JsonObject } from '../../wire/json.js';
import { principalOf, type RestOptions } from './index.js';
import { createCallTypeBody, updateCallTypeBody } from './schemas.js';

function changesOf(body: JsonObject): CallTypeChanges {
  const changes: CallTypeChanges = {};
  if (body.grants !== undefined) changes.grants = validateGrants(body.grants, 'grants');
  if (body.settings !== undefined) changes.settings = validateSettingsPatch(body.settings, 'settings');
  if (body.notification_settings !== undefined) changes.notification_settings = body.notification_settings as JsonObject;
  if (typeof body.external_storage === 'string') changes.external_storage = body.external_storage;
  return changes;
}

/** Call types CRUD (server-side only: the service checks it). */
export async function callTypeRoutes(app: FastifyInstance, deps: RestOptions): Promise<void> {
  const { callTypes } = deps;

  app.get('/calltypes', { config: { operation: 'ListCallTypes' } }, async (request) => {
    const types = await callTypes.list(principalOf(request));
    return { call_types: Object.fromEntries(types.map((t) => [t.name, callTypeResponse(t)])) };
  });

  app.post<{ Body: JsonObject }>(
    '/calltypes',
    { config: { operation: 'CreateCallType' }, schema: { body: createCallTypeBody } },
    async (request) => {
      const principal = principalOf(request);
      callTypes.assertServer(principal, 'creating call types');
      const name = request.body.name as string;
      validateCallPathPart(name, 'name');
      return callTypeResponse(await callTypes.create(principal, name, changesOf(request.body)));
    },
  );

  app.get<{ Params: { name: string } }>('/calltypes/:name', { config: { operation: 'GetCallType' } }, async (request) => {
    return callTypeResponse(await callTypes.get(principalOf(request), request.params.name));
  });

  app.put<{ Params: { name: string }; Body: JsonObject }>(
    '/calltypes/:name',
    { config: { operation: 'UpdateCallType' }, schema: { body: updateCallTypeBody } },
    async (request) => {
      const principal = principalOf(request);
      callTypes.assertServer(principal, 'updating call types');
      return callTypeResponse(await callTypes.update(principal, request.params.name, changesOf(request.body)));
    },
  );

  app.delete<{ Params: { name: string } }>('/calltypes/:name', { config: { operation: 'DeleteCallType' } }, async (request) => {
    await callTypes.delete(principalOf(request), request.params.name);
    return {};
  });
}
