/**
 * One named broadcast: an RTMP(S) publish session fed from its broadcast group's encode.
 * connecting -> live -> reconnecting -> live ... -> failed | stopped.
 *
 * - Joins at a keyframe, after metadata and sequence headers (from the group's GOP cache).
 * - A lost or refused session is retried with exponential backoff; after `giveUpAfterMs` without
 *   success the destination fails. Errors that say they are not retryable (an untrusted TLS
 *   certificate) fail it at once.
 * - A backed-up session drops tags until the next keyframe instead of buffering without bound
 *   (the session owns the bound, its timeouts and the stall rule; see src/rtmp/publisher.ts).
 * - Timestamps stay continuous and monotonic across encoder restarts, reconnects and moves to
 *   another group's encode (a layout change: `changeFeed`).
 */
import { EventEmitter } from 'node:events';
import type { FlvTag } from '../flv/tag.js';
import type { Logger } from '../log.js';
import type { DestinationState, DestinationStats } from './contract.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import type { JoinSnapshot } from './gop-cache.js';
import { TimestampMapper } from './timestamps.js';

/**
 * The publish session a destination drives (src/rtmp's RtmpPublisher is one). Errors it rejects
 * connect() with, or closes with, may carry `retryable: false` (RtmpError does): the destination
 * then fails at once instead of retrying.
 */
export interface PublishSession {
  /** Resolves once the server accepted the publish; the session bounds each phase in time. */
  connect(): Promise<void>;
  /** Sends an FLV tag at `timestamp` (ms); false when the session is backed up or not publishing. */
  sendTag(tag: FlvTag, timestamp: number): boolean;
  /** More output is queued than the session allows: tags are refused until it drains. */
  readonly backedUp: boolean;
  readonly bytesSent: number;
  /** FCUnpublish, deleteStream, close. Idempotent. */
  close(): Promise<void>;
  /** Emitted once when the session ends: null after close(), else the error (a stall included). */
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
  /** Printable target (stream key redacted where the target was parsed), for logs and reasons. */
  describe: string;
  createSession: () => PublishSession;
  /** What the group's cache holds now. */
  snapshot: () => JoinSnapshot;
  log: Logger;
  retry?: Partial<RetryPolicy>;
  /** Output frame duration, ms (for gaps across restarts). */
  frameMs?: number;
}

export interface DestinationEvents {
  /** The server accepted the publish and the first video frame went out. Once. */
  started: [];
  /** The destination gave up; it is closed. Once. */
  failed: [reason: string];
}

/** The error says retrying cannot help (`retryable: false`, as RtmpError sets for certificates). */
export function isPermanentError(err: unknown): boolean {
  return err !== null && typeof err === 'object' && (err as { retryable?: unknown }).retryable === false;
}

export class Destination extends EventEmitter<DestinationEvents> {
  readonly callCid: string;
  readonly name: string;
  private stateValue: DestinationState = 'connecting';
  private readonly retry: RetryPolicy;
  private readonly backoff: BackoffOptions;
  private readonly frameMs: number;
  /** What the cache of the group it streams from holds now (changes when it moves to another group). */
  private snapshot: () => JoinSnapshot;
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
  private startedReported = false;
  /** Set once the destination ends (closed or failed): resolves when its session is closed. */
  private closing: Promise<void> | null = null;
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
    super();
    this.callCid = opts.callCid;
    this.name = opts.name;
    this.retry = { ...DEFAULT_RETRY, ...stripUndefined(opts.retry ?? {}) };
    this.backoff = { initialDelayMs: this.retry.initialDelayMs, maxDelayMs: this.retry.maxDelayMs, jitter: 0.2 };
    this.frameMs = opts.frameMs ?? 1000 / 30;
    this.snapshot = opts.snapshot;
  }

  get state(): DestinationState {
    return this.stateValue;
  }

  /** Failed or closed. */
  get closed(): boolean {
    return this.closing !== null;
  }

  start(): void {
    queueMicrotask(() => this.connectSafely());
  }

  private connectSafely(): void {
    this.connect().catch((err: unknown) => {
      // Not expected (connect handles its own failures); never let it escape as an unhandled rejection.
      this.opts.log.error({ callCid: this.callCid, name: this.name, err: this.reasonOf(err) }, 'broadcast destination error');
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
      if (session.backedUp) {
        // Still backed up at this keyframe: skip to the next one (the session fails itself if it stalls).
        this.droppedFrames += 1;
        return;
      }
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

  /** A session is publishing (tags flow to it); false while connecting or reconnecting. */
  get publishing(): boolean {
    return this.session !== null && this.sessionLive;
  }

  /**
   * The destination now streams another encode of the same quality (it moved to another group
   * for a layout change): that group's cache answers joins from now on, and the next keyframe it
   * delivers starts a run with its sequence headers, placed right after the last timestamp sent.
   * The session stays.
   */
  changeFeed(snapshot: () => JoinSnapshot): void {
    this.snapshot = snapshot;
    this.encoderRestarted();
  }

  /** Stops publishing (FCUnpublish, deleteStream, close). Idempotent; resolves once the session is closed. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.stateValue = 'stopped';
    this.closing = this.releaseSession();
    return this.closing;
  }

  /** Ends the session and the retries; resolves when the session is closed. */
  private releaseSession(): Promise<void> {
    this.clearRetry();
    const session = this.session;
    this.session = null;
    this.sessionLive = false;
    if (!session) return Promise.resolve();
    this.bytesBefore += session.bytesSent;
    return session.close().catch(() => undefined);
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
    const snap = this.snapshot();
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
      this.emit('started');
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
      this.lastErrorText = this.reasonOf(err);
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
    if (session.backedUp) this.awaitingKeyframe = true;
    return true;
  }

  private async connect(): Promise<void> {
    if (this.closing) return;
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
    try {
      await session.connect();
    } catch (err) {
      if (this.session !== session) return;
      this.session = null;
      this.bytesBefore += session.bytesSent;
      session.close().catch(() => undefined);
      this.onFailure(err, false);
      return;
    }
    if (this.closing || this.session !== session) {
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
    this.ts.invalidate();
    this.opts.log.info({ callCid: this.callCid, name: this.name, target: this.opts.describe }, 'broadcast destination publishing');
    const snap = this.snapshot();
    const [first, ...rest] = snap.gop;
    if (first && first.type === 'video' && first.keyframe && snap.sequenceHeaders.length > 0) {
      this.beginRun(session, first, rest);
    }
  }

  private onSessionClosed(session: PublishSession, err: Error | null): void {
    if (this.closing || this.session !== session || !this.sessionLive) return;
    this.session = null;
    this.sessionLive = false;
    this.bytesBefore += session.bytesSent;
    this.reconnectCount += 1;
    this.opts.log.warn(
      { callCid: this.callCid, name: this.name, target: this.opts.describe, err: err ? this.reasonOf(err) : null },
      'broadcast destination lost its session; reconnecting',
    );
    this.onFailure(err ?? new Error('the server closed the connection'), false);
  }

  private onFailure(err: unknown, permanent: boolean): void {
    if (this.closing) return;
    const text = this.reasonOf(err);
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

  /** Fails the destination at once (e.g. the group cannot produce its stream): closes it and emits failed. */
  fail(reason: string): void {
    if (this.closing) return;
    this.lastErrorText = reason;
    this.stateValue = 'failed';
    this.closing = this.releaseSession();
    this.opts.log.error({ callCid: this.callCid, name: this.name, target: this.opts.describe, reason }, 'broadcast destination failed');
    this.emit('failed', reason);
  }

  private clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  /** The reason given to the API and the log: the error's message and code, with the printable target. */
  private reasonOf(err: unknown): string {
    let text: string;
    if (err instanceof Error) {
      const code = (err as { code?: unknown }).code;
      text = typeof code === 'string' && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
    } else {
      text = String(err);
    }
    return text.includes(this.opts.describe) ? text : `${this.opts.describe}: ${text}`;
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
