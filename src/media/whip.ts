/**
 * WHIP ingest (RFC 9725) as a Fastify plugin:
 * - POST   {prefix}/video/call/:type/:id/whip              application/sdp offer -> 201 answer
 * - PATCH  {prefix}/video/call/:type/:id/whip/:resourceId  trickle ICE candidates -> 204
 * - DELETE {prefix}/video/call/:type/:id/whip/:resourceId  leaves the call -> 200
 * - OPTIONS on both (CORS preflight, Accept-Post)
 * with prefix '' and '/api/v2'. The resource id in the session URL is unguessable (128 random bits),
 * distinct from the participant's `user_session_id` (which every reader of the call sees in
 * `call.session`), and is what authorizes PATCH and DELETE, as the RFC's session URL does.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createHash, randomBytes } from 'node:crypto';
import { ApiError, ErrorCodes, errorBody } from '../api/errors.js';
import type { CallMedia, PublisherIdentity } from './call-media.js';
import { OfferError } from './sdp.js';

export interface WhipLogger {
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
}

export interface WhipDeps {
  media: CallMedia;
  /** Throws the API's error for bad auth, an unknown or an ended call. */
  authorize(req: FastifyRequest, callType: string, callId: string): Promise<PublisherIdentity>;
  log: WhipLogger;
  /** the server's public base URL (no trailing slash), used for Location */
  publicUrl: string;
}

const SDP_LIMIT = 64 * 1024;
const PREFIXES = ['/api/v2', ''] as const;

interface CallParams { type: string; id: string }
interface SessionParams extends CallParams { resourceId: string }

function etagOf(sessionId: string, answer: string): string {
  return `"${createHash('sha256').update(sessionId).update(answer).digest('hex').slice(0, 16)}"`;
}

function sendError(reply: FastifyReply, operation: string, err: ApiError, startedAt: number): FastifyReply {
  return reply.code(err.status).type('application/json').send(errorBody(operation, err, performance.now() - startedAt));
}

function asApiError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  const e = err as { status?: unknown; code?: unknown; detail?: unknown; message?: unknown } | null;
  if (e && typeof e.status === 'number' && typeof e.code === 'number' && e.status >= 400 && e.status < 600) {
    return new ApiError(e.status, e.code, typeof e.detail === 'string' ? e.detail : typeof e.message === 'string' ? e.message : 'request failed');
  }
  return undefined;
}

function offerToApiError(err: OfferError): ApiError {
  return new ApiError(err.status, err.status === 403 ? ErrorCodes.notAllowed : ErrorCodes.input, err.message);
}

const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'POST, PATCH, DELETE, OPTIONS',
  'access-control-allow-headers': 'Authorization, Content-Type, If-Match, stream-auth-type, api_key',
  'access-control-expose-headers': 'Location, ETag, Link, Accept-Patch',
};

export async function registerWhipRoutes(app: FastifyInstance, deps: WhipDeps): Promise<void> {
  /** by resource id */
  const sessions = new Map<string, { callCid: string; sessionId: string; etag: string; ufrag: string | undefined }>();
  const resourceOf = new Map<string, string>();
  const forget = ({ participant }: { participant: { user_session_id: string } }) => {
    const resourceId = resourceOf.get(participant.user_session_id);
    resourceOf.delete(participant.user_session_id);
    if (resourceId !== undefined) sessions.delete(resourceId);
  };
  deps.media.on('participant_left', forget);
  app.addHook('onClose', async () => { deps.media.off('participant_left', forget); });

  await app.register(async (scope) => {
    scope.addContentTypeParser(['application/sdp', 'application/trickle-ice-sdpfrag'], { parseAs: 'string', bodyLimit: SDP_LIMIT }, (_req, body, done) => done(null, body));
    scope.addHook('onSend', async (_req, reply) => { reply.headers(CORS_HEADERS); });

    for (const prefix of PREFIXES) {
      const base = `${prefix}/video/call/:type/:id/whip`;

      scope.options(base, async (_req, reply) => reply.code(204).header('accept-post', 'application/sdp').send());
      scope.options(`${base}/:resourceId`, async (_req, reply) => reply.code(204).header('accept-patch', 'application/trickle-ice-sdpfrag').send());

      scope.post<{ Params: CallParams }>(base, async (req, reply) => {
        const startedAt = performance.now();
        const op = 'WhipPublish';
        const { type, id } = req.params;
        const callCid = `${type}:${id}`;
        const contentType = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (contentType !== 'application/sdp') {
          return sendError(reply, op, new ApiError(415, ErrorCodes.input, 'the offer must be sent with Content-Type: application/sdp'), startedAt);
        }
        let identity: PublisherIdentity;
        try {
          identity = await deps.authorize(req, type, id);
        } catch (err) {
          const api = asApiError(err);
          if (api) return sendError(reply, op, api, startedAt);
          deps.log.warn({ callCid, err: (err as Error)?.message }, 'WHIP authorization failed');
          return sendError(reply, op, new ApiError(500, ErrorCodes.internal, 'internal error'), startedAt);
        }
        try {
          const offer = typeof req.body === 'string' ? req.body : '';
          const { sessionId, answer, plan } = await deps.media.publish(callCid, identity, offer);
          const resourceId = randomBytes(16).toString('hex');
          const etag = etagOf(resourceId, answer);
          sessions.set(resourceId, { callCid, sessionId, etag, ufrag: /a=ice-ufrag:(\S+)/.exec(offer)?.[1] });
          resourceOf.set(sessionId, resourceId);
          const location = `${deps.publicUrl}${prefix}/video/call/${encodeURIComponent(type)}/${encodeURIComponent(id)}/whip/${resourceId}`;
          deps.log.info({ callCid, sessionId, userId: identity.userId, refused: plan.refused.map((r) => `${r.section.kind}:${r.reason}`) }, 'WHIP session created');
          return reply.code(201).type('application/sdp').header('location', location).header('etag', etag)
            .header('accept-patch', 'application/trickle-ice-sdpfrag').send(answer);
        } catch (err) {
          if (err instanceof OfferError) return sendError(reply, op, offerToApiError(err), startedAt);
          deps.log.warn({ callCid, err: (err as Error)?.message }, 'WHIP offer could not be answered');
          return sendError(reply, op, new ApiError(400, ErrorCodes.input, `the SDP offer could not be negotiated: ${(err as Error)?.message ?? 'unknown error'}`), startedAt);
        }
      });

      scope.patch<{ Params: SessionParams }>(`${base}/:resourceId`, async (req, reply) => {
        const startedAt = performance.now();
        const op = 'WhipTrickle';
        const { type, id, resourceId } = req.params;
        const s = sessions.get(resourceId);
        if (!s || s.callCid !== `${type}:${id}` || !deps.media.has(s.callCid, s.sessionId)) {
          return sendError(reply, op, new ApiError(404, ErrorCodes.notFound, 'WHIP session not found'), startedAt);
        }
        const contentType = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (contentType !== 'application/trickle-ice-sdpfrag') {
          return sendError(reply, op, new ApiError(415, ErrorCodes.input, 'send ICE candidates as application/trickle-ice-sdpfrag'), startedAt);
        }
        const ifMatch = req.headers['if-match'];
        if (ifMatch !== undefined && ifMatch !== '*' && ifMatch !== s.etag) {
          return sendError(reply, op, new ApiError(412, ErrorCodes.input, 'If-Match does not match the session ETag'), startedAt);
        }
        const frag = typeof req.body === 'string' ? req.body : '';
        const ufrag = /a=ice-ufrag:(\S+)/.exec(frag)?.[1];
        if (ufrag !== undefined && s.ufrag !== undefined && ufrag !== s.ufrag) {
          // An ICE restart: not supported; the publisher should start a new session.
          return sendError(reply, op, new ApiError(422, ErrorCodes.input, 'ICE restarts are not supported: publish a new offer'), startedAt);
        }
        const added = await deps.media.addRemoteCandidates(s.callCid, s.sessionId, frag);
        if (added < 0) return sendError(reply, op, new ApiError(400, ErrorCodes.input, 'the fragment holds no valid candidate lines'), startedAt);
        return reply.code(204).send();
      });

      scope.delete<{ Params: SessionParams }>(`${base}/:resourceId`, async (req, reply) => {
        const startedAt = performance.now();
        const { type, id, resourceId } = req.params;
        const s = sessions.get(resourceId);
        if (!s || s.callCid !== `${type}:${id}` || !deps.media.leave(s.callCid, s.sessionId)) {
          return sendError(reply, 'WhipDelete', new ApiError(404, ErrorCodes.notFound, 'WHIP session not found'), startedAt);
        }
        sessions.delete(resourceId);
        resourceOf.delete(s.sessionId);
        return reply.code(200).send();
      });
    }
  });
}
