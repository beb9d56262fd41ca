/**
 * What WHIP (RFC 9725) and WHEP (draft-ietf-wish-whep) resources share over HTTP: the CORS
 * headers, the 201 answer with its resource, the session tag trickle PATCHes are checked against,
 * and those checks. Used by the publish (whip.ts), participant (whep.ts) and broadcast-preview
 * (broadcast-whep.ts) endpoints.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { createHash } from 'node:crypto';
import { ApiError, ErrorCodes } from '../wire/errors.js';

export const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'POST, PATCH, DELETE, OPTIONS',
  'access-control-allow-headers': 'Authorization, Content-Type, If-Match, stream-auth-type, api_key',
  'access-control-expose-headers': 'Location, ETag, Link, Accept-Patch',
};

export function contentTypeOf(req: FastifyRequest): string {
  return String(req.headers['content-type'] ?? '')
    .split(';')[0]!
    .trim()
    .toLowerCase();
}

export interface SessionTag {
  etag: string;
  ufrag: string | undefined;
}

/** What trickle PATCHes of a new session are checked against: the answer's ETag and the offer's ufrag. */
export function sessionTag(resourceId: string, offer: string, answer: string): SessionTag {
  return {
    etag: `"${createHash('sha256').update(resourceId).update(answer).digest('hex').slice(0, 16)}"`,
    ufrag: /a=ice-ufrag:(\S+)/.exec(offer)?.[1],
  };
}

/** 201 with the SDP answer, its resource (Location), ETag and the trickle type PATCH accepts. */
export function sendAnswer(reply: FastifyReply, location: string, etag: string, answer: string): FastifyReply {
  return reply
    .code(201)
    .type('application/sdp')
    .header('location', location)
    .header('etag', etag)
    .header('accept-patch', 'application/trickle-ice-sdpfrag')
    .send(answer);
}

/**
 * What is wrong with a trickle PATCH of a known session (RFC 9725 section 4.3), or null: 415
 * unless a trickle fragment, 412 when If-Match names another ETag, 422 for an ICE restart (a new
 * ufrag; `restartHint` says what to do instead).
 */
export function trickleProblem(req: FastifyRequest, session: SessionTag | undefined, restartHint: string): ApiError | null {
  if (contentTypeOf(req) !== 'application/trickle-ice-sdpfrag') {
    return new ApiError(415, ErrorCodes.input, 'send ICE candidates as application/trickle-ice-sdpfrag');
  }
  const ifMatch = req.headers['if-match'];
  if (ifMatch !== undefined && ifMatch !== '*' && ifMatch !== session?.etag) {
    return new ApiError(412, ErrorCodes.input, 'If-Match does not match the session ETag');
  }
  const ufrag = /a=ice-ufrag:(\S+)/.exec(trickleFragment(req))?.[1];
  if (ufrag !== undefined && session?.ufrag !== undefined && ufrag !== session.ufrag) {
    return new ApiError(422, ErrorCodes.input, `ICE restarts are not supported: ${restartHint}`);
  }
  return null;
}

/** The PATCH body (the SDP fragment), '' when there is none. */
export function trickleFragment(req: FastifyRequest): string {
  return typeof req.body === 'string' ? req.body : '';
}

/** No usable candidate line in a trickle fragment. */
export const noCandidates = (): ApiError => new ApiError(400, ErrorCodes.input, 'the fragment holds no valid candidate lines');
