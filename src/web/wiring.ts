/**
 * How the server assembly feeds `registerWebRoutes`: previews checked like the broadcast details
 * endpoint (api_key + JWT, `read-call`, the broadcast must be active) and read from a PreviewTap,
 * and development tokens signed with the API secret.
 */
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { SignJWT } from 'jose';
import { authenticate, type Principal } from '../api/auth.js';
import { isQuality } from '../layout/settings.js';
import { registerWebRoutes, type PreviewAuth, type WebRoutesDeps } from './plugin.js';
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

/** `<repo>/dist/web/pages`, from both src/web (tsx) and dist/web (compiled). */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../dist/web/pages', import.meta.url));

export interface WebExtensionOptions {
  /** The Vite build output; default the repository's `dist/web/pages` (found from this module). */
  webRoot?: string;
  /** Serve `/dev/token` (development only: config flag CALLCAST_DEV_TOKENS=1). */
  devTokens: boolean;
  /** The tap wrapped around the egress's frame source factory (previews); without one, previews answer 204. */
  tap?: PreviewTap;
}

/** The subset of the server context the web routes use (src/server.ts ServerContext fits). */
export interface WebServerContext {
  apiKey: string;
  apiSecret: string;
  service: BroadcastReader;
}

/**
 * A server extension (createServer's `extensions`) that mounts the pages:
 * `extensions: [webExtension({ devTokens: config.devTokens, tap })]`.
 */
export function webExtension(opts: WebExtensionOptions): (app: FastifyInstance, ctx: WebServerContext) => Promise<void> {
  const tap = opts.tap;
  return (app, ctx) =>
    registerWebRoutes(app, {
      webRoot: opts.webRoot ?? DEFAULT_WEB_ROOT,
      apiKey: ctx.apiKey,
      ...(opts.devTokens ? { devTokens: devTokensFromSecret(ctx.apiSecret) } : {}),
      preview: tap
        ? previewFromTap({ apiKey: ctx.apiKey, apiSecret: ctx.apiSecret, calls: ctx.service, tap })
        : async (callCid, name, auth) => {
            // Still check access, so a missing tap never tells strangers which broadcasts exist.
            const principal = await authenticate({ query: { api_key: auth.apiKey }, headers: { authorization: auth.authorization } }, ctx.apiKey, ctx.apiSecret);
            const sep = callCid.indexOf(':');
            await ctx.service.broadcastDetails(principal, callCid.slice(0, sep), callCid.slice(sep + 1), name);
            return null;
          },
    });
}

/** The console address carrying a token (development: printed by `callcast serve`). */
export function consoleLink(baseUrl: string, token: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/console#token=${encodeURIComponent(token)}`;
}
