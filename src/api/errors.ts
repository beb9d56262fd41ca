/**
 * Stream's APIError: `{code, message, StatusCode, duration, more_info, details}` with the message
 * `<Operation> failed with error: "<detail>"`.
 */
export const MORE_INFO_URL = 'https://getstream.io/chat/docs/api_errors_response';

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: number,
    readonly detail: string,
  ) {
    super(detail);
  }

  /** The HTTP status under the name Fastify and other modules read. */
  get statusCode(): number {
    return this.status;
  }
}

export const ErrorCodes = {
  internal: -1,
  accessKey: 2,
  input: 4,
  auth: 5,
  notFound: 16,
  notAllowed: 17,
  payloadTooBig: 22,
  tokenExpired: 40,
  tokenNotValidYet: 41,
  tokenSignature: 43,
} as const;

export const badRequest = (detail: string) => new ApiError(400, ErrorCodes.input, detail);
export const notFound = (detail: string) => new ApiError(404, ErrorCodes.notFound, detail);
export const notAllowed = (detail: string) => new ApiError(403, ErrorCodes.notAllowed, detail);
export const unauthenticated = (detail: string, code: number = ErrorCodes.auth) => new ApiError(401, code, detail);

export interface ApiErrorBody {
  code: number;
  message: string;
  StatusCode: number;
  duration: string;
  more_info: string;
  details: number[];
}

export function formatDuration(ms: number): string {
  return `${ms.toFixed(2)}ms`;
}

export function errorBody(operation: string, err: ApiError, elapsedMs: number): ApiErrorBody {
  return {
    code: err.code,
    message: `${operation} failed with error: "${err.detail}"`,
    StatusCode: err.status,
    duration: formatDuration(elapsedMs),
    more_info: MORE_INFO_URL,
    details: [],
  };
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
  if (fcode.startsWith('FST_ERR_CTP') || (err instanceof SyntaxError)) return badRequest('invalid JSON body');
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
