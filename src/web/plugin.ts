/**
 * Serves the browser pages built by Vite into `dist/web/pages` (see web/vite.config.ts):
 * - `/web/*`: the built assets (hashed file names, cached for a long time);
 * - `/` (src/web/home.ts), `/join/:type/:id` and `/console` (and `/console/*`): the pages' HTML;
 * - `/web/config.json`: what the pages need to call the API (the API key, which is public);
 * - `/dev/token?user_id=...`: a user token for development, only when `devTokens` is given;
 * - `GET {/api/v2,}/video/call/:type/:id/rtmp_broadcasts/:name/preview.jpg`: a snapshot of the
 *   composed broadcast; `deps.preview` authenticates and permission-checks the request.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { homePlugin } from './home.js';

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

const USER_ID_PATTERN = /^[A-Za-z0-9@_.-]{1,64}$/;
const PATH_PART_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

function firstString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && typeof v[0] === 'string') return v[0];
  return undefined;
}

/** Stream's error codes for the statuses these routes answer themselves. */
const ERROR_CODES: Record<number, number> = { 400: 4, 403: 17, 404: 16 };

function problem(reply: FastifyReply, status: number, message: string): FastifyReply {
  return reply
    .code(status)
    .type('application/json; charset=utf-8')
    .send({ code: ERROR_CODES[status] ?? -1, message, StatusCode: status, details: [] });
}

export async function registerWebRoutes(app: FastifyInstance, deps: WebRoutesDeps): Promise<void> {
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

    const sendPage = (file: 'join.html' | 'console.html') => async (_request: FastifyRequest, reply: FastifyReply) => {
      if (!existsSync(join(webRoot, file))) {
        return problem(reply, 503, `the web pages are not built (${file} is missing): run "npm run build:web"`);
      }
      reply.headers(PAGE_HEADERS);
      return reply.sendFile(file, webRoot, { cacheControl: false });
    };

    await scope.register(homePlugin, { devTokens: deps.devTokens !== undefined });

    scope.get('/web/config.json', async (_request, reply) => {
      reply.header('Cache-Control', 'no-cache');
      return { api_key: deps.apiKey ?? null, dev_tokens: deps.devTokens !== undefined };
    });

    scope.get<{ Params: { type: string; id: string } }>('/join/:type/:id', async (request, reply) => {
      const { type, id } = request.params;
      if (!PATH_PART_PATTERN.test(type) || !PATH_PART_PATTERN.test(id)) {
        return problem(reply, 404, 'a call type and id are letters, digits, "_" and "-" (at most 64 each)');
      }
      return sendPage('join.html')(request, reply);
    });
    scope.get('/console', sendPage('console.html'));
    scope.get('/console/*', sendPage('console.html'));

    if (deps.devTokens) {
      const mint = deps.devTokens;
      scope.get('/dev/token', async (request, reply) => {
        const userId = firstString((request.query as Record<string, unknown> | undefined)?.user_id);
        if (!userId || !USER_ID_PATTERN.test(userId)) {
          return problem(reply, 400, 'user_id is required: letters, digits and @ _ . - (at most 64)');
        }
        const pending = mint(userId);
        const token = pending === null ? null : await pending;
        if (!token) return problem(reply, 403, 'development tokens are not available for this user');
        reply.header('Cache-Control', 'no-store');
        return { user_id: userId, token };
      });
    }

    for (const prefix of ['/api/v2/video', '/video']) {
      scope.get<{ Params: { type: string; id: string; name: string } }>(
        `${prefix}/call/:type/:id/rtmp_broadcasts/:name/preview.jpg`,
        async (request, reply) => {
          const { type, id, name } = request.params;
          if (!PATH_PART_PATTERN.test(type) || !PATH_PART_PATTERN.test(id)) {
            return problem(reply, 400, 'call type and id must be letters, digits, "_" and "-" (at most 64 each)');
          }
          const query = (request.query ?? {}) as Record<string, unknown>;
          const auth: PreviewAuth = {
            apiKey: firstString(query.api_key),
            authorization: firstString(request.headers.authorization),
            authType: firstString(request.headers['stream-auth-type']),
          };
          const jpeg = await deps.preview(`${type}:${id}`, name, auth);
          reply.header('Cache-Control', 'no-store');
          // 204 while the broadcast has no picture yet (a 404 is kept for unknown broadcasts).
          if (!jpeg) return reply.code(204).send();
          return reply.type('image/jpeg').send(jpeg);
        },
      );
    }
  });
}
