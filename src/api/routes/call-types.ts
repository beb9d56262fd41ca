import type { FastifyInstance } from 'fastify';
import { newCallType, updatedCallType, type CallTypeChanges } from '../../calls/call-types.js';
import { callTypeResponse } from '../../calls/responses.js';
import { validateCallPathPart, validateGrants, validateSettingsPatch } from '../../calls/validation.js';
import type { JsonObject } from '../../store/records.js';
import { requireServer, type ApiDeps } from '../context.js';
import { badRequest, notFound } from '../errors.js';
import { createCallTypeBody, updateCallTypeBody } from '../schemas.js';

function changesOf(body: JsonObject): CallTypeChanges {
  const changes: CallTypeChanges = {};
  if (body.grants !== undefined) changes.grants = validateGrants(body.grants, 'grants');
  if (body.settings !== undefined) changes.settings = validateSettingsPatch(body.settings, 'settings');
  if (body.notification_settings !== undefined) changes.notification_settings = body.notification_settings as JsonObject;
  if (typeof body.external_storage === 'string') changes.external_storage = body.external_storage;
  return changes;
}

/** Call types CRUD (server-side only). */
export async function callTypeRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const { store } = deps;

  app.get('/calltypes', { config: { operation: 'ListCallTypes' } }, async (request) => {
    requireServer(request, 'listing call types');
    const types = await store.listCallTypes();
    return { call_types: Object.fromEntries(types.map((t) => [t.name, callTypeResponse(t)])) };
  });

  app.post<{ Body: JsonObject }>(
    '/calltypes',
    { config: { operation: 'CreateCallType' }, schema: { body: createCallTypeBody } },
    async (request) => {
      requireServer(request, 'creating call types');
      const name = request.body.name as string;
      validateCallPathPart(name, 'name');
      const record = newCallType(name, changesOf(request.body), new Date().toISOString());
      if (!(await store.createCallType(record))) throw badRequest(`call type ${name} already exists`);
      return callTypeResponse(record);
    },
  );

  app.get<{ Params: { name: string } }>('/calltypes/:name', { config: { operation: 'GetCallType' } }, async (request) => {
    requireServer(request, 'reading call types');
    const record = await store.getCallType(request.params.name);
    if (!record) throw notFound(`call type ${request.params.name} does not exist`);
    return callTypeResponse(record);
  });

  app.put<{ Params: { name: string }; Body: JsonObject }>(
    '/calltypes/:name',
    { config: { operation: 'UpdateCallType' }, schema: { body: updateCallTypeBody } },
    async (request) => {
      requireServer(request, 'updating call types');
      const current = await store.getCallType(request.params.name);
      if (!current) throw notFound(`call type ${request.params.name} does not exist`);
      const record = updatedCallType(current, changesOf(request.body), new Date().toISOString());
      await store.saveCallType(record);
      return callTypeResponse(record);
    },
  );

  app.delete<{ Params: { name: string } }>('/calltypes/:name', { config: { operation: 'DeleteCallType' } }, async (request) => {
    requireServer(request, 'deleting call types');
    if (!(await store.deleteCallType(request.params.name))) throw notFound(`call type ${request.params.name} does not exist`);
    return {};
  });
}
