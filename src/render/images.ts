/**
 * Images used by scenes (logo, background image, avatars): fetched once per URL over http(s) or
 * decoded from data: URLs, with a size limit and a timeout, decoded with @napi-rs/canvas.
 * A failure is remembered and logged, never thrown into the frame loop.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { loadImage, type Image } from '@napi-rs/canvas';
import type { Logger } from '../log.js';
import { DestinationPolicy } from '../net/destination-policy.js';
import { DestinationRefusedError, policyLookup } from '../net/resolve.js';

export interface ImageStoreOptions {
  maxBytes?: number;
  timeoutMs?: number;
  log?: Logger;
  /** Where images may be fetched from (every hop of a redirect is checked); default: the default policy. */
  policy?: DestinationPolicy;
}

const MAX_REDIRECTS = 3;

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

/**
 * GET over http(s) through the destination policy: each hop's host is resolved once and checked,
 * the connection goes to that address, and a redirect is followed (at most 3) only after the
 * same check of its target.
 */
async function fetchLimited(url: string, maxBytes: number, timeoutMs: number, policy: DestinationPolicy): Promise<Buffer> {
  const signal = AbortSignal.timeout(timeoutMs);
  let current = new URL(url);
  for (let hop = 0; ; hop++) {
    const res = await getOnce(current, policy, signal);
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location) {
      res.resume();
      if (hop >= MAX_REDIRECTS) throw new Error(`more than ${MAX_REDIRECTS} redirects`);
      const next = new URL(res.headers.location, current);
      if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new Error('redirect to a non-http(s) URL');
      current = next;
      continue;
    }
    if (status < 200 || status >= 300) {
      res.resume();
      throw new Error(`HTTP ${status}`);
    }
    const declared = Number(res.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > maxBytes) {
      res.destroy();
      throw new Error(`image larger than ${maxBytes} bytes`);
    }
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of res as AsyncIterable<Buffer>) {
      total += chunk.byteLength;
      if (total > maxBytes) {
        res.destroy();
        throw new Error(`image larger than ${maxBytes} bytes`);
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks);
  }
}

function getOnce(url: URL, policy: DestinationPolicy, signal: AbortSignal): Promise<IncomingMessage> {
  const secure = url.protocol === 'https:';
  const port = url.port ? Number(url.port) : secure ? 443 : 80;
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  // Node skips `lookup` for IP literals: those are decided here.
  const literal = policy.checkLiteral(host, port);
  if (literal && !literal.allowed) return Promise.reject(new DestinationRefusedError(literal.reason));
  return new Promise((resolve, reject) => {
    const req = (secure ? httpsRequest : httpRequest)(url, { method: 'GET', lookup: policyLookup(policy, port), signal }, resolve);
    req.on('error', reject);
    req.end();
  });
}

export class ImageStore {
  private readonly entries = new Map<string, Entry>();
  private readonly maxBytes: number;
  private readonly timeoutMs: number;
  private readonly log: Logger | undefined;
  private readonly policy: DestinationPolicy;

  constructor(options: ImageStoreOptions = {}) {
    this.policy = options.policy ?? new DestinationPolicy();
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.log = options.log;
  }

  /** Fetches and decodes the image once; later calls wait for (or return) the same outcome. Never rejects. */
  load(url: string): Promise<void> {
    const existing = this.entries.get(url);
    if (existing) return existing.state === 'loading' ? existing.done : Promise.resolve();
    const done = this.fetchAndDecode(url).then(
      (image) => {
        this.entries.set(url, { state: 'ready', image });
      },
      (err: unknown) => {
        const reason =
          err instanceof Error ? (err.name === 'TimeoutError' || err.name === 'AbortError' ? 'timed out' : err.message) : 'failed';
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
      bytes = await fetchLimited(url, this.maxBytes, this.timeoutMs, this.policy);
    } else {
      throw new Error('only http(s) and data: URLs are supported');
    }
    const image = await loadImage(bytes);
    if (!image.width || !image.height) throw new Error('image could not be decoded');
    return image;
  }
}
