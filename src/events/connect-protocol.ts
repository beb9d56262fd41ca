/**
 * The coordinator WebSocket protocol (reference §1.5) as pure functions: parsing what clients
 * send and building what the server sends. No sockets here.
 */
import { ApiError, errorBody, MORE_INFO_URL, type ApiErrorBody } from '../wire/errors.js';
import type { WireEvent } from './contract.js';

/** APIError as sent on the wire (note the PascalCase `StatusCode`); `unrecoverable` tells clients not to retry. */
export interface WireApiError extends ApiErrorBody {
  unrecoverable?: boolean;
}

/** Stream's operation name of the WebSocket handshake, in every error message it sends. */
const OPERATION = 'WSConnect';

export function apiError(code: number, statusCode: number, detail: string, unrecoverable?: boolean): WireApiError {
  return {
    ...errorBody(OPERATION, new ApiError(statusCode, code, detail), 0),
    ...(unrecoverable === undefined ? {} : { unrecoverable }),
  };
}

/**
 * Turns what an authority threw into a wire APIError: the wire contract's ApiError gets the
 * WSConnect message convention; an APIError body (numeric `code`, string `message`, a status in
 * `StatusCode`, `statusCode` or `status`) is kept; anything else becomes an opaque internal error,
 * so no internal detail leaks.
 */
export function toWireApiError(err: unknown): WireApiError {
  if (err instanceof ApiError) return errorBody(OPERATION, err, 0);
  if (err && typeof err === 'object') {
    const e = err as Record<string, unknown>;
    if (typeof e.code === 'number' && typeof e.message === 'string') {
      const status = [e.StatusCode, e.statusCode, e.status].find((v): v is number => typeof v === 'number') ?? 401;
      return {
        code: e.code,
        message: e.message,
        StatusCode: status,
        duration: typeof e.duration === 'string' ? e.duration : '0.00ms',
        more_info: typeof e.more_info === 'string' ? e.more_info : MORE_INFO_URL,
        details: Array.isArray(e.details) ? e.details.filter((d): d is number => typeof d === 'number') : [],
        ...(typeof e.unrecoverable === 'boolean' ? { unrecoverable: e.unrecoverable } : {}),
      };
    }
  }
  return apiError(-1, 500, 'internal error');
}

/** The client's first message: `{token, user_details, products?}`. */
export interface AuthMessage {
  token: string;
  userDetails: Record<string, unknown> & { id: string };
  products?: string[];
}

export type ParsedAuth = { ok: true; auth: AuthMessage } | { ok: false; detail: string };

export function parseAuthMessage(text: string): ParsedAuth {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, detail: 'the first message must be a JSON object' };
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, detail: 'the first message must be a JSON object' };
  }
  const v = value as Record<string, unknown>;
  if (typeof v.token !== 'string') return { ok: false, detail: 'token is required' };
  const details = v.user_details;
  if (!details || typeof details !== 'object' || Array.isArray(details)) {
    return { ok: false, detail: 'user_details is required' };
  }
  const id = (details as Record<string, unknown>).id;
  if (typeof id !== 'string' || id === '') return { ok: false, detail: 'user_details.id is required' };
  let products: string[] | undefined;
  if (v.products !== undefined) {
    if (!Array.isArray(v.products) || !v.products.every((p) => typeof p === 'string')) {
      return { ok: false, detail: 'products must be a list of strings' };
    }
    products = v.products;
  }
  return {
    ok: true,
    auth: { token: v.token, userDetails: { ...(details as Record<string, unknown>), id }, ...(products ? { products } : {}) },
  };
}

/** Whether a client message (an object or an array of them) holds a health check. */
export function containsHealthCheck(text: string): boolean {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return false;
  }
  const items = Array.isArray(value) ? value : [value];
  return items.some((m) => !!m && typeof m === 'object' && (m as { type?: unknown }).type === 'health.check');
}

const now = () => new Date().toISOString();

export function connectionOk(connectionId: string, me: Record<string, unknown>) {
  return { type: 'connection.ok', connection_id: connectionId, created_at: now(), me };
}

export function connectionError(connectionId: string, error: WireApiError) {
  return { type: 'connection.error', connection_id: connectionId, created_at: now(), error };
}

export function healthCheck(connectionId: string) {
  return { type: 'health.check', connection_id: connectionId, created_at: now(), custom: {} };
}

/**
 * Whether an event without a call_cid is meant for this user: it names the user in `user_id`
 * or `user.id` (for example `user.updated` about the user). Other such events are not sent.
 */
export function eventTargetsUser(event: WireEvent, userId: string): boolean {
  if (event.user_id === userId) return true;
  const user = event.user;
  return !!user && typeof user === 'object' && (user as { id?: unknown }).id === userId;
}

/** Close codes used by the endpoint (4000-4999 is the application range). */
export const CONNECT_CLOSE_CODES = Object.freeze({
  /** The first message was not a valid auth message. */
  invalidAuthMessage: 4400,
  /** Wrong api_key, bad token, or user_details.id not the token's user. */
  authFailed: 4401,
  /** No auth message within the auth timeout. */
  authTimeout: 4408,
  /** Nothing heard from the client within the idle timeout. */
  idle: 4410,
  /** The client does not read: its send queue exceeded the bound. */
  slowConsumer: 4429,
  /** An internal error on our side. */
  serverError: 4500,
});
