/**
 * One named broadcast: an RTMP(S) publish session fed from its broadcast group's encode.
 * connecting -> live -> reconnecting -> live ... -> failed | stopped.
 *
 * - Joins at a keyframe, after metadata and sequence headers (from the group's GOP cache).
 * - A lost or refused session is retried with exponential backoff; after `giveUpAfterMs` without
 *   success the destination fails. TLS certificate errors fail at once.
 * - A slow session drops tags until the next keyframe instead of buffering without bound.
 * - Timestamps stay continuous and monotonic across encoder restarts and reconnects.
 */
import type { DestinationState, DestinationStats } from './contract.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import type { FlvTag } from './flv-tag.js';
import type { JoinSnapshot } from './gop-cache.js';
import type { EgressLog } from './log.js';
import { TimestampMapper } from './timestamps.js';

/** The RTMP publish session a destination drives (src/rtmp's RtmpPublisher has this shape). */
export interface PublishSession {
  /** Resolves once the server accepted the publish. */
  connect(): Promise<void>;
  /** Sends an FLV tag at `timestamp` (ms); false when the socket is backed up. */
  sendTag(tag: FlvTag, timestamp: number): boolean;
  bufferedBytes(): number;
  readonly bytesSent: number;
  /** FCUnpublish, deleteStream, close. */
  close(): Promise<void>;
  on(event: 'close', listener: (err: Error | null) => void): unknown;
}

export interface RetryPolicy {
  initialDelayMs: number;
  maxDelayMs: number;
  /** Give up after this long without a live session. */
  giveUpAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { initialDelayMs: 500, maxDelayMs: 10_000, giveUpAfterMs: 60_000 };

export interface DestinationOptions {
  callCid: string;
  name: string;
  /** Printable target (stream key redacted), for logs and reasons. */
  describe: string;
  /** Secrets to scrub from any text that leaves the destination. */
  secrets: string[];
  createSession: () => PublishSession;
  /** What the group's cache holds now. */
  snapshot: () => JoinSnapshot;
  log: EgressLog;
  retry?: Partial<RetryPolicy>;
  /** Max wait for the server to accept the publish; default 10 s. */
  connectTimeoutMs?: number;
  /** Above this many bytes buffered in the socket, tags are dropped until the next keyframe; default 4 MiB. */
  maxBufferedBytes?: number;
  /** A live session whose socket stays backed up this long is dropped and reconnected; default 30 s. */
  stallTimeoutMs?: number;
  /** Output frame duration, ms (for gaps across restarts). */
  frameMs?: number;
  onStarted: () => void;
  onFailed: (reason: string) => void;
}

const TLS_CERT_ERROR_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT', 'CERT_SIGNATURE_FAILURE', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'HOSTNAME_MISMATCH',
]);

function errorCodes(err: unknown): string[] {
  const codes: string[] = [];
  let e: unknown = err;
  for (let i = 0; i < 4 && e && typeof e === 'object'; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    e = (e as { cause?: unknown }).cause;
  }
  return codes;
}

/** Errors that retrying cannot fix. */
export function isPermanentError(err: unknown): boolean {
  if (errorCodes(err).some((c) => TLS_CERT_ERROR_CODES.has(c) || c === 'DESTINATION_REFUSED')) return true;
  const msg = err instanceof Error ? err.message : String(err);
  return /certificate|self[- ]signed/i.test(msg);
}

export function redact(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) {
    if (s.length >= 3) out = out.split(s).join('***');
  }
  return out;
}

class ConnectTimeoutError extends Error {
  readonly code = 'CONNECT_TIMEOUT';
}

export class Destination {
  readonly callCid: string;
  readonly name: string;
  private stateValue: DestinationState = 'connecting';
  private readonly retry: RetryPolicy;
  private readonly backoff: BackoffOptions;
  private readonly connectTimeoutMs: number;
  private readonly maxBufferedBytes: number;
  private readonly frameMs: number;
  private session: PublishSession | null = null;
  /** The session is accepted and tags may flow. */
  private sessionLive = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private attempt = 0;
  private failingSince: number | null = null;
  private readonly ts = new TimestampMapper();
  /** Dropping everything until the next video keyframe (join, slow session, encoder restart). */
  private awaitingKeyframe = true;
  /** The current session has the current encoder's sequence headers. */
  private headersSent = false;
  private lastSendWall = 0;
  private stalledSince: number | null = null;
  private readonly stallTimeoutMs: number;
  private startedReported = false;
  private done = false;
  // Stats.
  private bytesBefore = 0;
  private videoFrames = 0;
  private audioFrames = 0;
  private droppedFrames = 0;
  private reconnectCount = 0;
  private lastErrorText: string | null = null;
  private liveSinceIso: string | null = null;
  private readonly byteSamples: Array<[number, number]> = [];

  constructor(private readonly opts: DestinationOptions) {
    this.callCid = opts.callCid;
    this.name = opts.name;
    this.retry = { ...DEFAULT_RETRY, ...stripUndefined(opts.retry ?? {}) };
    this.backoff = { initialDelayMs: this.retry.initialDelayMs, maxDelayMs: this.retry.maxDelayMs, jitter: 0.2 };
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
    this.maxBufferedBytes = opts.maxBufferedBytes ?? 4 * 1024 * 1024;
    this.frameMs = opts.frameMs ?? 1000 / 30;
    this.stallTimeoutMs = opts.stallTimeoutMs ?? 30_000;
  }

  get state(): DestinationState {
    return this.stateValue;
  }

  /** Failed or stopped. */
  get finished(): boolean {
    return this.done;
  }

  start(): void {
    queueMicrotask(() => this.connectSafely());
  }

  private connectSafely(): void {
    this.connect().catch((err: unknown) => {
      // Not expected (connect handles its own failures); never let it escape as an unhandled rejection.
      this.opts.log.error({ callCid: this.callCid, name: this.name, err: this.describeError(err) }, 'broadcast destination error');
      this.onFailure(err, false);
    });
  }

  /** A tag from the running encoder (already pushed into the group's cache). */
  deliver(tag: FlvTag): void {
    const session = this.session;
    if (!session || !this.sessionLive) return;
    if (tag.type === 'script') {
      if (this.headersSent) this.send(session, tag);
      return;
    }
    if (tag.sequenceHeader) {
      // Sent with the next keyframe (from the cache) unless this session already streams this encoder's output.
      if (this.headersSent && !this.awaitingKeyframe) this.send(session, tag);
      return;
    }
    const isKeyframe = tag.type === 'video' && tag.keyframe;
    if (this.awaitingKeyframe) {
      if (!isKeyframe) {
        if (tag.type === 'video') this.droppedFrames += 1;
        return;
      }
      if (session.bufferedBytes() > this.maxBufferedBytes) {
        this.droppedFrames += 1;
        this.stalledSince ??= Date.now();
        if (Date.now() - this.stalledSince > this.stallTimeoutMs) this.abandonSession(session, 'the server stopped reading (stalled)');
        return;
      }
      this.stalledSince = null;
      this.beginRun(session, tag, null);
      return;
    }
    this.send(session, tag);
  }

  /** The group's encoder restarted: new sequence headers and a new timeline follow. */
  encoderRestarted(): void {
    this.ts.invalidate();
    this.headersSent = false;
    this.awaitingKeyframe = true;
  }

  async stop(): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.stateValue = 'stopped';
    this.clearRetry();
    const session = this.session;
    this.session = null;
    this.sessionLive = false;
    if (session) {
      this.bytesBefore += session.bytesSent;
      await session.close().catch(() => undefined);
    }
  }

  stats(): DestinationStats {
    const bytesSent = this.totalBytes();
    this.sampleBytes(bytesSent);
    return {
      name: this.name,
      state: this.stateValue,
      bytesSent,
      videoFramesSent: this.videoFrames,
      audioFramesSent: this.audioFrames,
      bitrate: this.bitrate(),
      reconnects: this.reconnectCount,
      lastError: this.lastErrorText,
      liveSince: this.liveSinceIso,
    };
  }

  /** Video frames dropped because the session was slow or waiting for a keyframe. */
  get framesDropped(): number {
    return this.droppedFrames;
  }

  private totalBytes(): number {
    return this.bytesBefore + (this.session?.bytesSent ?? 0);
  }

  private sampleBytes(bytes: number): void {
    const now = Date.now();
    const last = this.byteSamples[this.byteSamples.length - 1];
    if (!last || now - last[0] >= 500) this.byteSamples.push([now, bytes]);
    while (this.byteSamples.length > 2 && now - this.byteSamples[1]![0] >= 5000) this.byteSamples.shift();
  }

  private bitrate(): number {
    const first = this.byteSamples[0];
    const last = this.byteSamples[this.byteSamples.length - 1];
    if (!first || !last || last[0] - first[0] < 200) return 0;
    return Math.round(((last[1] - first[1]) * 8 * 1000) / (last[0] - first[0]));
  }

  /**
   * Starts sending from a keyframe: metadata and sequence headers if this session lacks them,
   * then the keyframe (and, on join, the rest of the cached GOP).
   */
  private beginRun(session: PublishSession, keyframe: FlvTag, rest: FlvTag[] | null): void {
    const snap = this.opts.snapshot();
    if (this.ts.needsRebase) {
      const gap = this.lastSendWall ? Math.max(this.frameMs, Date.now() - this.lastSendWall) : this.frameMs;
      this.ts.rebase(keyframe.timestamp, gap);
    }
    if (!this.headersSent) {
      if (!snap.sequenceHeaders.some((h) => h.type === 'video')) {
        // A keyframe is useless without its decoder configuration: wait for the next one.
        this.awaitingKeyframe = true;
        return;
      }
      let ok = true;
      if (snap.metadata) ok = this.sendAt(session, snap.metadata, keyframe.timestamp) && ok;
      for (const h of snap.sequenceHeaders) ok = this.sendAt(session, h, keyframe.timestamp) && ok;
      if (!ok) {
        // Not sent (session backed up or closing): try again at the next keyframe.
        this.awaitingKeyframe = true;
        return;
      }
      this.headersSent = true;
    }
    this.awaitingKeyframe = false;
    if (!this.send(session, keyframe)) return;
    if (rest) for (const tag of rest) if (!this.awaitingKeyframe) this.send(session, tag);
    if (!this.startedReported && this.sessionLive && this.session === session) {
      this.startedReported = true;
      this.opts.onStarted();
    }
  }

  private send(session: PublishSession, tag: FlvTag): boolean {
    return this.sendAt(session, tag, tag.timestamp);
  }

  /** Sends one tag; false if the session did not take it (it then waits for the next keyframe). */
  private sendAt(session: PublishSession, tag: FlvTag, inputTs: number): boolean {
    const out = this.ts.map(inputTs);
    let ok: boolean;
    try {
      ok = session.sendTag(tag, out);
    } catch (err) {
      this.lastErrorText = this.describeError(err);
      ok = false;
    }
    if (!ok) {
      // Slow destination: skip to the next keyframe rather than queue.
      this.awaitingKeyframe = true;
      if (tag.type === 'video' && !tag.sequenceHeader) this.droppedFrames += 1;
      return false;
    }
    this.lastSendWall = Date.now();
    if (!tag.sequenceHeader) {
      if (tag.type === 'video') {
        this.videoFrames += 1;
        if (this.videoFrames % 30 === 0) this.sampleBytes(this.totalBytes());
      } else if (tag.type === 'audio') {
        this.audioFrames += 1;
      }
    }
    if (session.bufferedBytes() > this.maxBufferedBytes) this.awaitingKeyframe = true;
    return true;
  }

  private async connect(): Promise<void> {
    if (this.done) return;
    this.retryTimer = null;
    let session: PublishSession;
    try {
      session = this.opts.createSession();
    } catch (err) {
      this.onFailure(err, true);
      return;
    }
    this.session = session;
    this.sessionLive = false;
    session.on('close', (err) => this.onSessionClosed(session, err));
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        session.connect(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new ConnectTimeoutError(`no answer from the server within ${Math.round(this.connectTimeoutMs / 1000)} s`)),
            this.connectTimeoutMs,
          );
        }),
      ]);
    } catch (err) {
      clearTimeout(timer);
      if (this.session !== session) return;
      this.session = null;
      this.bytesBefore += session.bytesSent;
      session.close().catch(() => undefined);
      this.onFailure(err, false);
      return;
    }
    clearTimeout(timer);
    if (this.done || this.session !== session) {
      session.close().catch(() => undefined);
      return;
    }
    this.sessionLive = true;
    this.stateValue = 'live';
    this.liveSinceIso ??= new Date().toISOString();
    this.failingSince = null;
    this.attempt = 0;
    this.headersSent = false;
    this.awaitingKeyframe = true;
    this.stalledSince = null;
    this.ts.invalidate();
    this.opts.log.info({ callCid: this.callCid, name: this.name, target: this.opts.describe }, 'broadcast destination publishing');
    const snap = this.opts.snapshot();
    const [first, ...rest] = snap.gop;
    if (first && first.type === 'video' && first.keyframe && snap.sequenceHeaders.length > 0) {
      this.beginRun(session, first, rest);
    }
  }

  /** Gives up on a live session that no longer works and reconnects. */
  private abandonSession(session: PublishSession, why: string): void {
    if (this.session !== session) return;
    this.onSessionClosed(session, new Error(why));
    session.close().catch(() => undefined);
  }

  private onSessionClosed(session: PublishSession, err: Error | null): void {
    if (this.done || this.session !== session || !this.sessionLive) return;
    this.session = null;
    this.sessionLive = false;
    this.bytesBefore += session.bytesSent;
    this.reconnectCount += 1;
    this.opts.log.warn(
      { callCid: this.callCid, name: this.name, target: this.opts.describe, err: err ? this.describeError(err) : null },
      'broadcast destination lost its session; reconnecting',
    );
    this.onFailure(err ?? new Error('the server closed the connection'), false);
  }

  private onFailure(err: unknown, permanent: boolean): void {
    if (this.done) return;
    const text = this.describeError(err);
    this.lastErrorText = text;
    const now = Date.now();
    this.failingSince ??= now;
    const deadline = this.failingSince + this.retry.giveUpAfterMs;
    if (permanent || isPermanentError(err) || now >= deadline) {
      this.fail(text);
      return;
    }
    this.stateValue = this.liveSinceIso ? 'reconnecting' : 'connecting';
    const delay = Math.min(backoffDelay(this.attempt, this.backoff), Math.max(0, deadline - now));
    this.attempt += 1;
    this.opts.log.warn(
      { callCid: this.callCid, name: this.name, target: this.opts.describe, err: text, retryInMs: delay },
      'broadcast destination could not publish; retrying',
    );
    this.retryTimer = setTimeout(() => this.connectSafely(), delay);
  }

  /** Fails the destination at once (the group cannot produce its stream). */
  abort(reason: string): void {
    this.lastErrorText = redact(reason, this.opts.secrets);
    this.fail(this.lastErrorText);
  }

  private fail(reason: string): void {
    if (this.done) return;
    this.done = true;
    this.stateValue = 'failed';
    this.clearRetry();
    const session = this.session;
    this.session = null;
    this.sessionLive = false;
    if (session) session.close().catch(() => undefined);
    this.opts.log.error({ callCid: this.callCid, name: this.name, target: this.opts.describe, reason }, 'broadcast destination failed');
    this.opts.onFailed(reason);
  }

  private clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private describeError(err: unknown): string {
    let text: string;
    if (err instanceof Error) {
      const code = (err as { code?: unknown }).code;
      text = typeof code === 'string' && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
    } else {
      text = String(err);
    }
    return redact(text.includes(this.opts.describe) ? text : `${this.opts.describe}: ${text}`, this.opts.secrets);
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
