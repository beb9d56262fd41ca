/**
 * WHEP subscriptions (draft-ietf-wish-whep) to one participant's camera and microphone, as a
 * Fastify plugin:
 * - POST    {prefix}/video/call/:type/:id/participants/:sessionId/whep               recvonly offer -> 201 answer
 * - PATCH   {prefix}/video/call/:type/:id/participants/:sessionId/whep/:resourceId   trickle ICE -> 204
 * - DELETE  {prefix}/video/call/:type/:id/participants/:sessionId/whep/:resourceId   ends it -> 200
 * - OPTIONS on both (CORS preflight, Accept-Post / Accept-Patch)
 * with prefix '' and '/api/v2'. `sessionId` is the participant's `user_session_id` (as in
 * `call.session.participants`). With `?track_type=screen_share` the subscription is to that
 * participant's screen share (404 when it shares none). The resource id is unguessable (128 random bits) and is what
 * authorizes PATCH and DELETE. Errors in Stream's shape: 401 bad token, 403 no capability (or a
 * call token for other calls), 404 unknown call or participant, 400 unusable offer.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Access } from '../calls/access.js';
import { ApiError, ErrorCodes, errorBody, notAllowed, notFound } from '../wire/errors.js';
import type { Principal } from '../wire/principal.js';
import type { CallMedia } from '../media/call-media.js';
import { UnknownParticipantError } from '../media/forwarding/forwarder.js';
import { OfferError } from '../media/sdp.js';
import {
  CORS_HEADERS,
  contentTypeOf,
  noCandidates,
  sendAnswer,
  sessionTag,
  trickleFragment,
  trickleProblem,
  type SessionTag,
} from './sdp-exchange.js';

export interface WhepOptions {
  media: CallMedia;
  /** Throws the API's error (401, 403, 404) unless the request may watch the call. */
  authorize(req: FastifyRequest, callType: string, callId: string): Promise<void>;
  log?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
}

const SDP_LIMIT = 64 * 1024;
const PREFIXES = ['/api/v2', ''] as const;

interface ParticipantParams {
  type: string;
  id: string;
  sessionId: string;
}
interface ResourceParams extends ParticipantParams {
  resourceId: string;
}

export function sendError(reply: FastifyReply, operation: string, err: ApiError, startedAt: number): FastifyReply {
  return reply
    .code(err.status)
    .type('application/json')
    .send(errorBody(operation, err, performance.now() - startedAt));
}

export function asApiError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  const e = err as { status?: unknown; code?: unknown; detail?: unknown; message?: unknown } | null;
  if (e && typeof e.status === 'number' && typeof e.code === 'number' && e.status >= 400 && e.status < 600) {
    return new ApiError(
      e.status,
      e.code,
      typeof e.detail === 'string' ? e.detail : typeof e.message === 'string' ? e.message : 'request failed',
    );
  }
  return undefined;
}

/** A subscription that could not be made: 404 when its source is `unknown`, else 400 naming why the offer failed. */
export function subscriptionFailure(err: unknown, unknown: boolean): ApiError {
  if (unknown) return notFound((err as Error).message);
  if (err instanceof OfferError) return new ApiError(400, ErrorCodes.input, err.message);
  return new ApiError(400, ErrorCodes.input, `the SDP offer could not be negotiated: ${(err as Error)?.message ?? 'unknown error'}`);
}

/**
 * Answers a WHEP trickle PATCH of a known session: the checks of `trickleProblem`, 400 when no
 * candidate line is usable, 204 once `addCandidates` took them.
 */
export async function answerTrickle(
  req: FastifyRequest,
  reply: FastifyReply,
  at: { op: string; startedAt: number; session: SessionTag | undefined },
  addCandidates: (frag: string) => Promise<number>,
): Promise<FastifyReply> {
  const { op, startedAt, session } = at;
  const problem = trickleProblem(req, session, 'subscribe with a new offer');
  if (problem) return sendError(reply, op, problem, startedAt);
  const added = await addCandidates(trickleFragment(req));
  if (added < 0) return sendError(reply, op, noCandidates(), startedAt);
  return reply.code(204).send();
}

/**
 * Who may subscribe: a server token; a user whose roles in the call grant `read-call` or
 * `join-call` (app role, membership, call token). A call token (one with `call_cids`) is good for
 * its calls only. An `api_key`, when given, must be the app's.
 */
export async function authorizeCallReader(access: Access, principal: Principal, type: string, id: string): Promise<void> {
  const { call, callType } = await access.loadCall(type, id);
  if (principal.kind === 'server') return;
  if (principal.callCids !== undefined && !principal.callCids.includes(call.cid)) {
    throw notAllowed(`the token is for other calls than ${call.cid}`);
  }
  const caps = await access.capabilitiesIn(principal, callType, call.cid);
  if (!caps.includes('read-call') && !caps.includes('join-call')) {
    throw notAllowed(`User '${principal.userId}' is not allowed to perform action read-call in scope '${callType.name}'`);
  }
}

export const whepRoutes: FastifyPluginAsync<WhepOptions> = async (app, opts) => {
  const forwarding = opts.media.forwarding;
  /** by resource id: the ETag, the subscriber's ICE username fragment and the session it receives */
  const resources = new Map<string, { etag: string; ufrag: string | undefined; source: string }>();
  /** The session a subscription receives: the participant's own, or its screen share's. */
  const sourceOf = (resourceId: string, sessionId: string) => resources.get(resourceId)?.source ?? sessionId;
  const forget = ({ resourceId }: { resourceId: string }) => {
    resources.delete(resourceId);
  };
  forwarding.on('subscription_closed', forget);
  app.addHook('onClose', async () => {
    forwarding.off('subscription_closed', forget);
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
    const base = `${prefix}/video/call/:type/:id/participants/:sessionId/whep`;

    app.options(base, async (_req, reply) => reply.code(204).header('accept-post', 'application/sdp').send());
    app.options(`${base}/:resourceId`, async (_req, reply) =>
      reply.code(204).header('accept-patch', 'application/trickle-ice-sdpfrag').send(),
    );

    app.post<{ Params: ParticipantParams; Querystring: { track_type?: string } }>(base, async (req, reply) => {
      const startedAt = performance.now();
      const op = 'WhepSubscribe';
      const { type, id, sessionId } = req.params;
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
        opts.log?.warn({ callCid, err: (err as Error)?.message }, 'WHEP authorization failed');
        return sendError(reply, op, new ApiError(500, ErrorCodes.internal, 'internal error'), startedAt);
      }
      const trackType = req.query.track_type;
      if (trackType !== undefined && trackType !== 'screen_share' && trackType !== 'camera') {
        return sendError(
          reply,
          op,
          new ApiError(400, ErrorCodes.input, 'track_type must be screen_share (or camera, the default)'),
          startedAt,
        );
      }
      let source = sessionId;
      if (trackType === 'screen_share') {
        const share = opts.media.screenShareSession(callCid, sessionId);
        if (!share) return sendError(reply, op, notFound(`participant ${sessionId} shares no screen in call ${callCid}`), startedAt);
        source = share;
      }
      try {
        const offer = typeof req.body === 'string' ? req.body : '';
        const { resourceId, answer } = await forwarding.subscribe(callCid, source, offer);
        const tag = sessionTag(resourceId, offer, answer);
        resources.set(resourceId, { ...tag, source });
        const location = `${prefix}/video/call/${encodeURIComponent(type)}/${encodeURIComponent(id)}/participants/${encodeURIComponent(sessionId)}/whep/${resourceId}`;
        return sendAnswer(reply, location, tag.etag, answer);
      } catch (err) {
        const unknown = err instanceof UnknownParticipantError;
        if (!unknown && !(err instanceof OfferError))
          opts.log?.warn({ callCid, err: (err as Error)?.message }, 'WHEP offer could not be answered');
        return sendError(reply, op, subscriptionFailure(err, unknown), startedAt);
      }
    });

    app.patch<{ Params: ResourceParams }>(`${base}/:resourceId`, async (req, reply) => {
      const startedAt = performance.now();
      const op = 'WhepTrickle';
      const { type, id, sessionId, resourceId } = req.params;
      if (!forwarding.has(resourceId, `${type}:${id}`, sourceOf(resourceId, sessionId))) {
        return sendError(reply, op, notFound('WHEP session not found'), startedAt);
      }
      return answerTrickle(req, reply, { op, startedAt, session: resources.get(resourceId) }, (frag) =>
        forwarding.addRemoteCandidates(resourceId, frag),
      );
    });

    app.delete<{ Params: ResourceParams }>(`${base}/:resourceId`, async (req, reply) => {
      const startedAt = performance.now();
      const { type, id, sessionId, resourceId } = req.params;
      if (!forwarding.has(resourceId, `${type}:${id}`, sourceOf(resourceId, sessionId)) || !forwarding.unsubscribe(resourceId)) {
        return sendError(reply, 'WhepDelete', notFound('WHEP session not found'), startedAt);
      }
      return reply.code(200).send();
    });
  }
};
