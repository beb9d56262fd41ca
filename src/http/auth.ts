/**
 * Request authentication, the one way every surface does it: the `api_key` query parameter and an
 * HS256 JWT signed with the API secret in `Authorization` (raw, as the node SDK sends it, or with
 * `Bearer `). `Credentials` checks them; the HTTP edge exposes it as the `authenticate` request
 * decorator (see edge.ts), the WebSocket uses `verify` on the token of its auth message.
 */
import { timingSafeEqual } from 'node:crypto';
import { errors as joseErrors, jwtVerify } from 'jose';
import { ErrorCodes, unauthenticated, type ApiError } from '../wire/errors.js';
import type { Principal, UserPrincipal } from '../wire/principal.js';

/** Tolerated clock skew for `iat`, `nbf` and `exp`, in seconds. */
export const CLOCK_SKEW_SECONDS = 5;

/**
 * Whether a request must carry the `api_key` (REST: Stream's rule) or may leave it out (WHIP:
 * clients such as OBS send only a bearer token; a key that is sent must still be right).
 */
export type ApiKeyRule = 'required' | 'optional';

/** A request's credentials as they arrive. */
export interface RequestCredentials {
  apiKey: unknown;
  authorization: unknown;
}

function equalStrings(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

export function checkApiKey(given: unknown, apiKey: string): void {
  if (typeof given !== 'string' || given === '')
    throw unauthenticated('api_key is missing: add it as the api_key query parameter', ErrorCodes.accessKey);
  if (!equalStrings(given, apiKey)) throw unauthenticated('api_key not valid', ErrorCodes.accessKey);
}

/** The token from an Authorization header value, without a `Bearer ` prefix. */
export function tokenFromHeader(header: unknown): string {
  if (typeof header !== 'string' || header.trim() === '') {
    throw unauthenticated('Authorization header is missing: send a JWT signed with the API secret');
  }
  const value = header.trim();
  return /^bearer\s+/i.test(value) ? value.replace(/^bearer\s+/i, '') : value;
}

/** Verifies an HS256 token signed with the API secret and returns who it speaks for. */
export async function verifyToken(token: string, apiSecret: string, nowSeconds = Math.floor(Date.now() / 1000)): Promise<Principal> {
  if (token.split('.').length !== 3) throw unauthenticated('token is not a valid JWT', ErrorCodes.tokenSignature);
  let payload: Record<string, unknown>;
  try {
    const res = await jwtVerify(token, new TextEncoder().encode(apiSecret), {
      algorithms: ['HS256'],
      clockTolerance: CLOCK_SKEW_SECONDS,
      currentDate: new Date(nowSeconds * 1000),
    });
    payload = res.payload as Record<string, unknown>;
  } catch (err) {
    throw tokenError(err);
  }
  if (typeof payload.iat === 'number' && payload.iat > nowSeconds + CLOCK_SKEW_SECONDS) {
    throw unauthenticated('token used before issue at (iat)', ErrorCodes.tokenBeforeIssuedAt);
  }
  if (payload.server === true) return { kind: 'server' };
  const userId = payload.user_id;
  if (typeof userId !== 'string' || userId === '') throw unauthenticated('token has no user_id claim');
  const principal: UserPrincipal = { kind: 'user', userId };
  if (typeof payload.exp === 'number') principal.expiresAt = payload.exp;
  if (payload.role !== undefined) {
    if (typeof payload.role !== 'string') throw unauthenticated('token claim role must be a string');
    principal.role = payload.role;
  }
  if (payload.call_cids !== undefined) {
    if (!Array.isArray(payload.call_cids) || !payload.call_cids.every((c) => typeof c === 'string')) {
      throw unauthenticated('token claim call_cids must be a list of call cids');
    }
    principal.callCids = payload.call_cids as string[];
  }
  return principal;
}

function tokenError(err: unknown): ApiError {
  if (err instanceof joseErrors.JWTExpired) return unauthenticated('token is expired', ErrorCodes.tokenExpired);
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'iat') return unauthenticated('token used before issue at (iat)', ErrorCodes.tokenBeforeIssuedAt);
    if (err.claim === 'nbf') return unauthenticated('token is not valid yet', ErrorCodes.tokenNotValidYet);
    return unauthenticated(`token claim ${err.claim} is invalid`);
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed)
    return unauthenticated('token signature algorithm must be HS256', ErrorCodes.tokenSignature);
  if (err instanceof joseErrors.JWSSignatureVerificationFailed)
    return unauthenticated('token signature is invalid', ErrorCodes.tokenSignature);
  return unauthenticated('token is not a valid HS256 JWT', ErrorCodes.tokenSignature);
}

/** The app's credentials: checks what requests present. */
export class Credentials {
  constructor(
    readonly apiKey: string,
    private readonly apiSecret: string,
  ) {}

  /** Who the request speaks for; throws 401 (codes 2, 5, 40, 41, 42, 43) otherwise. */
  async authenticate(creds: RequestCredentials, apiKeyRule: ApiKeyRule = 'required'): Promise<Principal> {
    if (apiKeyRule === 'required' || creds.apiKey !== undefined) checkApiKey(creds.apiKey, this.apiKey);
    return verifyToken(tokenFromHeader(creds.authorization), this.apiSecret);
  }

  /** Verifies a bare token (the WebSocket's auth message). */
  verify(token: string): Promise<Principal> {
    return verifyToken(token, this.apiSecret);
  }
}

/** The credentials of a Fastify-like request (`api_key` query value, `Authorization` header). */
export function requestCredentials(req: { query: unknown; headers: Record<string, string | string[] | undefined> }): RequestCredentials {
  const query = (req.query ?? {}) as Record<string, unknown>;
  return { apiKey: query.api_key, authorization: req.headers.authorization };
}
