/**
 * Images used by scenes (logo, background image, avatars): fetched once per URL over http(s) or
 * decoded from data: URLs, with a size limit and a timeout, decoded with @napi-rs/canvas.
 * A failure is remembered and logged, never thrown into the frame loop.
 */
import { loadImage, type Image } from '@napi-rs/canvas';
import type { Logger } from '../log.js';

export interface ImageStoreOptions {
  maxBytes?: number;
  timeoutMs?: number;
  log?: Logger;
}

type Entry = { state: 'loading'; done: Promise<void> } | { state: 'ready'; image: Image } | { state: 'failed'; reason: string };

const DEFAULT_MAX_BYTES = 5 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 5000;

/** The URL as it may appear in logs: scheme, host and path only (query strings can hold tokens). */
export function describeUrl(url: string): string {
  if (url.startsWith('data:')) return `data:${url.slice(5, url.indexOf(',') > 0 ? Math.min(url.indexOf(','), 40) : 20)}...`;
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid url)';
  }
}

/** Decodes a data: URL body (base64 or percent-encoded). */
export function decodeDataUrl(url: string): Buffer {
  const comma = url.indexOf(',');
  if (!url.startsWith('data:') || comma < 0) throw new Error('malformed data: URL');
  const meta = url.slice(5, comma);
  const body = url.slice(comma + 1);
  return /;base64$/i.test(meta) ? Buffer.from(body, 'base64') : Buffer.from(decodeURIComponent(body), 'utf8');
}

async function fetchLimited(url: string, maxBytes: number, timeoutMs: number): Promise<Buffer> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error(`image larger than ${maxBytes} bytes`);
  }
  if (!res.body) throw new Error('empty response');
  const chunks: Buffer[] = [];
  let total = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new Error(`image larger than ${maxBytes} bytes`);
    }
    chunks.push(Buffer.from(value));
  }
  return Buffer.concat(chunks);
}

export class ImageStore {
  private readonly entries = new Map<string, Entry>();
  private readonly maxBytes: number;
  private readonly timeoutMs: number;
  private readonly log: Logger | undefined;

  constructor(options: ImageStoreOptions = {}) {
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.log = options.log;
  }

  /** Fetches and decodes the image once; later calls wait for (or return) the same outcome. Never rejects. */
  load(url: string): Promise<void> {
    const existing = this.entries.get(url);
    if (existing) return existing.state === 'loading' ? existing.done : Promise.resolve();
    const done = this.fetchAndDecode(url).then(
      (image) => { this.entries.set(url, { state: 'ready', image }); },
      (err: unknown) => {
        const reason = err instanceof Error ? (err.name === 'TimeoutError' ? 'timed out' : err.message) : 'failed';
        this.entries.set(url, { state: 'failed', reason });
        this.log?.warn({ url: describeUrl(url), reason }, 'image could not be loaded');
      },
    );
    this.entries.set(url, { state: 'loading', done });
    return done;
  }

  /** Loads several images; resolves when all have settled. */
  async loadAll(urls: Iterable<string>): Promise<void> {
    await Promise.all([...new Set(urls)].map((u) => this.load(u)));
  }

  get(url: string): Image | undefined {
    const e = this.entries.get(url);
    return e?.state === 'ready' ? e.image : undefined;
  }

  /** Why the image failed to load, if it did. */
  failure(url: string): string | undefined {
    const e = this.entries.get(url);
    return e?.state === 'failed' ? e.reason : undefined;
  }

  private async fetchAndDecode(url: string): Promise<Image> {
    let bytes: Buffer;
    if (url.startsWith('data:')) {
      bytes = decodeDataUrl(url);
      if (bytes.length > this.maxBytes) throw new Error(`image larger than ${this.maxBytes} bytes`);
    } else if (/^https?:\/\//i.test(url)) {
      bytes = await fetchLimited(url, this.maxBytes, this.timeoutMs);
    } else {
      throw new Error('only http(s) and data: URLs are supported');
    }
    const image = await loadImage(bytes);
    if (!image.width || !image.height) throw new Error('image could not be decoded');
    return image;
  }
}
