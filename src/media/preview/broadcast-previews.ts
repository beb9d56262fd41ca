/**
 * Live previews of broadcasts over WebRTC (WHEP): each subscription receives the composed picture
 * and mixed sound of one broadcast's group.
 *
 * - Video is the group's own H.264 (no second encode): the FLV video tags its encoder emits are
 *   packetized into RTP (h264-rtp.ts), SPS/PPS before each keyframe. A new subscriber starts at
 *   the group's next keyframe (the GOP is fixed: at most one keyframe interval, 2 s, later).
 * - Audio: AAC cannot go over WebRTC, so the group's mixed PCM is encoded to Opus by one ffmpeg
 *   per group (opus-encoder.ts), started with the group's first preview subscriber and stopped
 *   with its last.
 *
 * The legs are the forwarding unit's (SubscriberPeer/SubscriberLeg): per-subscriber SSRC, payload
 * type, continuous sequence numbers and timestamps, sending that never waits. A subscription ends
 * (its peer closed) when its broadcast stops (`revalidate`) or its group closes, on DELETE, when
 * its connection fails or stays disconnected, or when it does not connect in time.
 *
 * Events: 'subscription_closed' ({ resourceId, callCid, name, reason }).
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { FlvTag } from '../../flv/tag.js';
import { silentLogger, type Logger } from '../../log.js';
import { PacketCache } from '../forwarding/packet-cache.js';
import { SubscriberPeer, type SourcePacket, type SubscriberLeg } from '../forwarding/subscriber-peer.js';
import type { PeerState } from '../ingest-peer.js';
import type { IceHostConfig } from '../webrtc.js';
import { avccNalUnits, compositionTimeMs, hasIdr, packetizeAccessUnit, parseAvcSequenceHeader, type AvcConfig } from './h264-rtp.js';
import { OpusEncoder } from './opus-encoder.js';
import { planPreview } from './preview-offer.js';

/** What a broadcast group offers previews: its encoder's tags and its mixed sound, while tapped. */
export interface PreviewFeed {
  /**
   * Starts handing every FLV tag of the encoder's output and every tick's PCM (s16le 48 kHz
   * stereo) to the listener, and `closed` once when the group closes; returns the untap.
   */
  tap(listener: PreviewTapListener): () => void;
  /** The current AVC sequence header tag, if the encoder produced one. */
  avcSequenceHeader(): FlvTag | null;
}

export interface PreviewTapListener {
  tag(tag: FlvTag): void;
  audio(pcm: Buffer): void;
  closed(): void;
}

/** The broadcast is not active (404). */
export class UnknownBroadcastError extends Error {
  constructor(callCid: string, name: string) {
    super(`no active broadcast named "${name}" in call ${callCid}`);
    this.name = 'UnknownBroadcastError';
  }
}

export interface BroadcastPreviewsOptions {
  ice: IceHostConfig;
  /** The group of the call's active broadcast of that name, if any. */
  feedOf: (callCid: string, name: string) => PreviewFeed | undefined;
  log?: Logger;
  ffmpegPath?: string;
  connectTimeoutMs?: number;
  disconnectGraceMs?: number;
}

export interface PreviewSubscriptionInfo {
  resourceId: string;
  callCid: string;
  name: string;
  state: string;
  /** ms from the connection to the first keyframe sent (undefined while waiting) */
  keyframeWaitMs: number | undefined;
  legs: {
    kind: string;
    codec: string;
    payloadType: number;
    fmtp: string | undefined;
    sent: number;
    dropped: number;
    retransmitted: number;
  }[];
}

/** Packets kept per preview stream for retransmissions (about 1.4 s of a 3 Mbit/s picture). */
const VIDEO_CACHE = 512;
const AUDIO_CACHE = 128;

interface Subscription {
  resourceId: string;
  callCid: string;
  name: string;
  stream: PreviewStream;
  peer: SubscriberPeer;
  connectTimer: NodeJS.Timeout | undefined;
  disconnectTimer: NodeJS.Timeout | undefined;
  connectedAt: number | undefined;
  keyframeAt: number | undefined;
}

const randomSsrc = () => randomBytes(4).readUInt32BE(0);

/** One group's preview: its tap, its packetizer state, its Opus encoder, its legs. */
class PreviewStream {
  readonly subscriptions = new Set<Subscription>();
  /** video legs waiting for a keyframe, and those receiving */
  private readonly waiting = new Map<SubscriberLeg, Subscription>();
  private readonly video = new Set<SubscriberLeg>();
  private readonly audio = new Set<SubscriberLeg>();
  private readonly videoCache = new PacketCache<SourcePacket>(VIDEO_CACHE);
  private readonly audioCache = new PacketCache<SourcePacket>(AUDIO_CACHE);
  private config: AvcConfig | undefined;
  /** frame tags seen since the current sequence header */
  private framesSinceHeader = 0;
  private videoSsrc = randomSsrc();
  private videoSeq = Math.floor(Math.random() * 0x10000);
  private untap: (() => void) | undefined;
  private opus: OpusEncoder | undefined;
  private opusStarting: Promise<void> | undefined;
  private closed = false;
  /** keyframes and frames packetized, keyframe requests of subscribers (not honoured: fixed GOP) */
  keyframes = 0;
  frames = 0;
  pictureLossRequests = 0;

  constructor(
    readonly feed: PreviewFeed,
    private readonly opts: { log: Logger; ffmpegPath: string | undefined; onClosed: () => void },
  ) {}

  add(s: Subscription): void {
    this.subscriptions.add(s);
    for (const leg of s.peer.legs) {
      if (leg.kind === 'video') this.waiting.set(leg, s);
      else this.audio.add(leg);
    }
    if (!this.untap) {
      const header = this.feed.avcSequenceHeader();
      if (header) this.onTag(header);
      this.untap = this.feed.tap({
        tag: (t) => this.onTag(t),
        audio: (pcm) => this.opus?.write(pcm),
        closed: () => this.opts.onClosed(),
      });
    }
    if (this.audio.size > 0 && !this.opus && !this.opusStarting) {
      this.opusStarting = OpusEncoder.start({
        log: this.opts.log,
        ...(this.opts.ffmpegPath ? { ffmpegPath: this.opts.ffmpegPath } : {}),
        onPacket: (p) => this.onOpus(p),
      }).then(
        async (enc) => {
          this.opusStarting = undefined;
          if (this.closed || this.audio.size === 0) await enc.close();
          else this.opus = enc;
        },
        (err: unknown) => {
          this.opusStarting = undefined;
          this.opts.log.warn({ err: String(err) }, 'preview sound encoder could not start');
        },
      );
    }
  }

  /** Removes a subscription's legs; true when the stream has no subscription left. */
  remove(s: Subscription): boolean {
    this.subscriptions.delete(s);
    for (const leg of s.peer.legs) {
      this.waiting.delete(leg);
      this.video.delete(leg);
      this.audio.delete(leg);
    }
    if (this.audio.size === 0 && this.opus) {
      const enc = this.opus;
      this.opus = undefined;
      void enc.close();
    }
    return this.subscriptions.size === 0;
  }

  /** A subscriber's NACK for packets werift's own history no longer holds. */
  resend(leg: SubscriberLeg, missing: { ssrc: number; sequenceNumber: number }[]): void {
    const cache = leg.kind === 'video' ? this.videoCache : this.audioCache;
    for (const m of missing) {
      const found = cache.get(m.ssrc, m.sequenceNumber);
      if (found.kind === 'hit') leg.resend(found.entry.packet);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.untap?.();
    this.untap = undefined;
    const enc = this.opus;
    this.opus = undefined;
    await this.opusStarting?.catch(() => undefined);
    await enc?.close();
  }

  /** Processes for the preview's sound (tests, diagnostics). */
  get opusPid(): number | undefined {
    return this.opus?.pid;
  }

  private onTag(tag: FlvTag): void {
    if (tag.type !== 'video' || this.closed) return;
    if (tag.sequenceHeader) {
      try {
        const next = parseAvcSequenceHeader(tag.data);
        // An encoder emits its sequence header once, at its start: a later one is a restarted
        // encoder (its timestamps start again), hence a new source SSRC (the legs' rewriters keep
        // their numbers continuous), from its first keyframe on for everyone.
        if (this.config && (this.framesSinceHeader > 0 || !sameConfig(this.config, next))) {
          this.videoSsrc = randomSsrc();
          for (const leg of this.video) this.waiting.set(leg, this.subscriptionOf(leg)!);
          this.video.clear();
        }
        this.config = next;
        this.framesSinceHeader = 0;
      } catch (err) {
        this.opts.log.warn({ err: String(err) }, 'preview: unusable AVC sequence header');
      }
      return;
    }
    if (!this.config) return;
    let nals: Buffer[];
    try {
      nals = avccNalUnits(tag.data, this.config.lengthSize);
    } catch {
      return;
    }
    if (nals.length === 0) return;
    this.framesSinceHeader += 1;
    const keyframe = tag.keyframe || hasIdr(nals);
    if (keyframe && this.waiting.size > 0) {
      const now = Date.now();
      for (const [leg, s] of this.waiting) {
        if (!leg.ready) continue;
        this.waiting.delete(leg);
        this.video.add(leg);
        s.keyframeAt ??= now;
      }
    }
    if (this.video.size === 0) return;
    this.frames += 1;
    if (keyframe) this.keyframes += 1;
    const timestamp = (Math.round((tag.timestamp + compositionTimeMs(tag.data)) * 90) >>> 0) as number;
    const now = Date.now();
    for (const { payload, marker } of packetizeAccessUnit(nals, this.config, keyframe)) {
      const p: SourcePacket = { ssrc: this.videoSsrc, sequenceNumber: this.videoSeq, timestamp, marker, payload };
      this.videoSeq = (this.videoSeq + 1) & 0xffff;
      this.videoCache.put(p.ssrc, p.sequenceNumber, p);
      for (const leg of this.video) leg.send(p, now);
    }
  }

  private onOpus(p: SourcePacket): void {
    if (this.closed) return;
    this.audioCache.put(p.ssrc, p.sequenceNumber, p);
    const now = Date.now();
    for (const leg of this.audio) leg.send(p, now);
  }

  private subscriptionOf(leg: SubscriberLeg): Subscription | undefined {
    for (const s of this.subscriptions) if (s.peer.legs.includes(leg)) return s;
    return undefined;
  }
}

function sameConfig(a: AvcConfig, b: AvcConfig): boolean {
  return (
    a.lengthSize === b.lengthSize &&
    a.sps.length === b.sps.length &&
    a.sps.every((x, i) => x.equals(b.sps[i]!)) &&
    a.pps.length === b.pps.length &&
    a.pps.every((x, i) => x.equals(b.pps[i]!))
  );
}

export class BroadcastPreviews extends EventEmitter {
  private readonly streams = new Map<PreviewFeed, PreviewStream>();
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly log: Logger;
  private readonly connectTimeoutMs: number;
  private readonly graceMs: number;
  private closed = false;

  constructor(private readonly options: BroadcastPreviewsOptions) {
    super();
    this.log = options.log ?? silentLogger;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 20_000;
    this.graceMs = options.disconnectGraceMs ?? 10_000;
  }

  /**
   * Answers a WHEP offer for the broadcast's picture and sound. Throws UnknownBroadcastError when
   * the broadcast is not active, OfferError (400) for an offer that cannot be used.
   */
  async subscribe(callCid: string, name: string, offer: string): Promise<{ resourceId: string; answer: string }> {
    if (this.closed || !this.options.feedOf(callCid, name)) throw new UnknownBroadcastError(callCid, name);
    const plan = planPreview(offer);
    const peer = await SubscriberPeer.answer(offer, plan, this.options.ice);
    // The broadcast may have stopped while the answer was made.
    const feed = this.closed ? undefined : this.options.feedOf(callCid, name);
    if (!feed) {
      await peer.close();
      throw new UnknownBroadcastError(callCid, name);
    }
    let stream = this.streams.get(feed);
    if (!stream) {
      const created = new PreviewStream(feed, {
        log: this.log,
        ffmpegPath: this.options.ffmpegPath,
        onClosed: () => this.closeStream(created, 'broadcast_stopped'),
      });
      stream = created;
      this.streams.set(feed, created);
    }
    const resourceId = randomBytes(16).toString('hex');
    const s: Subscription = {
      resourceId,
      callCid,
      name,
      stream,
      peer,
      connectTimer: undefined,
      disconnectTimer: undefined,
      connectedAt: undefined,
      keyframeAt: undefined,
    };
    this.subscriptions.set(resourceId, s);
    stream.add(s);
    peer.on('state', (state: PeerState) => this.onState(s, state));
    peer.on('keyframe', () => {
      stream.pictureLossRequests += 1;
    });
    peer.on('nack', (leg: SubscriberLeg, missing: { ssrc: number; sequenceNumber: number }[]) => stream.resend(leg, missing));
    s.connectTimer = setTimeout(() => {
      if (peer.connectionState !== 'connected') this.unsubscribe(resourceId, 'connect_timeout');
    }, this.connectTimeoutMs);
    s.connectTimer.unref();
    this.log.info(
      { callCid, name, kinds: plan.accepted.map((a) => `${a.kind}:${a.codec.name}/${a.codec.payloadType}`) },
      'broadcast preview subscription created',
    );
    return { resourceId, answer: peer.answer };
  }

  /** Whether the subscription exists, to this broadcast of this call. */
  has(resourceId: string, callCid: string, name: string): boolean {
    const s = this.subscriptions.get(resourceId);
    return s !== undefined && s.callCid === callCid && s.name === name;
  }

  async addRemoteCandidates(resourceId: string, fragment: string): Promise<number> {
    const s = this.subscriptions.get(resourceId);
    return s ? s.peer.addCandidates(fragment) : -1;
  }

  /** Ends a subscription (DELETE, its broadcast stopped, its peer went away). */
  unsubscribe(resourceId: string, reason = 'deleted'): boolean {
    const s = this.subscriptions.get(resourceId);
    if (!s) return false;
    this.subscriptions.delete(resourceId);
    if (s.connectTimer) clearTimeout(s.connectTimer);
    if (s.disconnectTimer) clearTimeout(s.disconnectTimer);
    if (s.stream.remove(s)) {
      this.streams.delete(s.stream.feed);
      void s.stream.close();
    }
    void s.peer.close();
    this.log.info({ callCid: s.callCid, name: s.name, reason }, 'broadcast preview subscription closed');
    this.emit('subscription_closed', { resourceId, callCid: s.callCid, name: s.name, reason });
    return true;
  }

  /** Closes the call's subscriptions whose broadcast is no longer active (or moved to another group). */
  revalidate(callCid: string): void {
    for (const s of [...this.subscriptions.values()]) {
      if (s.callCid !== callCid) continue;
      if (this.options.feedOf(s.callCid, s.name) !== s.stream.feed) this.unsubscribe(s.resourceId, 'broadcast_stopped');
    }
  }

  /** The call's preview subscriptions (diagnostics and tests). */
  list(callCid?: string): PreviewSubscriptionInfo[] {
    return [...this.subscriptions.values()]
      .filter((s) => callCid === undefined || s.callCid === callCid)
      .map((s) => ({
        resourceId: s.resourceId,
        callCid: s.callCid,
        name: s.name,
        state: s.peer.connectionState,
        keyframeWaitMs: s.keyframeAt !== undefined && s.connectedAt !== undefined ? s.keyframeAt - s.connectedAt : undefined,
        legs: s.peer.legs.map((l) => ({
          kind: l.kind,
          codec: l.codec.name,
          payloadType: l.codec.payloadType,
          fmtp: l.codec.fmtp,
          sent: l.sent,
          dropped: l.dropped,
          retransmitted: l.retransmitted,
        })),
      }));
  }

  /** The Opus encoder processes running for previews (tests, diagnostics). */
  soundEncoderPids(): number[] {
    return [...this.streams.values()].map((s) => s.opusPid).filter((p): p is number => p !== undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    const peers = [...this.subscriptions.values()].map((s) => s.peer);
    for (const id of [...this.subscriptions.keys()]) this.unsubscribe(id, 'shutdown');
    const streams = [...this.streams.values()];
    this.streams.clear();
    await Promise.allSettled([...peers.map((p) => p.close()), ...streams.map((s) => s.close())]);
  }

  private closeStream(stream: PreviewStream, reason: string): void {
    for (const s of [...stream.subscriptions]) this.unsubscribe(s.resourceId, reason);
    if (this.streams.get(stream.feed) === stream) this.streams.delete(stream.feed);
    void stream.close();
  }

  private onState(s: Subscription, state: PeerState): void {
    if (this.subscriptions.get(s.resourceId) !== s) return;
    if (state === 'connected') {
      if (s.connectTimer) clearTimeout(s.connectTimer);
      if (s.disconnectTimer) clearTimeout(s.disconnectTimer);
      s.connectTimer = s.disconnectTimer = undefined;
      s.connectedAt ??= Date.now();
    } else if (state === 'disconnected') {
      if (!s.disconnectTimer) {
        s.disconnectTimer = setTimeout(() => this.unsubscribe(s.resourceId, 'disconnected'), this.graceMs);
        s.disconnectTimer.unref();
      }
    } else if (state === 'failed' || state === 'closed') {
      this.unsubscribe(s.resourceId, state === 'failed' ? 'connection_failed' : 'closed');
    }
  }
}
