/**
 * WHEP previews of a broadcast (the composed picture and mixed sound of its group), as a Fastify
 * plugin:
 * - POST    {prefix}/video/call/:type/:id/rtmp_broadcasts/:name/whep               recvonly offer -> 201 answer
 * - PATCH   {prefix}/video/call/:type/:id/rtmp_broadcasts/:name/whep/:resourceId   trickle ICE -> 204
 * - DELETE  {prefix}/video/call/:type/:id/rtmp_broadcasts/:name/whep/:resourceId   ends it -> 200
 * - OPTIONS on both (CORS preflight, Accept-Post / Accept-Patch)
 * with prefix '' and '/api/v2'. Credentials as for participant WHEP (a bearer token; an `api_key`,
 * when given, must be the app's), but previewing needs `start-broadcast-call` in the call (server
 * tokens have it). Errors in Stream's shape: 401 bad token, 403 no capability (or a call token for
 * other calls), 404 unknown call or no active broadcast of that name, 400 unusable offer, 415 not
 * application/sdp.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Access } from '../calls/access.js';
import { type BroadcastPreviews, UnknownBroadcastError } from '../media/preview/broadcast-previews.js';
import { OfferError } from '../media/sdp.js';
import { ApiError, ErrorCodes, notAllowed, notFound } from '../wire/errors.js';
import type { Principal } from '../wire/principal.js';
import { CORS_HEADERS, contentTypeOf, sendAnswer, sessionTag } from './sdp-exchange.js';
import { answerTrickle, asApiError, sendError, subscriptionFailure } from './whep.js';

export interface BroadcastWhepOptions {
  previews: BroadcastPreviews;
  /** Throws the API's error (401, 403, 404) unless the request may preview the call's broadcasts. */
  authorize(req: FastifyRequest, callType: string, callId: string): Promise<void>;
  log?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
}

const SDP_LIMIT = 64 * 1024;
const PREFIXES = ['/api/v2', ''] as const;

interface BroadcastParams {
  type: string;
  id: string;
  name: string;
}
interface ResourceParams extends BroadcastParams {
  resourceId: string;
}

/**
 * Who may preview a call's broadcasts: a server token; a user whose roles in the call grant
 * `start-broadcast-call` (the operators of its broadcasts). A call token is good for its calls only.
 */
export async function authorizeBroadcastPreviewer(access: Access, principal: Principal, type: string, id: string): Promise<void> {
  const { call, callType } = await access.loadCall(type, id);
  if (principal.kind === 'server') return;
  if (principal.callCids !== undefined && !principal.callCids.includes(call.cid)) {
    throw notAllowed(`the token is for other calls than ${call.cid}`);
  }
  const caps = await access.capabilitiesIn(principal, callType, call.cid);
  if (!caps.includes('start-broadcast-call')) {
    throw notAllowed(`User '${principal.userId}' is not allowed to perform action start-broadcast-call in scope '${callType.name}'`);
  }
}

export const broadcastWhepRoutes: FastifyPluginAsync<BroadcastWhepOptions> = async (app, opts) => {
  const previews = opts.previews;
  const etags = new Map<string, { etag: string; ufrag: string | undefined }>();
  const forget = ({ resourceId }: { resourceId: string }) => {
    etags.delete(resourceId);
  };
  previews.on('subscription_closed', forget);
  app.addHook('onClose', async () => {
    previews.off('subscription_closed', forget);
  });

  app.addContentTypeParser(
    ['application/sdp', 'application/trickle-ice-sdpfrag'],
    { parseAs: 'string', bodyLimit: SDP_LIMIT },
    (_req, body, done) => done(null, body),
  );
  app.addHook('onSend', async (_req, reply) => {
    reply.headers(CORS_HEADERS);
  });

  for (const prefix of PREFIXES) {
    const base = `${prefix}/video/call/:type/:id/rtmp_broadcasts/:name/whep`;

    app.options(base, async (_req, reply) => reply.code(204).header('accept-post', 'application/sdp').send());
    app.options(`${base}/:resourceId`, async (_req, reply) =>
      reply.code(204).header('accept-patch', 'application/trickle-ice-sdpfrag').send(),
    );

    app.post<{ Params: BroadcastParams }>(base, async (req, reply) => {
      const startedAt = performance.now();
      const op = 'WhepBroadcastPreview';
      const { type, id, name } = req.params;
      const callCid = `${type}:${id}`;
      if (contentTypeOf(req) !== 'application/sdp') {
        return sendError(
          reply,
          op,
          new ApiError(415, ErrorCodes.input, 'the offer must be sent with Content-Type: application/sdp'),
          startedAt,
        );
      }
      try {
        await opts.authorize(req, type, id);
      } catch (err) {
        const api = asApiError(err);
        if (api) return sendError(reply, op, api, startedAt);
        opts.log?.warn({ callCid, err: (err as Error)?.message }, 'WHEP preview authorization failed');
        return sendError(reply, op, new ApiError(500, ErrorCodes.internal, 'internal error'), startedAt);
      }
      try {
        const offer = typeof req.body === 'string' ? req.body : '';
        const { resourceId, answer } = await previews.subscribe(callCid, name, offer);
        const tag = sessionTag(resourceId, offer, answer);
        etags.set(resourceId, tag);
        const location = `${prefix}/video/call/${encodeURIComponent(type)}/${encodeURIComponent(id)}/rtmp_broadcasts/${encodeURIComponent(name)}/whep/${resourceId}`;
        return sendAnswer(reply, location, tag.etag, answer);
      } catch (err) {
        const unknown = err instanceof UnknownBroadcastError;
        if (!unknown && !(err instanceof OfferError))
          opts.log?.warn({ callCid, err: (err as Error)?.message }, 'WHEP preview offer could not be answered');
        return sendError(reply, op, subscriptionFailure(err, unknown), startedAt);
      }
    });

    app.patch<{ Params: ResourceParams }>(`${base}/:resourceId`, async (req, reply) => {
      const startedAt = performance.now();
      const op = 'WhepBroadcastPreviewTrickle';
      const { type, id, name, resourceId } = req.params;
      if (!previews.has(resourceId, `${type}:${id}`, name)) return sendError(reply, op, notFound('WHEP session not found'), startedAt);
      return answerTrickle(req, reply, { op, startedAt, session: etags.get(resourceId) }, (frag) =>
        previews.addRemoteCandidates(resourceId, frag),
      );
    });

    app.delete<{ Params: ResourceParams }>(`${base}/:resourceId`, async (req, reply) => {
      const startedAt = performance.now();
      const { type, id, name, resourceId } = req.params;
      if (!previews.has(resourceId, `${type}:${id}`, name) || !previews.unsubscribe(resourceId)) {
        return sendError(reply, 'WhepBroadcastPreviewDelete', notFound('WHEP session not found'), startedAt);
      }
      return reply.code(200).send();
    });
  }
};
