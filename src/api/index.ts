/**
 * The Stream-compatible REST API: `/api/v2/...` with the video routes mirrored under `/video`
 * (the browser SDKs' prefix). Every route here is authenticated (api_key + JWT).
 */
import type { FastifyInstance } from 'fastify';
import type { JsonObject } from '../store/records.js';
import { authenticate } from './auth.js';
import type { ApiDeps } from './context.js';
import { broadcastRoutes } from './routes/broadcasts.js';
import { callTypeRoutes } from './routes/call-types.js';
import { callRoutes } from './routes/calls.js';
import { commonRoutes } from './routes/common.js';

export interface RegisterApiDeps extends ApiDeps {
  publish: (event: JsonObject & { type: string }) => void;
}

export async function registerApi(app: FastifyInstance, deps: RegisterApiDeps): Promise<void> {
  app.decorateRequest('principal', null);
  await app.register(async (scope) => {
    scope.addHook('onRequest', async (request) => {
      request.principal = await authenticate(request, deps.apiKey, deps.apiSecret);
    });
    await scope.register(async (common) => commonRoutes(common, deps), { prefix: '/api/v2' });
    for (const prefix of ['/api/v2/video', '/video']) {
      await scope.register(
        async (video) => {
          await callRoutes(video, deps);
          await broadcastRoutes(video, deps);
          await callTypeRoutes(video, deps);
        },
        { prefix },
      );
    }
  });
}
