import type { FastifyInstance } from 'fastify';
import type { CreateCallInput, MemberInput, UpdateCallInput } from '../../calls/calls.js';
import { parseCallFilter, parseCallSort, parseLimit, decodeCursor, encodeCursor } from '../../calls/query.js';
import type { UserRequest } from '../../calls/users.js';
import { parseTimestamp, validateSettingsPatch } from '../../calls/validation.js';
import { badRequest } from '../../wire/errors.js';
import type { JsonObject } from '../../wire/json.js';
import { checkCallParams, type CallParams } from '../call-params.js';
import { principalOf, type RestOptions } from './index.js';
import { emptyBody, getOrCreateCallBody, goLiveBody, queryCallsBody, stopLiveBody, updateCallBody, updateMembersBody } from './schemas.js';

function membersLimitOf(query: unknown): number | undefined {
  const raw = (query as Record<string, unknown> | undefined)?.members_limit;
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 100) throw badRequest('members_limit must be an integer from 0 to 100');
  return n;
}

/** Routes under /api/v2/video (and the /video mirror). */
export async function callRoutes(app: FastifyInstance, deps: RestOptions): Promise<void> {
  const { calls: service, users } = deps;

  app.get<{ Params: CallParams }>('/call/:type/:id', { config: { operation: 'GetCall' } }, async (request) => {
    checkCallParams(request.params);
    return service.get(principalOf(request), request.params.type, request.params.id, membersLimitOf(request.query));
  });

  app.post<{ Params: CallParams; Body: JsonObject }>(
    '/call/:type/:id',
    { config: { operation: 'GetOrCreateCall' }, schema: { body: getOrCreateCallBody } },
    async (request) => {
      checkCallParams(request.params);
      const body = request.body;
      const data = (body.data ?? {}) as JsonObject;
      const input: CreateCallInput = { members: (data.members as MemberInput[] | undefined) ?? [] };
      if (typeof data.created_by_id === 'string' && data.created_by_id !== '') input.createdById = data.created_by_id;
      if (data.created_by) {
        input.createdBy = await users.fromRequest(data.created_by as UserRequest);
      }
      if (data.custom) input.custom = data.custom as JsonObject;
      if (data.settings_override !== undefined)
        input.settingsOverride = validateSettingsPatch(data.settings_override, 'data.settings_override');
      if (data.starts_at !== undefined) input.startsAt = parseTimestamp(data.starts_at, 'data.starts_at');
      if (typeof data.team === 'string') input.team = data.team;
      const limit = typeof body.members_limit === 'number' ? body.members_limit : undefined;
      return service.getOrCreate(principalOf(request), request.params.type, request.params.id, input, limit);
    },
  );

  app.patch<{ Params: CallParams; Body: JsonObject }>(
    '/call/:type/:id',
    { config: { operation: 'UpdateCall' }, schema: { body: updateCallBody } },
    async (request) => {
      checkCallParams(request.params);
      const body = request.body;
      const input: UpdateCallInput = {};
      if (body.custom) input.custom = body.custom as JsonObject;
      if (body.settings_override !== undefined) input.settingsOverride = validateSettingsPatch(body.settings_override, 'settings_override');
      if (body.starts_at !== undefined) input.startsAt = parseTimestamp(body.starts_at, 'starts_at');
      return service.update(principalOf(request), request.params.type, request.params.id, input);
    },
  );

  app.post<{ Params: CallParams }>(
    '/call/:type/:id/mark_ended',
    { config: { operation: 'EndCall' }, schema: { body: emptyBody } },
    async (request) => {
      checkCallParams(request.params);
      await service.end(principalOf(request), request.params.type, request.params.id);
      return {};
    },
  );

  app.post<{ Params: CallParams; Body: Record<string, unknown> }>(
    '/call/:type/:id/go_live',
    { config: { operation: 'GoLive' }, schema: { body: goLiveBody } },
    async (request) => {
      checkCallParams(request.params);
      const supported = ['start_hls', 'start_recording', 'start_composite_recording'];
      const unsupported = Object.entries(request.body).find(([k, v]) => k.startsWith('start_') && v === true && !supported.includes(k));
      if (unsupported) throw badRequest(`${unsupported[0]} is not supported by this server (HLS, composite recording and RTMP only)`);
      const call = await service.goLive(principalOf(request), request.params.type, request.params.id, {
        hls: request.body.start_hls === true,
        recording: request.body.start_recording === true || request.body.start_composite_recording === true,
      });
      return { call };
    },
  );

  app.post<{
    Params: CallParams;
    Body: {
      continue_rtmp_broadcasts?: boolean;
      continue_hls?: boolean;
      continue_recording?: boolean;
      continue_composite_recording?: boolean;
    };
  }>('/call/:type/:id/stop_live', { config: { operation: 'StopLive' }, schema: { body: stopLiveBody } }, async (request) => {
    checkCallParams(request.params);
    const call = await service.stopLive(
      principalOf(request),
      request.params.type,
      request.params.id,
      request.body.continue_rtmp_broadcasts === true,
      {
        hls: request.body.continue_hls === true,
        recording: request.body.continue_recording === true || request.body.continue_composite_recording === true,
      },
    );
    return { call };
  });

  app.post<{ Params: CallParams; Body: { update_members?: MemberInput[]; remove_members?: string[] } }>(
    '/call/:type/:id/members',
    { config: { operation: 'UpdateCallMembers' }, schema: { body: updateMembersBody } },
    async (request) => {
      checkCallParams(request.params);
      const update = request.body.update_members ?? [];
      const remove = request.body.remove_members ?? [];
      const members = await service.updateMembers(principalOf(request), request.params.type, request.params.id, update, remove);
      return { members };
    },
  );

  app.post<{ Body: JsonObject }>('/calls', { config: { operation: 'QueryCalls' }, schema: { body: queryCallsBody } }, async (request) => {
    const body = request.body;
    const limit = parseLimit(body.limit);
    if (body.next !== undefined && body.prev !== undefined) throw badRequest('next and prev cannot both be given');
    const offset =
      body.next !== undefined ? decodeCursor(body.next, 'next') : body.prev !== undefined ? decodeCursor(body.prev, 'prev') : 0;
    const { calls, hasMore } = await service.query(principalOf(request), {
      filter: parseCallFilter(body.filter_conditions),
      sort: parseCallSort(body.sort),
      limit,
      offset,
    });
    const out: JsonObject = { calls };
    if (hasMore) out.next = encodeCursor(offset + limit);
    if (offset > 0) out.prev = encodeCursor(Math.max(0, offset - limit));
    return out;
  });
}
