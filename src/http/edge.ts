/**
 * The HTTP edge: the root Fastify instance every surface is a plugin of (REST, WHIP, the event
 * WebSocket, pages and previews, metrics). It holds what they share, once:
 * - Stream's HTTP conventions: JSON bodies (empty = `{}`), 1 MiB limit, `duration` on every JSON
 *   success, 201 for POST/PUT;
 * - one error handler (and not-found handler) answering Stream's APIError shape for every surface
 *   (routes throw the wire contract's ApiError and name their operation in `config.operation`);
 * - one `authenticate` request decorator (api_key + JWT; `{ apiKey: 'optional' }` for WHIP).
 *
 * A new surface is a plugin `async (app, opts: TypedOptions) => {...}` registered by the
 * composition root (src/app.ts) under this instance.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { ProcessLogger } from '../log.js';
import { ApiError, ErrorCodes, formatDuration, notFound } from '../wire/errors.js';
import type { Principal } from '../wire/principal.js';
import { requestCredentials, type ApiKeyRule, type Credentials } from './auth.js';
import { sendApiError, toApiError } from './errors.js';
import { StoreUnavailableError } from '../store/availability.js';

export const BODY_LIMIT_BYTES = 1024 * 1024;

declare module 'fastify' {
  interface FastifyRequest {
    /** Who the request speaks for (api_key + JWT); throws the 401 APIErrors. */
    authenticate(opts?: { apiKey?: ApiKeyRule }): Promise<Principal>;
  }
}

export interface HttpEdgeOptions {
  log: ProcessLogger;
  credentials: Credentials;
  /** Log every request (debug and trace levels). */
  logRequests?: boolean;
}

/** Fastify options matching the conventions (strict JSON schema types: no coercion). */
export const fastifyHttpOptions = {
  bodyLimit: BODY_LIMIT_BYTES,
  ajv: { customOptions: { allowUnionTypes: true, coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false } },
} as const;

export function createHttpEdge(opts: HttpEdgeOptions): FastifyInstance {
  const app: FastifyInstance = Fastify({
    loggerInstance: opts.log as FastifyBaseLogger,
    ...fastifyHttpOptions,
    logController: new LogController({ disableRequestLogging: opts.logRequests !== true }),
  });
  installHttpConventions(app);
  const { credentials } = opts;
  app.decorateRequest('authenticate', function (this: import('fastify').FastifyRequest, o?: { apiKey?: ApiKeyRule }) {
    return credentials.authenticate(requestCredentials(this), o?.apiKey ?? 'required');
  });
  return app;
}

/** Installs the JSON parser, success decoration, error and not-found handlers on the root instance. */
export function installHttpConventions(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: BODY_LIMIT_BYTES }, (_req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, {});
    try {
      done(null, JSON.parse(text));
    } catch {
      done(new ApiError(400, ErrorCodes.input, 'invalid JSON body'), undefined);
    }
  });

  // Bodiless requests validate as an empty object.
  app.addHook('preValidation', async (request) => {
    if (request.body === undefined || request.body === null) {
      if (request.method !== 'GET' && request.method !== 'HEAD') request.body = {};
    }
  });

  app.addHook('preSerialization', async (request, reply, payload: unknown) => {
    if (reply.statusCode >= 300 || typeof payload !== 'object' || payload === null || Array.isArray(payload)) return payload;
    if (reply.statusCode === 200 && (request.method === 'POST' || request.method === 'PUT')) reply.code(201);
    return { ...(payload as Record<string, unknown>), duration: formatDuration(reply.elapsedTime) };
  });

  app.setErrorHandler((err, request, reply) => {
    // The store is away (PostgreSQL restarting, failing over): the request may be repeated shortly.
    if (err instanceof StoreUnavailableError) {
      request.log.warn({ err: err.message }, 'request answered 503: the store is unavailable');
      return sendApiError(
        request,
        reply.header('retry-after', '5'),
        new ApiError(503, ErrorCodes.internal, 'the service is temporarily unavailable (store unreachable); retry shortly'),
      );
    }
    const apiErr = toApiError(err);
    // A refusal that names when to ask again (the server is at capacity) is not a failure.
    if (apiErr.retryAfterSeconds !== undefined) reply.header('retry-after', String(apiErr.retryAfterSeconds));
    else if (apiErr.status >= 500) request.log.error({ err }, 'request failed');
    return sendApiError(request, reply, apiErr);
  });

  app.setNotFoundHandler((request, reply) => {
    return sendApiError(request, reply, notFound(`no route for ${request.method} ${request.url.split('?')[0]}`));
  });
}
