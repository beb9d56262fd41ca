/**
 * The HTTP conventions of Stream's API on a Fastify instance: JSON bodies (empty = `{}`), 1 MiB
 * limit, `duration` on every success, 201 for POST/PUT, and APIError bodies for every failure.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { StoreUnavailableError } from '../store/availability.js';
import { ApiError, ErrorCodes, errorBody, formatDuration, notFound, toApiError } from './errors.js';

export const BODY_LIMIT_BYTES = 1024 * 1024;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Stream's operation id, used in error messages ("GetCall failed with error: ..."). */
    operation?: string;
  }
}

function operationOf(request: FastifyRequest): string {
  return request.routeOptions?.config?.operation ?? 'Request';
}

export function sendApiError(request: FastifyRequest, reply: FastifyReply, err: ApiError): FastifyReply {
  return reply
    .code(err.status)
    .type('application/json; charset=utf-8')
    .send(errorBody(operationOf(request), err, reply.elapsedTime));
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
      return sendApiError(request, reply.header('retry-after', '5'), new ApiError(503, ErrorCodes.internal, 'the service is temporarily unavailable (store unreachable); retry shortly'));
    }
    const apiErr = toApiError(err);
    if (apiErr.status >= 500) request.log.error({ err }, 'request failed');
    return sendApiError(request, reply, apiErr);
  });

  app.setNotFoundHandler((request, reply) => {
    return sendApiError(request, reply, notFound(`no route for ${request.method} ${request.url.split('?')[0]}`));
  });
}

/** Fastify options matching the conventions (strict JSON schema types: no coercion). */
export const fastifyHttpOptions = {
  bodyLimit: BODY_LIMIT_BYTES,
  ajv: { customOptions: { allowUnionTypes: true, coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false } },
} as const;
