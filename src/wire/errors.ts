/**
 * Stream's APIError: `{code, message, StatusCode, duration, more_info, details}` with the message
 * `<Operation> failed with error: "<detail>"`. Domain code (calls/, media/) throws these; the HTTP
 * edge (src/http) formats them, whatever surface the request came in on.
 */
export const MORE_INFO_URL = 'https://getstream.io/chat/docs/api_errors_response';

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: number,
    readonly detail: string,
    /** Sent as Retry-After: the request may be repeated after that many seconds (a refusal for load). */
    readonly retryAfterSeconds?: number,
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
  rateLimited: 9,
  tokenExpired: 40,
  tokenNotValidYet: 41,
  /** The token's `iat` lies in the future (Stream's "token used before issued at"). */
  tokenBeforeIssuedAt: 42,
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

/** The APIError body of `err` for the operation (Stream's operation id, e.g. "GetCall"). */
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
