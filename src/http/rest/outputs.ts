import type { FastifyInstance } from 'fastify';
import { badRequest } from '../../wire/errors.js';
import { checkCallParams, type CallParams } from '../call-params.js';
import { principalOf, type RestOptions } from './index.js';
import { emptyBody } from './schemas.js';

/** The recording types of Stream's API; Callcast records composites. */
const RECORDING_TYPES = ['composite', 'individual', 'raw'];

function checkRecordingType(recordingType: string): void {
  if (recordingType === 'composite') return;
  if (RECORDING_TYPES.includes(recordingType))
    throw badRequest(`${recordingType} recordings are not supported by this server (composite only)`);
  throw badRequest(`recording_type must be one of ${RECORDING_TYPES.join(', ')}`);
}

/**
 * HLS broadcasting and composite recording routes. Each goes route -> access (the capability in
 * the call) -> HLS or recording state (-> egress).
 */
export async function outputRoutes(app: FastifyInstance, deps: RestOptions): Promise<void> {
  const { access, hls, recordings } = deps;

  app.post<{ Params: CallParams }>(
    '/call/:type/:id/start_broadcasting',
    { config: { operation: 'StartHLSBroadcasting' }, schema: { body: emptyBody } },
    async (request, reply) => {
      checkCallParams(request.params);
      const loaded = await access.requireIn(principalOf(request), request.params.type, request.params.id, 'start-broadcast-call');
      const playlistUrl = await hls.start(loaded);
      reply.code(201);
      return { playlist_url: playlistUrl };
    },
  );

  app.post<{ Params: CallParams }>(
    '/call/:type/:id/stop_broadcasting',
    { config: { operation: 'StopHLSBroadcasting' }, schema: { body: emptyBody } },
    async (request, reply) => {
      checkCallParams(request.params);
      const { call } = await access.requireIn(principalOf(request), request.params.type, request.params.id, 'stop-broadcast-call');
      await hls.stop(call.cid);
      reply.code(201);
      return {};
    },
  );

  const start = async (params: CallParams, principal: ReturnType<typeof principalOf>) => {
    checkCallParams(params);
    const loaded = await access.requireIn(principal, params.type, params.id, 'start-record-call');
    await recordings.start(loaded);
    return {};
  };
  const stop = async (params: CallParams, principal: ReturnType<typeof principalOf>) => {
    checkCallParams(params);
    const { call } = await access.requireIn(principal, params.type, params.id, 'stop-record-call');
    await recordings.stop(call.cid);
    return {};
  };

  app.post<{ Params: CallParams }>(
    '/call/:type/:id/start_recording',
    { config: { operation: 'StartRecording' }, schema: { body: emptyBody } },
    async (request, reply) => {
      const out = await start(request.params, principalOf(request));
      reply.code(201);
      return out;
    },
  );
  app.post<{ Params: CallParams }>(
    '/call/:type/:id/stop_recording',
    { config: { operation: 'StopRecording' }, schema: { body: emptyBody } },
    async (request, reply) => {
      const out = await stop(request.params, principalOf(request));
      reply.code(201);
      return out;
    },
  );
  app.post<{ Params: CallParams & { recording_type: string } }>(
    '/call/:type/:id/recordings/:recording_type/start',
    { config: { operation: 'StartRecording' }, schema: { body: emptyBody } },
    async (request, reply) => {
      checkRecordingType(request.params.recording_type);
      const out = await start(request.params, principalOf(request));
      reply.code(201);
      return out;
    },
  );
  app.post<{ Params: CallParams & { recording_type: string } }>(
    '/call/:type/:id/recordings/:recording_type/stop',
    { config: { operation: 'StopRecording' }, schema: { body: emptyBody } },
    async (request, reply) => {
      checkRecordingType(request.params.recording_type);
      const out = await stop(request.params, principalOf(request));
      reply.code(201);
      return out;
    },
  );

  app.get<{ Params: CallParams }>('/call/:type/:id/recordings', { config: { operation: 'ListRecordings' } }, async (request) => {
    checkCallParams(request.params);
    const { call } = await access.requireIn(principalOf(request), request.params.type, request.params.id, 'read-call');
    return { recordings: await recordings.list(call.cid) };
  });

  app.delete<{ Params: CallParams & { session: string; filename: string } }>(
    '/call/:type/:id/:session/recordings/:filename',
    { config: { operation: 'DeleteRecording' } },
    async (request) => {
      checkCallParams(request.params);
      const { call } = await access.requireIn(principalOf(request), request.params.type, request.params.id, 'stop-record-call');
      await recordings.delete(call.cid, request.params.session, request.params.filename);
      return {};
    },
  );
}
