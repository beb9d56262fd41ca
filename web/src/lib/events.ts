/**
 * The coordinator WebSocket as a browser client uses it (`/video/connect`): authenticate with the
 * first message, answer health checks, reconnect with backoff, and hand events to a callback.
 */

export interface EventConnectionOptions {
  apiKey: string;
  token: string;
  user: { id: string; name?: string };
  onEvent: (event: Record<string, unknown>) => void;
  onStatus?: (status: 'connecting' | 'connected' | 'disconnected', detail?: string) => void;
  /** Default: same origin. */
  baseUrl?: string;
}

export function connectUrl(base: string, apiKey: string): string {
  const u = new URL('/video/connect', base);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.searchParams.set('api_key', apiKey);
  u.searchParams.set('stream-auth-type', 'jwt');
  u.searchParams.set('X-Stream-Client', 'callcast-web');
  return u.toString();
}

export class EventConnection {
  private ws: WebSocket | null = null;
  private closed = false;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private healthTimer: ReturnType<typeof setInterval> | null = null;
  private readonly clientId = `${Math.random().toString(36).slice(2)}`;
  private firstConnect: { resolve: () => void; reject: (err: Error) => void } | null = null;

  constructor(private readonly opts: EventConnectionOptions) {}

  /**
   * Opens the connection; resolves once the server accepted it (`connection.ok`), so the user
   * (with the name in `user_details`) exists before the page does anything else. Rejects on
   * `connection.error` or when nothing is accepted within `timeoutMs`; reconnects continue after.
   */
  start(timeoutMs = 10_000): Promise<void> {
    this.closed = false;
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the event connection was not accepted in time')), timeoutMs);
      this.firstConnect = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
    });
    this.open();
    return ready;
  }

  /** The token the next (re)connection authenticates with (a renewed one). */
  setToken(token: string): void {
    this.opts.token = token;
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.healthTimer) clearInterval(this.healthTimer);
    this.ws?.close(1000);
    this.ws = null;
  }

  private open(): void {
    this.opts.onStatus?.('connecting');
    const ws = new WebSocket(connectUrl(this.opts.baseUrl ?? location.origin, this.opts.apiKey));
    this.ws = ws;
    ws.addEventListener('open', () => {
      ws.send(JSON.stringify({ token: this.opts.token, user_details: this.opts.user, products: ['video'] }));
    });
    ws.addEventListener('message', (msg) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(String(msg.data));
      } catch {
        return;
      }
      for (const event of Array.isArray(parsed) ? parsed : [parsed]) {
        if (!event || typeof event !== 'object') continue;
        this.handle(event as Record<string, unknown>);
      }
    });
    ws.addEventListener('close', (ev) => {
      if (this.ws !== ws) return;
      if (this.healthTimer) clearInterval(this.healthTimer);
      this.healthTimer = null;
      this.ws = null;
      this.opts.onStatus?.('disconnected', ev.reason || undefined);
      if (!this.closed) this.scheduleReconnect();
    });
  }

  private handle(event: Record<string, unknown>): void {
    switch (event.type) {
      case 'connection.ok':
        this.firstConnect?.resolve();
        this.firstConnect = null;
        this.attempt = 0;
        this.opts.onStatus?.('connected');
        if (this.healthTimer) clearInterval(this.healthTimer);
        this.healthTimer = setInterval(() => this.sendHealthCheck(), 25_000);
        return;
      case 'connection.error': {
        const err = event.error as { message?: string } | undefined;
        this.opts.onStatus?.('disconnected', err?.message ?? 'connection refused');
        this.firstConnect?.reject(new Error(err?.message ?? 'the event connection was refused'));
        this.firstConnect = null;
        return;
      }
      case 'health.check':
        this.sendHealthCheck();
        return;
      default:
        this.opts.onEvent(event);
    }
  }

  private sendHealthCheck(): void {
    if (this.ws?.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify([{ type: 'health.check', client_id: `${this.opts.user.id}--${this.clientId}` }]));
    }
  }

  private scheduleReconnect(): void {
    const delay = Math.min(30_000, 500 * 2 ** this.attempt);
    this.attempt++;
    this.retryTimer = setTimeout(() => this.open(), delay);
  }
}
