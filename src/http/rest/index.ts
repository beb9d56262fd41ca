/**
 * The Stream-compatible REST API as a plugin of the HTTP edge: `/api/v2/...` with the video routes
 * mirrored under `/video` (the browser SDKs' prefix). Every route here is authenticated (api_key +
 * JWT, the edge's `authenticate`); handlers parse requests and call the calls/ services.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Access } from '../../calls/access.js';
import type { BroadcastState } from '../../calls/broadcasts.js';
import type { CallDeletion } from '../../calls/call-deletion.js';
import type { CallMembers } from '../../calls/call-members.js';
import type { CallTypeService } from '../../calls/call-types.js';
import type { CallService } from '../../calls/calls.js';
import type { TaskLog } from '../../calls/tasks.js';
import type { UserDeletion } from '../../calls/user-deletion.js';
import type { UserService } from '../../calls/users.js';
import type { Store } from '../../store/store.js';
import type { Principal } from '../../wire/principal.js';
import { broadcastRoutes } from './broadcasts.js';
import { callAdminRoutes } from './call-admin.js';
import { callTypeRoutes } from './call-types.js';
import { callRoutes } from './calls.js';
import { userRoutes } from './users.js';

export interface RestOptions {
  access: Access;
  calls: CallService;
  broadcasts: BroadcastState;
  users: UserService;
  callTypes: CallTypeService;
  /** App settings (webhook target). */
  store: Store;
  deletion: CallDeletion;
  members: CallMembers;
  userDeletion: UserDeletion;
  /** Finished tasks (DeleteUsers, hard DeleteCall) for GetTask. */
  tasks: TaskLog;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new Error('route reached without authentication');
  return request.principal;
}

export async function restPlugin(app: FastifyInstance, opts: RestOptions): Promise<void> {
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (request) => {
    request.principal = await request.authenticate();
  });
  await app.register(async (common) => userRoutes(common, opts), { prefix: '/api/v2' });
  for (const prefix of ['/api/v2/video', '/video']) {
    await app.register(
      async (video) => {
        await callRoutes(video, opts);
        await callAdminRoutes(video, opts);
        await broadcastRoutes(video, opts);
        await callTypeRoutes(video, opts);
      },
      { prefix },
    );
  }
}
