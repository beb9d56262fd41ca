import { randomUUID } from 'node:crypto';
import fastifyWebsocket from '@fastify/websocket';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RawData, WebSocket } from 'ws';
import {
  apiError,
  CONNECT_CLOSE_CODES,
  connectionError,
  connectionOk,
  containsHealthCheck,
  eventTargetsUser,
  healthCheck,
  parseAuthMessage,
  toWireApiError,
  type WireApiError,
} from '../events/connect-protocol.js';
import type { CallAudience, ConnectAuthority, ConnectedUser, EventBus, WireEvent } from '../events/contract.js';
import { describeError, type Logger } from '../log.js';

export { CONNECT_CLOSE_CODES } from '../events/connect-protocol.js';

/** The coordinator WebSocket paths (the client SDKs' `/video/connect` and the v2 one). */
export const CONNECT_PATHS = ['/video/connect', '/api/v2/connect'] as const;

export interface ConnectOptions {
  /** Time the client has to send its auth message after opening. */
  authTimeoutMs: number;
  /** How often the server sends `health.check`. */
  healthCheckIntervalMs: number;
  /** A client silent for longer than this is closed. */
  idleTimeoutMs: number;
  /** How long a `canReadCall` answer is reused on one connection. */
  readCacheTtlMs: number;
  /** Events waiting for their access check; beyond this the client is closed. */
  maxQueuedEvents: number;
  /** Bytes the socket may hold unsent; beyond this the client is closed (it does not read). */
  maxBufferedBytes: number;
  /** Largest message accepted from a client (used when this module registers @fastify/websocket). */
  maxPayloadBytes: number;
  /** After a close frame, how long the peer has to answer before the socket is destroyed. */
  closeGraceMs: number;
}

export const DEFAULT_CONNECT_OPTIONS: Readonly<ConnectOptions> = Object.freeze({
  authTimeoutMs: 10_000,
  healthCheckIntervalMs: 25_000,
  idleTimeoutMs: 35_000,
  readCacheTtlMs: 5_000,
  maxQueuedEvents: 1_000,
  maxBufferedBytes: 4 * 1024 * 1024,
  maxPayloadBytes: 64 * 1024,
  closeGraceMs: 2_000,
});

/** The connect plugin's options. */
export interface ConnectDeps {
  bus: EventBus;
  authority: ConnectAuthority;
  /** The app's API key: the client opens the socket with it (`?api_key=`). */
  apiKey: string;
  log: Logger;
  options?: Partial<ConnectOptions>;
}

/**
 * The coordinator WebSocket (`GET /video/connect` and `GET /api/v2/connect`) as a plugin of the
 * HTTP edge; registers @fastify/websocket first unless the instance already has it. The protocol's
 * pure parts are in src/events/connect-protocol.ts.
 */
export async function connectPlugin(app: FastifyInstance, deps: ConnectDeps): Promise<void> {
  const options: ConnectOptions = { ...DEFAULT_CONNECT_OPTIONS, ...deps.options };
  if (!app.hasDecorator('websocketServer')) {
    await app.register(fastifyWebsocket, { options: { maxPayload: options.maxPayloadBytes } });
  }
  const handler = (socket: WebSocket, request: FastifyRequest) => {
    const query = (request.query ?? {}) as Record<string, unknown>;
    new ConnectSession(socket, deps, options).begin(typeof query.api_key === 'string' ? query.api_key : undefined);
  };
  for (const url of CONNECT_PATHS) app.get(url, { websocket: true }, handler);
}

type SessionState = 'awaiting_auth' | 'authenticating' | 'open' | 'closed';

interface CachedAccess {
  expires: number;
  audience: Promise<CallAudience | null>;
}

const MAX_CACHED_CALLS = 1_000;

/** Events are serialised once per audience, whatever the number of connections. */
const serialised: Record<CallAudience, WeakMap<WireEvent, string>> = { operator: new WeakMap(), viewer: new WeakMap() };
function serialise(event: WireEvent, audience: CallAudience, shape: (e: WireEvent, a: CallAudience) => WireEvent): string {
  let text = serialised[audience].get(event);
  if (text === undefined) {
    text = JSON.stringify(shape(event, audience));
    serialised[audience].set(event, text);
  }
  return text;
}

/** One client connection: handshake, health checks, and the scoped event stream. */
class ConnectSession {
  private readonly id = randomUUID();
  private state: SessionState = 'awaiting_auth';
  private user: ConnectedUser | null = null;
  private unsubscribe: (() => void) | null = null;
  private authTimer: NodeJS.Timeout | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private healthTimer: NodeJS.Timeout | null = null;
  private terminateTimer: NodeJS.Timeout | null = null;
  private expiryTimer: NodeJS.Timeout | null = null;
  private readonly pending: WireEvent[] = [];
  private pumping = false;
  private readonly access = new Map<string, CachedAccess>();

  constructor(
    private readonly socket: WebSocket,
    private readonly deps: ConnectDeps,
    private readonly options: ConnectOptions,
  ) {
    // Listeners are attached at once so no early message is missed.
    socket.on('message', (data: RawData, isBinary: boolean) => this.onMessage(data, isBinary));
    socket.on('close', () => this.dispose());
    socket.on('error', (err: Error) => {
      this.deps.log.debug?.({ connectionId: this.id, err: describeError(err) }, 'websocket error');
    });
  }

  begin(apiKey: string | undefined): void {
    if (apiKey !== this.deps.apiKey) {
      this.fail(apiError(2, 401, 'api_key not valid', true), CONNECT_CLOSE_CODES.authFailed, 'invalid api_key');
      return;
    }
    this.authTimer = setTimeout(() => {
      if (this.state !== 'awaiting_auth') return;
      this.fail(apiError(5, 401, 'no auth message received in time'), CONNECT_CLOSE_CODES.authTimeout, 'auth timeout');
    }, this.options.authTimeoutMs);
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    try {
      if (this.state === 'closed') return;
      if (rawLength(data) > this.options.maxPayloadBytes) {
        // Also enforced here when @fastify/websocket was registered by someone else with a larger limit.
        this.fail(apiError(22, 413, 'message too large'), 1009, 'message too large');
        return;
      }
      const text = isBinary ? null : rawToText(data);
      if (this.state === 'awaiting_auth') {
        this.clearAuthTimer();
        this.state = 'authenticating';
        void this.authenticate(text ?? '').catch((err: unknown) => {
          this.deps.log.error({ connectionId: this.id, err: describeError(err) }, 'websocket handshake failed');
          this.fail(apiError(-1, 500, 'internal error'), CONNECT_CLOSE_CODES.serverError, 'internal error');
        });
        return;
      }
      if (this.state !== 'open') return;
      this.idleTimer?.refresh();
      if (text !== null && containsHealthCheck(text)) this.sendJson(healthCheck(this.id));
    } catch (err) {
      this.deps.log.warn({ connectionId: this.id, err: describeError(err) }, 'websocket message not handled');
    }
  }

  private async authenticate(text: string): Promise<void> {
    const parsed = parseAuthMessage(text);
    if (!parsed.ok) {
      this.fail(apiError(4, 400, parsed.detail), CONNECT_CLOSE_CODES.invalidAuthMessage, 'invalid auth message');
      return;
    }
    const { token, userDetails } = parsed.auth;
    let user: ConnectedUser;
    try {
      user = await this.deps.authority.authenticate(token);
    } catch (err) {
      this.fail(toWireApiError(err), CONNECT_CLOSE_CODES.authFailed, 'authentication failed');
      return;
    }
    if (this.state !== 'authenticating') return; // closed meanwhile
    if (user.id !== userDetails.id) {
      this.fail(apiError(5, 401, "user_details.id does not match the token's user"), CONNECT_CLOSE_CODES.authFailed, 'user mismatch');
      return;
    }
    let me: Record<string, unknown>;
    try {
      me = await this.deps.authority.upsertConnectedUser(user, userDetails);
    } catch (err) {
      const wire = toWireApiError(err);
      if (wire.StatusCode >= 500) {
        this.deps.log.error({ connectionId: this.id, userId: user.id, err: describeError(err) }, 'connected user not stored');
      }
      this.fail(wire, CONNECT_CLOSE_CODES.authFailed, 'user not accepted');
      return;
    }
    if (this.state !== 'authenticating') return;
    this.user = user;
    this.state = 'open';
    this.unsubscribe = this.deps.bus.subscribe((event) => this.onEvent(event));
    this.sendJson(connectionOk(this.id, me));
    this.healthTimer = setInterval(() => this.sendJson(healthCheck(this.id)), this.options.healthCheckIntervalMs);
    if (user.expiresAt !== undefined) {
      // A connection is authorised as long as its token: at expiry, Stream's token-expired error (40).
      const inMs = Math.max(0, user.expiresAt * 1000 - Date.now());
      this.expiryTimer = setTimeout(
        () => {
          this.deps.log.info({ connectionId: this.id, userId: user.id }, 'websocket token expired; closing');
          this.fail(apiError(40, 401, 'token is expired'), CONNECT_CLOSE_CODES.authFailed, 'token expired');
        },
        Math.min(inMs, 2_147_483_647),
      );
    }
    this.idleTimer = setTimeout(() => {
      this.deps.log.info({ connectionId: this.id, userId: user.id }, 'websocket client silent; closing');
      this.close(CONNECT_CLOSE_CODES.idle, 'no message from the client');
    }, this.options.idleTimeoutMs);
    this.deps.log.debug?.({ connectionId: this.id, userId: user.id }, 'websocket connected');
  }

  /** Bus subscriber: must not block or throw; the event is queued for the access check. */
  private onEvent(event: WireEvent): void {
    if (this.state !== 'open') return;
    if (this.pending.length >= this.options.maxQueuedEvents || this.socket.bufferedAmount > this.options.maxBufferedBytes) {
      this.closeSlowConsumer();
      return;
    }
    this.pending.push(event);
    if (!this.pumping) void this.pump();
  }

  /** Sends queued events in order, each once its access check allows it. */
  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.state === 'open' && this.pending.length > 0) {
        const event = this.pending.shift()!;
        const audience = await this.audienceFor(event);
        if (this.state !== 'open') return;
        if (!audience) continue;
        this.sendText(serialise(event, audience, (e, a) => this.deps.authority.shapeEvent(e, a)));
        if (this.socket.bufferedAmount > this.options.maxBufferedBytes) {
          this.closeSlowConsumer();
          return;
        }
      }
    } catch (err) {
      this.deps.log.error({ connectionId: this.id, err: describeError(err) }, 'websocket event delivery failed');
      this.close(CONNECT_CLOSE_CODES.serverError, 'internal error');
    } finally {
      this.pumping = false;
    }
  }

  /** As which audience this connection receives the event; null: not at all. */
  private audienceFor(event: WireEvent): CallAudience | null | Promise<CallAudience | null> {
    const user = this.user;
    if (!user) return null;
    const cid = event.call_cid;
    // Events of no call (user.updated, ...) carry no call secrets.
    if (typeof cid !== 'string' || cid === '') return eventTargetsUser(event, user.id) ? 'viewer' : null;
    const now = Date.now();
    const cached = this.access.get(cid);
    if (cached && cached.expires > now) return cached.audience;
    if (this.access.size >= MAX_CACHED_CALLS) this.access.clear();
    const audience = this.deps.authority.audienceIn(user, cid).then(
      (a) => a ?? null,
      (err: unknown) => {
        this.deps.log.warn({ connectionId: this.id, callCid: cid, err: describeError(err) }, 'call access check failed; event not sent');
        this.access.delete(cid);
        return null;
      },
    );
    this.access.set(cid, { expires: now + this.options.readCacheTtlMs, audience });
    return audience;
  }

  private closeSlowConsumer(): void {
    this.deps.log.warn(
      { connectionId: this.id, userId: this.user?.id, queued: this.pending.length, bufferedBytes: this.socket.bufferedAmount },
      'websocket client does not keep up; closing',
    );
    this.close(CONNECT_CLOSE_CODES.slowConsumer, 'slow consumer');
  }

  private fail(error: WireApiError, code: number, reason: string): void {
    this.sendJson(connectionError(this.id, error));
    this.close(code, reason);
  }

  private sendJson(message: object): void {
    this.sendText(JSON.stringify(message));
  }

  private sendText(text: string): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    this.socket.send(text, (err) => {
      if (err) this.deps.log.debug?.({ connectionId: this.id, err: describeError(err) }, 'websocket send failed');
    });
  }

  /** Sends a close frame; a peer that does not answer within the grace time is cut off. */
  private close(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.dispose();
    try {
      this.socket.close(code, reason);
    } catch {
      this.socket.terminate();
      return;
    }
    this.terminateTimer = setTimeout(() => this.socket.terminate(), this.options.closeGraceMs);
    this.terminateTimer.unref();
  }

  /** Stops everything this connection runs; safe to call more than once. */
  private dispose(): void {
    const wasClosed = this.state === 'closed';
    this.state = 'closed';
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.clearAuthTimer();
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.healthTimer) clearInterval(this.healthTimer);
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.idleTimer = this.healthTimer = this.expiryTimer = null;
    this.pending.length = 0;
    this.access.clear();
    if (wasClosed && this.socket.readyState === this.socket.CLOSED && this.terminateTimer) {
      clearTimeout(this.terminateTimer);
      this.terminateTimer = null;
    }
  }

  private clearAuthTimer(): void {
    if (this.authTimer) clearTimeout(this.authTimer);
    this.authTimer = null;
  }
}

function rawToText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}

function rawLength(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0);
  return data.byteLength;
}
