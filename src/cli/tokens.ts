/** HS256 tokens signed with the API secret, as the API verifies them (src/api/auth.ts). */
import { SignJWT } from 'jose';

export interface UserTokenClaims {
  userId: string;
  ttlSeconds: number;
  callCids?: string[];
  role?: string;
}

function sign(payload: Record<string, unknown>, secret: string): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(secret));
}

/** A user token (`user_id`, optional `call_cids` and `role`); ttl 0 means no expiry. */
export function mintUserToken(secret: string, claims: UserTokenClaims, nowSeconds = Math.floor(Date.now() / 1000)): Promise<string> {
  const iat = nowSeconds - 1;
  const payload: Record<string, unknown> = { user_id: claims.userId, iat };
  if (claims.ttlSeconds > 0) payload.exp = iat + claims.ttlSeconds;
  if (claims.callCids) payload.call_cids = claims.callCids;
  if (claims.role) payload.role = claims.role;
  return sign(payload, secret);
}

/** A server token (`server: true`), short-lived: the operator commands mint one per run. */
export function mintServerToken(secret: string, ttlSeconds = 300, nowSeconds = Math.floor(Date.now() / 1000)): Promise<string> {
  const iat = nowSeconds - 1;
  return sign({ server: true, iat, exp: iat + ttlSeconds }, secret);
}
