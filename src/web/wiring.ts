/**
 * How the server assembly feeds `registerWebRoutes`: previews checked like the broadcast details
 * endpoint (api_key + JWT, `read-call`, the broadcast must be active) and read from a PreviewTap,
 * and development tokens signed with the API secret.
 */
import { SignJWT } from 'jose';
import { authenticate, type Principal } from '../api/auth.js';
import { isQuality } from '../layout/settings.js';
import type { PreviewAuth, WebRoutesDeps } from './plugin.js';
import type { PreviewTap } from './preview.js';

/** What the preview needs from the calls service (CallService.broadcastDetails fits). */
export interface BroadcastReader {
  broadcastDetails(principal: Principal, type: string, id: string, name: string): Promise<Record<string, unknown>>;
}

export function previewFromTap(deps: { apiKey: string; apiSecret: string; calls: BroadcastReader; tap: PreviewTap }): WebRoutesDeps['preview'] {
  return async (callCid: string, name: string, auth: PreviewAuth) => {
    const principal = await authenticate(
      { query: { api_key: auth.apiKey }, headers: { authorization: auth.authorization } },
      deps.apiKey,
      deps.apiSecret,
    );
    const sep = callCid.indexOf(':');
    // Throws the API's errors: unknown call (404), no read-call (403), no such broadcast (404).
    const details = await deps.calls.broadcastDetails(principal, callCid.slice(0, sep), callCid.slice(sep + 1), name);
    return deps.tap.latestJpeg(callCid, isQuality(details.quality) ? details.quality : undefined);
  };
}

/** Development user tokens (`user_id`, one hour), signed with the API secret. */
export function devTokensFromSecret(apiSecret: string, ttlSeconds = 3600): (userId: string) => Promise<string> {
  const key = new TextEncoder().encode(apiSecret);
  return (userId: string) => {
    const iat = Math.floor(Date.now() / 1000) - 1;
    return new SignJWT({ user_id: userId, iat, exp: iat + ttlSeconds }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(key);
  };
}
