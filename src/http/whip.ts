/**
 * WHIP ingest (RFC 9725) as a plugin of the HTTP edge:
 * - POST   {prefix}/video/call/:type/:id/whip              application/sdp offer -> 201 answer
 *          (`?track_type=screen_share`: a screen share of the user, under the `screenshare` capability)
 * - PATCH  {prefix}/video/call/:type/:id/whip/:resourceId  trickle ICE candidates -> 204
 * - DELETE {prefix}/video/call/:type/:id/whip/:resourceId  leaves the call -> 200
 * - OPTIONS on both (CORS preflight, Accept-Post)
 * with prefix '' and '/api/v2'. The resource id in the session URL is unguessable (128 random bits),
 * distinct from the participant's `user_session_id` (which every reader of the call sees in
 * `call.session`), and is what authorizes PATCH and DELETE, as the RFC's session URL does. Errors are thrown as the wire
 * contract's ApiError and answered by the edge's error handler; the media plane does the rest.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import type { CallMedia, PublishSource, PublisherIdentity } from '../media/call-media.js';
import { OfferError } from '../media/sdp.js';
import { callCid as cidOf } from '../wire/call-cid.js';
import type { CallParams } from './call-params.js';
import { CORS_HEADERS, contentTypeOf, noCandidates, sendAnswer, sessionTag, trickleFragment, trickleProblem } from './sdp-exchange.js';
import { ApiError, ErrorCodes } from '../wire/errors.js';

export interface WhipOptions {
  media: CallMedia;
  /**
   * Who publishes and what they may send; throws the wire contract's errors for bad credentials,
   * an unknown or ended call, or no join-call (the root: `request.authenticate` + Access).
   */
  authorize(req: FastifyRequest, callType: string, callId: string): Promise<PublisherIdentity>;
  log: Pick<Logger, 'info' | 'warn'>;
  /** The base of the session's Location (no trailing slash); '' for a path-only Location. */
  publicUrl: string;
}

const SDP_LIMIT = 64 * 1024;
const PREFIXES = ['/api/v2', ''] as const;

interface SessionParams extends CallParams {
  resourceId: string;
}

function offerToApiError(err: OfferError): ApiError {
  const code = err.status === 403 ? ErrorCodes.notAllowed : err.status === 429 ? ErrorCodes.rateLimited : ErrorCodes.input;
  return new ApiError(err.status, code, err.message);
}

export async function whipPlugin(app: FastifyInstance, deps: WhipOptions): Promise<void> {
  const sessions = new Map<string, { callCid: string; sessionId: string; etag: string; ufrag: string | undefined }>();
  const resourceOf = new Map<string, string>();
  const forgetSession = (sessionId: string) => {
    const resourceId = resourceOf.get(sessionId);
    resourceOf.delete(sessionId);
    if (resourceId !== undefined) sessions.delete(resourceId);
  };
  const forget = ({ participant }: { participant: { user_session_id: string } }) => forgetSession(participant.user_session_id);
  const forgetShare = ({ shareSessionId }: { shareSessionId: string }) => forgetSession(shareSessionId);
  deps.media.on('participant_left', forget);
  deps.media.on('screen_share_stopped', forgetShare);
  app.addHook('onClose', async () => {
    deps.media.off('participant_left', forget);
    deps.media.off('screen_share_stopped', forgetShare);
  });

  await app.register(async (scope) => {
    scope.addContentTypeParser(
      ['application/sdp', 'application/trickle-ice-sdpfrag'],
      { parseAs: 'string', bodyLimit: SDP_LIMIT },
      (_req, body, done) => done(null, body),
    );
    scope.addHook('onSend', async (_req, reply) => {
      reply.headers(CORS_HEADERS);
    });

    for (const prefix of PREFIXES) {
      const base = `${prefix}/video/call/:type/:id/whip`;

      scope.options(base, async (_req, reply) => reply.code(204).header('accept-post', 'application/sdp').send());
      scope.options(`${base}/:resourceId`, async (_req, reply) =>
        reply.code(204).header('accept-patch', 'application/trickle-ice-sdpfrag').send(),
      );

      scope.post<{ Params: CallParams; Querystring: { track_type?: string } }>(
        base,
        { config: { operation: 'WhipPublish' } },
        async (req, reply) => {
          const { type, id } = req.params;
          const trackType = req.query.track_type;
          if (trackType !== undefined && trackType !== 'screen_share' && trackType !== 'camera') {
            throw new ApiError(400, ErrorCodes.input, 'track_type must be screen_share (or camera, the default)');
          }
          const source: PublishSource = trackType === 'screen_share' ? 'screen_share' : 'camera';
          const callCid = cidOf(type, id);
          if (contentTypeOf(req) !== 'application/sdp') {
            throw new ApiError(415, ErrorCodes.input, 'the offer must be sent with Content-Type: application/sdp');
          }
          const identity = await deps.authorize(req, type, id);
          if (source === 'screen_share' && !identity.canScreenshare) {
            throw new ApiError(
              403,
              ErrorCodes.notAllowed,
              `User '${identity.userId}' is not allowed to perform action screenshare in scope '${type}'`,
            );
          }
          try {
            const offer = typeof req.body === 'string' ? req.body : '';
            const { sessionId, answer, plan } = await deps.media.publish(callCid, identity, offer, source);
            // The resource id is not the user_session_id every reader of the call sees.
            const resourceId = randomBytes(16).toString('hex');
            const tag = sessionTag(resourceId, offer, answer);
            sessions.set(resourceId, { callCid, sessionId, ...tag });
            resourceOf.set(sessionId, resourceId);
            const location = `${deps.publicUrl}${prefix}/video/call/${encodeURIComponent(type)}/${encodeURIComponent(id)}/whip/${resourceId}`;
            deps.log.info(
              { callCid, sessionId, userId: identity.userId, source, refused: plan.refused.map((r) => `${r.section.kind}:${r.reason}`) },
              'WHIP session created',
            );
            const unreceived = plan.refused.filter((r) => r.reason === 'not_received');
            if (unreceived.length > 0) {
              deps.log.warn(
                { callCid, sessionId, sections: unreceived.map((r) => `${r.section.kind}:${r.section.mid ?? r.section.index}`) },
                'WHIP offer sections refused in the answer: no track could be received for them',
              );
            }
            return sendAnswer(reply, location, tag.etag, answer);
          } catch (err) {
            if (err instanceof OfferError) throw offerToApiError(err);
            deps.log.warn({ callCid, err: (err as Error)?.message }, 'WHIP offer could not be answered');
            throw new ApiError(
              400,
              ErrorCodes.input,
              `the SDP offer could not be negotiated: ${(err as Error)?.message ?? 'unknown error'}`,
            );
          }
        },
      );

      scope.patch<{ Params: SessionParams }>(`${base}/:resourceId`, { config: { operation: 'WhipTrickle' } }, async (req, reply) => {
        const { type, id, resourceId } = req.params;
        const s = sessions.get(resourceId);
        if (!s || s.callCid !== cidOf(type, id) || !deps.media.has(s.callCid, s.sessionId)) {
          throw new ApiError(404, ErrorCodes.notFound, 'WHIP session not found');
        }
        // An ICE restart is not supported: the publisher should start a new session.
        const problem = trickleProblem(req, s, 'publish a new offer');
        if (problem) throw problem;
        const added = await deps.media.addRemoteCandidates(s.callCid, s.sessionId, trickleFragment(req));
        if (added < 0) throw noCandidates();
        return reply.code(204).send();
      });

      scope.delete<{ Params: SessionParams }>(`${base}/:resourceId`, { config: { operation: 'WhipDelete' } }, async (req, reply) => {
        const { type, id, resourceId } = req.params;
        const s = sessions.get(resourceId);
        if (!s || s.callCid !== cidOf(type, id) || !deps.media.leave(s.callCid, s.sessionId))
          throw new ApiError(404, ErrorCodes.notFound, 'WHIP session not found');
        sessions.delete(resourceId);
        resourceOf.delete(s.sessionId);
        return reply.code(200).send();
      });
    }
  });
}
