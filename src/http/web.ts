/**
 * The browser pages as a plugin of the HTTP edge, serving what Vite built into `dist/web/pages`
 * (see web/vite.config.ts):
 * - `/web/*`: the built assets (hashed file names, cached for a long time);
 * - `/` (src/web/home.ts), `/join/:type/:id`, `/watch/:type/:id` and `/console` (and `/console/*`): the pages' HTML;
 * - `/layouts/builtin`: the built-in layouts as a page, opened by the layout browser for a layout
 *   with `external_css_url` (its CSP lets it load stylesheets, fonts and images from http(s) origins);
 * - `/sdk/layout.js` (and `/sdk/layout.d.ts`): the layout module layout apps import, from any origin (CORS);
 * - `/web/config.json`: what the pages need to call the API (the API key, which is public);
 * - `/dev/token?user_id=...`: a user token for development, only when `devTokens` is given;
 * - `GET {/api/v2,}/video/call/:type/:id/rtmp_broadcasts/:name/preview.jpg`: a snapshot of the
 *   composed broadcast; `deps.preview` authenticates and permission-checks the request (the root
 *   gives it `previewSource`: the edge's credentials, `read-call`, an active broadcast).
 * Errors are thrown as the wire contract's ApiError and answered by the edge's error handler.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SignJWT } from 'jose';
import type { Access } from '../calls/access.js';
import type { BroadcastState } from '../calls/broadcasts.js';
import { isQuality } from '../layout/settings.js';
import { homePlugin } from '../web/home.js';
import type { PreviewTap } from '../web/preview.js';
import { ApiError, ErrorCodes, badRequest, notAllowed, notFound } from '../wire/errors.js';
import type { Credentials } from './auth.js';
import { isCallParams } from './call-params.js';
import { callCid } from '../wire/call-cid.js';

/** The request's credentials, as the API reads them (`api_key` query, `Authorization` header). */
export interface PreviewAuth {
  apiKey: string | undefined;
  authorization: string | undefined;
  authType: string | undefined;
}

export interface WebRoutesDeps {
  /** The Vite build output (dist/web/pages). */
  webRoot: string;
  /** The app's API key, handed to the pages through /web/config.json. */
  apiKey?: string;
  /**
   * Mints a user token for the given user id (development only; absent in production). A null
   * result (or a null function result) answers 403.
   */
  devTokens?: (userId: string) => Promise<string> | null;
  /**
   * The latest composed picture of a broadcast as JPEG, or null when there is none yet. Throws the
   * API's error (with `statusCode`) when the credentials are missing, wrong, or lack read access.
   */
  preview: (callCid: string, name: string, auth: PreviewAuth) => Promise<Buffer | null>;
}

/** Security headers for the HTML pages (no inline scripts: Vite emits module files). */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; media-src 'self' blob: mediastream:; connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'",
  'Referrer-Policy': 'no-referrer',
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-cache',
};

/** The watch page may fetch an HLS playlist from wherever the service's public URL points. */
export const WATCH_PAGE_HEADERS: Readonly<Record<string, string>> = {
  ...PAGE_HEADERS,
  'Content-Security-Policy': PAGE_HEADERS['Content-Security-Policy']!.replace("connect-src 'self'", "connect-src 'self' http: https:"),
};

/** The built-in layouts page: an external stylesheet (and what it refers to) may come from any http(s) origin. */
export const LAYOUT_PAGE_HEADERS: Readonly<Record<string, string>> = {
  ...PAGE_HEADERS,
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self' http: https:; font-src 'self' data: http: https:; img-src 'self' blob: data: http: https:; media-src 'self' blob: mediastream:; connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'",
};

/** The layout module's files (built into `<webRoot>/sdk`), with their content types. */
const SDK_FILES: Readonly<Record<string, string>> = {
  'layout.js': 'text/javascript; charset=utf-8',
  'layout.js.map': 'application/json; charset=utf-8',
  'layout.d.ts': 'text/plain; charset=utf-8',
};

const USER_ID_PATTERN = /^[A-Za-z0-9@_.-]{1,64}$/;

function firstString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && typeof v[0] === 'string') return v[0];
  return undefined;
}

export async function webPlugin(app: FastifyInstance, deps: WebRoutesDeps): Promise<void> {
  const webRoot = resolve(deps.webRoot);
  await app.register(async (scope) => {
    await scope.register(fastifyStatic, {
      root: webRoot,
      prefix: '/web/',
      index: false,
      wildcard: true,
      cacheControl: false,
      setHeaders: (reply, path) => {
        reply.header('X-Content-Type-Options', 'nosniff');
        reply.header('Cache-Control', /[\\/]assets[\\/]/.test(path) ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
    });

    const sendPage =
      (file: 'join.html' | 'console.html' | 'watch.html' | 'layout.html', headers: Readonly<Record<string, string>> = PAGE_HEADERS) =>
      async (_request: FastifyRequest, reply: FastifyReply) => {
        if (!existsSync(join(webRoot, file))) {
          throw new ApiError(503, ErrorCodes.internal, `the web pages are not built (${file} is missing): run "npm run build:web"`);
        }
        reply.headers(headers);
        return reply.sendFile(file, webRoot, { cacheControl: false });
      };

    await scope.register(homePlugin, { devTokens: deps.devTokens !== undefined });

    scope.get('/web/config.json', async (_request, reply) => {
      reply.header('Cache-Control', 'no-cache');
      return { api_key: deps.apiKey ?? null, dev_tokens: deps.devTokens !== undefined };
    });

    const page = { config: { operation: 'GetPage' } };
    scope.get<{ Params: { type: string; id: string } }>('/join/:type/:id', page, async (request, reply) => {
      if (!isCallParams(request.params)) throw notFound('a call type and id are letters, digits, "_" and "-" (at most 64 each)');
      return sendPage('join.html')(request, reply);
    });
    scope.get<{ Params: { type: string; id: string } }>('/watch/:type/:id', page, async (request, reply) => {
      if (!isCallParams(request.params)) throw notFound('a call type and id are letters, digits, "_" and "-" (at most 64 each)');
      return sendPage('watch.html', WATCH_PAGE_HEADERS)(request, reply);
    });
    scope.get('/console', page, sendPage('console.html'));
    scope.get('/layouts/builtin', page, sendPage('layout.html', LAYOUT_PAGE_HEADERS));
    scope.get<{ Params: { file: string } }>('/sdk/:file', { config: { operation: 'GetLayoutModule' } }, async (request, reply) => {
      const type = Object.hasOwn(SDK_FILES, request.params.file) ? SDK_FILES[request.params.file] : undefined;
      if (!type) throw notFound('no such file (the layout module is /sdk/layout.js)');
      const file = join('sdk', request.params.file);
      if (!existsSync(join(webRoot, file))) {
        throw new ApiError(503, ErrorCodes.internal, `the web pages are not built (${file} is missing): run "npm run build:web"`);
      }
      reply.headers({
        'Access-Control-Allow-Origin': '*',
        'Cross-Origin-Resource-Policy': 'cross-origin',
        'X-Content-Type-Options': 'nosniff',
        'Cache-Control': 'no-cache',
      });
      return reply.type(type).send(await readFile(join(webRoot, file)));
    });
    scope.get('/console/*', page, sendPage('console.html'));

    if (deps.devTokens) {
      const mint = deps.devTokens;
      scope.get('/dev/token', { config: { operation: 'GetDevToken' } }, async (request, reply) => {
        const userId = firstString((request.query as Record<string, unknown> | undefined)?.user_id);
        if (!userId || !USER_ID_PATTERN.test(userId)) throw badRequest('user_id is required: letters, digits and @ _ . - (at most 64)');
        const pending = mint(userId);
        const token = pending === null ? null : await pending;
        if (!token) throw notAllowed('development tokens are not available for this user');
        reply.header('Cache-Control', 'no-store');
        return { user_id: userId, token };
      });
    }

    for (const prefix of ['/api/v2/video', '/video']) {
      scope.get<{ Params: { type: string; id: string; name: string } }>(
        `${prefix}/call/:type/:id/rtmp_broadcasts/:name/preview.jpg`,
        { config: { operation: 'GetRTMPBroadcastPreview' } },
        async (request, reply) => {
          const { type, id, name } = request.params;
          if (!isCallParams(request.params)) throw badRequest('call type and id must be letters, digits, "_" and "-" (at most 64 each)');
          const query = (request.query ?? {}) as Record<string, unknown>;
          const auth: PreviewAuth = {
            apiKey: firstString(query.api_key),
            authorization: firstString(request.headers.authorization),
            authType: firstString(request.headers['stream-auth-type']),
          };
          const jpeg = await deps.preview(callCid(type, id), name, auth);
          reply.header('Cache-Control', 'no-store');
          // 204 while the broadcast has no picture (yet, or any more: for a few seconds after its
          // stop); a 404 is kept for unknown broadcasts.
          if (!jpeg) return reply.code(204).send();
          return reply.type('image/jpeg').send(jpeg);
        },
      );
    }
  });
}

/**
 * The previews as the service serves them: checked like the broadcast details endpoint (api_key +
 * JWT, `read-call`, the broadcast must be active) and read from the tap (none: 204).
 */
export function previewSource(deps: {
  credentials: Credentials;
  access: Access;
  broadcasts: BroadcastState;
  tap?: PreviewTap;
}): WebRoutesDeps['preview'] {
  return async (cid, name, auth) => {
    const principal = await deps.credentials.authenticate(auth);
    // Throws the API's errors: unknown call (404), no read-call (403), no such broadcast (404).
    await deps.access.requireRead(principal, cid);
    let details: Awaited<ReturnType<BroadcastState['details']>>;
    try {
      details = await deps.broadcasts.details(cid, name);
    } catch (err) {
      // Stopped a moment ago: no picture any more (204), for pages that have not heard yet.
      if (deps.broadcasts.recentlyStopped(cid, name)) return null;
      throw err;
    }
    if (!deps.tap) return null;
    return deps.tap.latestJpeg(cid, isQuality(details.quality) ? details.quality : undefined);
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

/** `<repo>/dist/web/pages`, from both src/http (tsx) and dist/http (compiled). */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../dist/web/pages', import.meta.url));

/** The console address carrying a token (development: printed by `callcast serve`). */
export function consoleLink(baseUrl: string, token: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/console#token=${encodeURIComponent(token)}`;
}
