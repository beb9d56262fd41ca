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
import type { HlsState } from '../../calls/hls.js';
import type { RecordingState } from '../../calls/recordings.js';
import type { TaskLog } from '../../calls/tasks.js';
import type { UserDeletion } from '../../calls/user-deletion.js';
import type { UserService } from '../../calls/users.js';
import type { Store } from '../../store/store.js';
import type { Principal } from '../../wire/principal.js';
import { broadcastRoutes } from './broadcasts.js';
import { callAdminRoutes } from './call-admin.js';
import { callTypeRoutes } from './call-types.js';
import { callRoutes } from './calls.js';
import { operationsRoutes } from './operations.js';
import { outputRoutes } from './outputs.js';
import { userRoutes } from './users.js';

export interface RestOptions {
  access: Access;
  calls: CallService;
  broadcasts: BroadcastState;
  hls: HlsState;
  recordings: RecordingState;
  users: UserService;
  callTypes: CallTypeService;
  /** App settings (webhook target). */
  store: Store;
  deletion: CallDeletion;
  members: CallMembers;
  userDeletion: UserDeletion;
  /** Finished tasks (DeleteUsers, hard DeleteCall) for GetTask. */
  tasks: TaskLog;
  /** Cluster mode: GET /video/cluster is the cluster's (src/cluster/status.ts); else it says the server runs alone. */
  clustered: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

/**
 * Reading a call (GetCall) is open to pages on other origins, as a layout app served elsewhere
 * reads its call: the token travels in `Authorization` (never a cookie), so CORS adds no access.
 */
const CALL_READ_CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, OPTIONS',
  'access-control-allow-headers': 'Authorization, Content-Type, stream-auth-type, X-Stream-Client',
  'access-control-max-age': '600',
};

function isCallReadCors(request: FastifyRequest): boolean {
  if (request.method !== 'GET' && request.method !== 'OPTIONS') return false;
  const path = request.url.split('?')[0] ?? '';
  return /^(\/api\/v2)?\/video\/call\/[^/]+\/[^/]+$/.test(path);
}

export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new Error('route reached without authentication');
  return request.principal;
}

export async function restPlugin(app: FastifyInstance, opts: RestOptions): Promise<void> {
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (request, reply) => {
    if (isCallReadCors(request)) reply.headers(CALL_READ_CORS);
    // A CORS preflight carries no credentials; its route answers without them.
    if (request.method === 'OPTIONS' && isCallReadCors(request)) return;
    request.principal = await request.authenticate();
  });
  await app.register(async (common) => userRoutes(common, opts), { prefix: '/api/v2' });
  for (const prefix of ['/api/v2/video', '/video']) {
    await app.register(
      async (video) => {
        video.options('/call/:type/:id', async (_request, reply) => reply.code(204).send());
        await callRoutes(video, opts);
        await callAdminRoutes(video, opts);
        await broadcastRoutes(video, opts);
        await outputRoutes(video, opts);
        await callTypeRoutes(video, opts);
        await operationsRoutes(video, opts);
      },
      { prefix },
    );
  }
}
