/**
 * The HTTP edge's errors: whatever a route of any surface threw (the wire contract's ApiError,
 * Fastify's own errors, anything else) becomes one APIError body, named by the route's
 * `config.operation`, without leaking internals.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, ErrorCodes, badRequest, errorBody } from '../wire/errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Stream's operation id, used in error messages ("GetCall failed with error: ..."). */
    operation?: string;
  }
}

export function operationOf(request: FastifyRequest): string {
  return request.routeOptions?.config?.operation ?? 'Request';
}

export function sendApiError(request: FastifyRequest, reply: FastifyReply, err: ApiError): FastifyReply {
  return reply
    .code(err.status)
    .type('application/json; charset=utf-8')
    .send(errorBody(operationOf(request), err, reply.elapsedTime));
}

/** Maps what a route threw (ours, Fastify's, or anything else) to an ApiError without leaking internals. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const e = err as { code?: unknown; statusCode?: unknown; message?: unknown; validation?: unknown; validationContext?: unknown };
  const fcode = typeof e?.code === 'string' ? e.code : '';
  if (fcode === 'FST_ERR_CTP_BODY_TOO_LARGE' || e?.statusCode === 413) {
    return new ApiError(413, ErrorCodes.payloadTooBig, 'request body is larger than the 1 MiB limit');
  }
  if (e?.validation && typeof e.message === 'string') {
    return badRequest(describeValidation(e.validation, String(e.validationContext ?? 'body')) ?? e.message);
  }
  if (fcode === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || e?.statusCode === 415) {
    return new ApiError(415, ErrorCodes.input, 'unsupported content type: send application/json');
  }
  if (fcode.startsWith('FST_ERR_CTP') || err instanceof SyntaxError) return badRequest('invalid JSON body');
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new ApiError(e.statusCode, ErrorCodes.input, typeof e.message === 'string' ? e.message : 'bad request');
  }
  return new ApiError(500, ErrorCodes.internal, 'internal error');
}

/** Names the field of the first JSON-schema validation failure, e.g. `broadcasts[0].name must be string`. */
function describeValidation(validation: unknown, context: string): string | undefined {
  if (!Array.isArray(validation) || validation.length === 0) return undefined;
  const v = validation[0] as { instancePath?: string; message?: string; keyword?: string; params?: Record<string, unknown> };
  let path = (v.instancePath ?? '')
    .split('/')
    .filter(Boolean)
    .map((seg) => (/^\d+$/.test(seg) ? `[${seg}]` : `.${seg}`))
    .join('')
    .replace(/^\./, '');
  if (v.keyword === 'required' && typeof v.params?.missingProperty === 'string') {
    path = path ? `${path}.${v.params.missingProperty}` : v.params.missingProperty;
    return `${path} is required`;
  }
  if (v.keyword === 'additionalProperties' && typeof v.params?.additionalProperty === 'string') {
    const field = path ? `${path}.${v.params.additionalProperty}` : v.params.additionalProperty;
    return `${field} is not a known field`;
  }
  const where = path || (context === 'body' ? 'body' : context);
  return `${where} ${v.message ?? 'is invalid'}`;
}
