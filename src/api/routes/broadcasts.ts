import type { FastifyInstance } from 'fastify';
import { parseStartBroadcasts } from '../../calls/validation.js';
import { principalOf, type ApiDeps } from '../context.js';
import { emptyBody, startBroadcastsBody } from '../schemas.js';
import { checkCallParams, type CallParams } from './calls.js';

/** RTMP broadcast routes: start (one per request), stop one by name, stop all, details with stats. */
export async function broadcastRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const { service } = deps;

  app.post<{ Params: CallParams }>(
    '/call/:type/:id/rtmp_broadcasts',
    { config: { operation: 'StartRTMPBroadcasts' }, schema: { body: startBroadcastsBody } },
    async (request) => {
      checkCallParams(request.params);
      const broadcast = parseStartBroadcasts(request.body);
      await service.startBroadcast(principalOf(request), request.params.type, request.params.id, broadcast);
      return {};
    },
  );

  // `/rtmp_broadcasts/stop` (stop all) and `/rtmp_broadcasts/:name/stop` (stop one) differ in
  // segment count, so a broadcast named "stop" is stopped at `/rtmp_broadcasts/stop/stop`.
  app.post<{ Params: CallParams }>(
    '/call/:type/:id/rtmp_broadcasts/stop',
    { config: { operation: 'StopAllRTMPBroadcasts' }, schema: { body: emptyBody } },
    async (request) => {
      checkCallParams(request.params);
      await service.stopAllBroadcasts(principalOf(request), request.params.type, request.params.id);
      return {};
    },
  );

  app.post<{ Params: CallParams & { name: string } }>(
    '/call/:type/:id/rtmp_broadcasts/:name/stop',
    { config: { operation: 'StopRTMPBroadcast' }, schema: { body: emptyBody } },
    async (request) => {
      checkCallParams(request.params);
      await service.stopBroadcast(principalOf(request), request.params.type, request.params.id, request.params.name);
      return {};
    },
  );

  app.get<{ Params: CallParams & { name: string } }>(
    '/call/:type/:id/rtmp_broadcasts/:name',
    { config: { operation: 'GetRTMPBroadcast' } },
    async (request) => {
      checkCallParams(request.params);
      const broadcast = await service.broadcastDetails(principalOf(request), request.params.type, request.params.id, request.params.name);
      return { broadcast };
    },
  );
}
