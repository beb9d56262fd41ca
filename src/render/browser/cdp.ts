/**
 * A minimal Chrome DevTools Protocol client over one WebSocket (the browser endpoint), with
 * flattened target sessions: `send(method, params, sessionId)` and events per session.
 */
import { EventEmitter } from 'node:events';
import WebSocket from 'ws';

export type CdpParams = Record<string, unknown>;

export interface CdpEvent {
  method: string;
  params: CdpParams;
  sessionId?: string;
}

interface Pending {
  resolve(value: CdpParams): void;
  reject(err: Error): void;
  method: string;
}

export class CdpError extends Error {}

export interface CdpConnectionEvents {
  event: [CdpEvent];
  close: [];
}

export class CdpConnection extends EventEmitter<CdpConnectionEvents> {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closed = false;

  private constructor(private readonly ws: WebSocket) {
    super();
    ws.on('message', (data) => this.onMessage(String(data)));
    ws.on('close', () => this.onClose());
    ws.on('error', () => this.onClose());
  }

  /** Connects to a browser's DevTools WebSocket URL (`ws://127.0.0.1:PORT/devtools/browser/ID`). */
  static connect(url: string, timeoutMs = 10_000): Promise<CdpConnection> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 256 * 1024 * 1024 });
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new CdpError('DevTools connection timed out'));
      }, timeoutMs);
      ws.once('open', () => {
        clearTimeout(timer);
        resolve(new CdpConnection(ws));
      });
      ws.once('error', (err) => {
        clearTimeout(timer);
        reject(new CdpError(`DevTools connection failed: ${err.message}`));
      });
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  send(method: string, params: CdpParams = {}, sessionId?: string): Promise<CdpParams> {
    if (this.closed) return Promise.reject(new CdpError(`${method}: the DevTools connection is closed`));
    const id = this.nextId++;
    const msg: Record<string, unknown> = { id, method, params };
    if (sessionId) msg.sessionId = sessionId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method });
      this.ws.send(JSON.stringify(msg));
    });
  }

  close(): void {
    if (this.closed) return;
    this.ws.terminate();
    this.onClose();
  }

  private onMessage(text: string): void {
    let msg: { id?: number; result?: CdpParams; error?: { message?: string }; method?: string; params?: CdpParams; sessionId?: string };
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof msg.id === 'number') {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.error) p.reject(new CdpError(`${p.method}: ${msg.error.message ?? 'failed'}`));
      else p.resolve(msg.result ?? {});
      return;
    }
    if (typeof msg.method === 'string') {
      const ev: CdpEvent = { method: msg.method, params: msg.params ?? {} };
      if (msg.sessionId) ev.sessionId = msg.sessionId;
      this.emit('event', ev);
    }
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) p.reject(new CdpError(`${p.method}: the DevTools connection closed`));
    this.pending.clear();
    this.emit('close');
  }
}
