/**
 * The operator commands' client of the REST API (`/api/v2/video/...`), with plain `fetch` and a
 * server token: `api_key` in the query, the JWT in `Authorization`, `stream-auth-type: jwt`, as
 * Stream's server SDKs send them. Errors carry the API's own message.
 */
import { ServerError, UnreachableError } from './errors.js';
import type { Target } from './target.js';
import { mintServerToken } from './tokens.js';

export type Json = Record<string, unknown>;

export interface RestClientOptions {
  /** Per request; default 15 s. */
  timeoutMs?: number;
}

export function callPath(type: string, id: string): string {
  return `/api/v2/video/call/${encodeURIComponent(type)}/${encodeURIComponent(id)}`;
}

export class RestClient {
  private token: Promise<string> | null = null;
  private readonly timeoutMs: number;

  constructor(
    private readonly target: Target,
    opts: RestClientOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 15_000;
  }

  async request<T = Json>(method: string, path: string, body?: unknown): Promise<T> {
    this.token ??= mintServerToken(this.target.apiSecret);
    const url = `${this.target.url}${path}${path.includes('?') ? '&' : '?'}api_key=${encodeURIComponent(this.target.apiKey)}`;
    const init: RequestInit = {
      method,
      headers: {
        Authorization: await this.token,
        'stream-auth-type': 'jwt',
        'Content-Type': 'application/json',
        Accept: 'application/json',
      },
      signal: AbortSignal.timeout(this.timeoutMs),
    };
    if (body !== undefined) init.body = JSON.stringify(body);
    let res: Response;
    try {
      res = await fetch(url, init);
    } catch (err) {
      throw new UnreachableError(
        `cannot reach Callcast at ${this.target.url} (${reasonOf(err)}): is the server running? set CALLCAST_URL or --server to its address`,
      );
    }
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      parsed = null;
    }
    if (!res.ok) {
      const obj = (parsed && typeof parsed === 'object' ? parsed : {}) as { message?: unknown; code?: unknown };
      const message =
        typeof obj.message === 'string' ? obj.message : `HTTP ${res.status} from ${this.target.url} (is this a Callcast server?)`;
      throw new ServerError(message, res.status, typeof obj.code === 'number' ? obj.code : null);
    }
    if (parsed === null || typeof parsed !== 'object') {
      throw new ServerError(
        `${this.target.url} answered ${method} ${path.split('?')[0]} with something other than JSON (is this a Callcast server?)`,
        res.status,
        null,
      );
    }
    return parsed as T;
  }

  queryCalls(limit: number): Promise<{ calls: Json[] }> {
    return this.request('POST', '/api/v2/video/calls', { limit, sort: [{ field: 'created_at', direction: -1 }] });
  }

  getCall(type: string, id: string): Promise<{ call: Json }> {
    return this.request('GET', callPath(type, id));
  }

  startBroadcasts(type: string, id: string, broadcasts: Json[]): Promise<Json> {
    return this.request('POST', `${callPath(type, id)}/rtmp_broadcasts`, { broadcasts });
  }

  stopBroadcast(type: string, id: string, name: string): Promise<Json> {
    return this.request('POST', `${callPath(type, id)}/rtmp_broadcasts/${encodeURIComponent(name)}/stop`, {});
  }

  stopAllBroadcasts(type: string, id: string): Promise<Json> {
    return this.request('POST', `${callPath(type, id)}/rtmp_broadcasts/stop`, {});
  }

  broadcastDetails(type: string, id: string, name: string): Promise<{ broadcast: Json }> {
    return this.request('GET', `${callPath(type, id)}/rtmp_broadcasts/${encodeURIComponent(name)}`);
  }
}

function reasonOf(err: unknown): string {
  if (err instanceof Error && err.name === 'TimeoutError') return 'no answer in time';
  const cause = err instanceof Error ? (err.cause as { code?: string; message?: string } | undefined) : undefined;
  return cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
}
