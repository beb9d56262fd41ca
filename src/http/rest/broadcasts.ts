import type { FastifyInstance } from 'fastify';
import { parseBroadcastUpdate, parseStartBroadcasts } from '../../calls/validation.js';
import { broadcastForAudience } from '../../calls/visibility.js';
import { checkCallParams, type CallParams } from '../call-params.js';
import { principalOf, type RestOptions } from './index.js';
import { emptyBody, startBroadcastsBody, updateBroadcastBody } from './schemas.js';

/**
 * RTMP broadcast routes: start (one per request), stop one by name, stop all, details with stats,
 * and (beyond Stream's API) a layout change of one running broadcast. Each goes route -> access (the capability in the call) -> broadcast state (-> engine).
 */
export async function broadcastRoutes(app: FastifyInstance, deps: RestOptions): Promise<void> {
  const { access, broadcasts } = deps;

  app.post<{ Params: CallParams }>(
    '/call/:type/:id/rtmp_broadcasts',
    { config: { operation: 'StartRTMPBroadcasts' }, schema: { body: startBroadcastsBody } },
    async (request) => {
      checkCallParams(request.params);
      const broadcast = parseStartBroadcasts(request.body);
      const loaded = await access.requireIn(principalOf(request), request.params.type, request.params.id, 'start-broadcast-call');
      await broadcasts.start(loaded, broadcast);
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
      const { call } = await access.requireIn(principalOf(request), request.params.type, request.params.id, 'stop-broadcast-call');
      await broadcasts.stopAll(call.cid);
      return {};
    },
  );

  app.post<{ Params: CallParams & { name: string } }>(
    '/call/:type/:id/rtmp_broadcasts/:name/stop',
    { config: { operation: 'StopRTMPBroadcast' }, schema: { body: emptyBody } },
    async (request) => {
      checkCallParams(request.params);
      const { call } = await access.requireIn(principalOf(request), request.params.type, request.params.id, 'stop-broadcast-call');
      await broadcasts.stop(call.cid, request.params.name);
      return {};
    },
  );

  app.get<{ Params: CallParams & { name: string } }>(
    '/call/:type/:id/rtmp_broadcasts/:name',
    { config: { operation: 'GetRTMPBroadcast' } },
    async (request) => {
      checkCallParams(request.params);
      const principal = principalOf(request);
      const { call, callType } = await access.requireIn(principal, request.params.type, request.params.id, 'read-call');
      const broadcast = await broadcasts.details(call.cid, request.params.name);
      return { broadcast: broadcastForAudience(broadcast, await access.audience(principal, callType, call.cid)) };
    },
  );

  // Beyond Stream's API: change a running broadcast's layout (its quality cannot change). Who may
  // start broadcasts in the call may do it.
  app.patch<{ Params: CallParams & { name: string } }>(
    '/call/:type/:id/rtmp_broadcasts/:name',
    { config: { operation: 'UpdateRTMPBroadcast' }, schema: { body: updateBroadcastBody } },
    async (request) => {
      checkCallParams(request.params);
      const change = parseBroadcastUpdate(request.body);
      const principal = principalOf(request);
      const { call, callType } = await access.requireIn(principal, request.params.type, request.params.id, 'start-broadcast-call');
      const broadcast = await broadcasts.update(call.cid, request.params.name, change);
      return { broadcast: broadcastForAudience(broadcast, await access.audience(principal, callType, call.cid)) };
    },
  );
}
