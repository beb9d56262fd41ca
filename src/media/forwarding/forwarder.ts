/**
 * The selective forwarding unit: every RTP packet of a published track goes, as it is (no
 * decoding), to each subscription of that participant (WHEP), rewritten per subscriber by its
 * SubscriberLeg. Per published track it keeps the last packets (answering subscribers' NACKs, or
 * passing them on to the publisher for packets the server lost too) and one keyframe-request
 * throttle that subscribers joining or losing the picture and the track's decoder share.
 *
 * CallMedia feeds it: `addTrack` when a publisher's track appears, `forward` for each packet,
 * `removePublisher` when the participant leaves (its subscriptions close with it).
 *
 * Forwarding never waits on a subscriber: `forward` hands each packet to every leg synchronously
 * and returns; a leg that cannot take it drops it (see SubscriberLeg).
 *
 * Events: 'subscription_closed' ({ resourceId, callCid, sessionId, reason }).
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { PeerState } from '../ingest-peer.js';
import { silentLogger, type Logger } from '../../log.js';
import type { RtpCodec } from '../rtp-process.js';
import type { MediaKind } from '../sdp.js';
import type { IceHostConfig } from '../webrtc.js';
import { KeyframeRequests } from './keyframe-requests.js';
import { PacketCache } from './packet-cache.js';
import { SubscriberPeer, type SourcePacket, type SubscriberLeg } from './subscriber-peer.js';
import { planSubscription, type SubscriptionPlan } from './subscription-offer.js';

/** Packets kept per published track for retransmission (about 2 s of 1 Mbit/s video). */
export const PACKET_CACHE_SIZE = 512;

/** What a published track offers the forwarder. */
export interface PublishedSource {
  kind: MediaKind;
  /** the codec in use (once packets arrived), else the ones negotiated with the publisher */
  codecs(): RtpCodec[];
  requestKeyframe(): void;
  requestRetransmission(sequenceNumbers: number[]): void;
}

/** The part of a received RTP packet forwarding needs (werift's RtpPacket has it). */
export interface ReceivedPacket {
  header: { ssrc: number; sequenceNumber: number; timestamp: number; marker: boolean };
  payload: Buffer;
}

/** A subscription was refused because the participant is not (or no longer) in the call. */
export class UnknownParticipantError extends Error {
  constructor(callCid: string, sessionId: string) {
    super(`participant session ${sessionId} is not in call ${callCid}`);
    this.name = 'UnknownParticipantError';
  }
}

export interface ForwarderOptions {
  ice: IceHostConfig;
  log?: Logger;
  /** how long a new subscriber may take to connect (ICE + DTLS) before it is dropped (ms) */
  connectTimeoutMs?: number;
  /** how long a disconnected subscriber may take to come back before it is dropped (ms) */
  disconnectGraceMs?: number;
  /** at most one keyframe request per published track per this many ms */
  keyframeIntervalMs?: number;
}

export interface SubscriptionInfo {
  resourceId: string;
  callCid: string;
  sessionId: string;
  state: string;
  legs: { kind: MediaKind; codec: string; payloadType: number; sent: number; dropped: number; retransmitted: number }[];
}

interface ForwardedTrack {
  source: PublishedSource;
  cache: PacketCache<SourcePacket>;
  keyframes: KeyframeRequests;
  legs: Set<SubscriberLeg>;
  /** NACKs answered from the cache, and passed on to the publisher */
  answered: number;
  passedOn: number;
}

interface Publisher {
  callCid: string;
  sessionId: string;
  tracks: Map<object, ForwardedTrack>;
  subscriptions: Set<Subscription>;
}

interface Subscription {
  resourceId: string;
  publisher: Publisher;
  peer: SubscriberPeer;
  /** the published track each leg is fed from */
  legs: Map<SubscriberLeg, ForwardedTrack>;
  connectTimer: NodeJS.Timeout | undefined;
  disconnectTimer: NodeJS.Timeout | undefined;
}

const keyOf = (callCid: string, sessionId: string) => `${callCid}\n${sessionId}`;

export class Forwarder extends EventEmitter {
  private readonly publishers = new Map<string, Publisher>();
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly log: Logger;
  private readonly connectTimeoutMs: number;
  private readonly graceMs: number;
  private readonly keyframeIntervalMs: number;
  private closed = false;

  constructor(private readonly options: ForwarderOptions) {
    super();
    this.log = options.log ?? silentLogger;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 20_000;
    this.graceMs = options.disconnectGraceMs ?? 10_000;
    this.keyframeIntervalMs = options.keyframeIntervalMs ?? 1000;
  }

  /** A publisher's track appeared (`key` identifies it in later calls). */
  addTrack(callCid: string, sessionId: string, key: object, source: PublishedSource): void {
    if (this.closed) return;
    const publisher = this.publisher(callCid, sessionId);
    if (publisher.tracks.has(key)) return;
    publisher.tracks.set(key, {
      source,
      cache: new PacketCache<SourcePacket>(PACKET_CACHE_SIZE),
      keyframes: new KeyframeRequests({ send: () => source.requestKeyframe(), intervalMs: this.keyframeIntervalMs }),
      legs: new Set(),
      answered: 0,
      passedOn: 0,
    });
  }

  /** One packet of a published track, of codec `codec`: to every subscriber, without waiting. */
  forward(callCid: string, sessionId: string, key: object, packet: ReceivedPacket, codec: RtpCodec): void {
    const track = this.publishers.get(keyOf(callCid, sessionId))?.tracks.get(key);
    if (!track || packet.payload.length === 0) return; // padding-only packets carry nothing
    const { ssrc, sequenceNumber, timestamp, marker } = packet.header;
    const p: SourcePacket = { ssrc, sequenceNumber, timestamp, marker, payload: packet.payload };
    track.cache.put(ssrc, sequenceNumber, p);
    if (track.legs.size === 0) return;
    const now = Date.now();
    const name = codec.name.toLowerCase();
    for (const leg of track.legs) {
      if (leg.sourceCodec.name.toLowerCase() === name) leg.send(p, now);
    }
  }

  /** A keyframe request for a published track (its decoder's), through the shared throttle. */
  requestKeyframe(callCid: string, sessionId: string, key: object): void {
    this.publishers.get(keyOf(callCid, sessionId))?.tracks.get(key)?.keyframes.request();
  }

  /** The participant left: its subscriptions close and its tracks are forgotten. */
  removePublisher(callCid: string, sessionId: string, reason: string): void {
    const k = keyOf(callCid, sessionId);
    const publisher = this.publishers.get(k);
    if (!publisher) return;
    this.publishers.delete(k);
    for (const s of [...publisher.subscriptions])
      this.unsubscribe(s.resourceId, reason === 'call_ended' ? 'call_ended' : 'participant_left');
    for (const t of publisher.tracks.values()) {
      t.keyframes.close();
      t.cache.clear();
    }
  }

  /**
   * Answers a WHEP offer for the participant's camera and microphone. Throws
   * UnknownParticipantError when the participant is not in the call, OfferError (400) for an
   * offer that cannot be used.
   */
  async subscribe(
    callCid: string,
    sessionId: string,
    offer: string,
  ): Promise<{ resourceId: string; answer: string; plan: SubscriptionPlan }> {
    const publisher = this.publishers.get(keyOf(callCid, sessionId));
    if (!publisher || this.closed) throw new UnknownParticipantError(callCid, sessionId);
    const tracks = [...publisher.tracks.values()];
    const plan = planSubscription(
      offer,
      tracks.map((t) => ({ kind: t.source.kind, codecs: t.source.codecs() })),
    );
    const peer = await SubscriberPeer.answer(offer, plan, this.options.ice);
    // The participant may have left while the answer was made.
    if (this.publishers.get(keyOf(callCid, sessionId)) !== publisher) {
      await peer.close();
      throw new UnknownParticipantError(callCid, sessionId);
    }
    const resourceId = randomBytes(16).toString('hex');
    const s: Subscription = { resourceId, publisher, peer, legs: new Map(), connectTimer: undefined, disconnectTimer: undefined };
    for (const leg of peer.legs) {
      const track = tracks.find((t) => t.source.kind === leg.kind);
      if (!track) continue;
      s.legs.set(leg, track);
      track.legs.add(leg);
    }
    this.subscriptions.set(resourceId, s);
    publisher.subscriptions.add(s);
    peer.on('state', (state: PeerState) => this.onState(s, state));
    peer.on('keyframe', (kind: MediaKind) => {
      for (const [leg, track] of s.legs) if (leg.kind === kind) track.keyframes.request();
    });
    peer.on('nack', (leg: SubscriberLeg, missing: { ssrc: number; sequenceNumber: number }[]) => this.onNack(s, leg, missing));
    s.connectTimer = setTimeout(() => {
      if (peer.connectionState !== 'connected') this.unsubscribe(resourceId, 'connect_timeout');
    }, this.connectTimeoutMs);
    s.connectTimer.unref();
    this.log.info(
      { callCid, sessionId, kinds: plan.accepted.map((a) => `${a.kind}:${a.codec.name}/${a.codec.payloadType}`) },
      'subscription created',
    );
    return { resourceId, answer: peer.answer, plan };
  }

  /** Whether the subscription exists, to this participant of this call. */
  has(resourceId: string, callCid: string, sessionId: string): boolean {
    const s = this.subscriptions.get(resourceId);
    return s !== undefined && s.publisher.callCid === callCid && s.publisher.sessionId === sessionId;
  }

  /** Trickle ICE for a subscription; -1 if none of the candidates was usable or it is gone. */
  async addRemoteCandidates(resourceId: string, fragment: string): Promise<number> {
    const s = this.subscriptions.get(resourceId);
    return s ? s.peer.addCandidates(fragment) : -1;
  }

  /** Ends a subscription (DELETE, its participant left, its peer went away). */
  unsubscribe(resourceId: string, reason = 'deleted'): boolean {
    const s = this.subscriptions.get(resourceId);
    if (!s) return false;
    this.subscriptions.delete(resourceId);
    s.publisher.subscriptions.delete(s);
    for (const [leg, track] of s.legs) track.legs.delete(leg);
    if (s.connectTimer) clearTimeout(s.connectTimer);
    if (s.disconnectTimer) clearTimeout(s.disconnectTimer);
    void s.peer.close();
    const { callCid, sessionId } = s.publisher;
    this.log.info({ callCid, sessionId, reason }, 'subscription closed');
    this.emit('subscription_closed', { resourceId, callCid, sessionId, reason });
    return true;
  }

  /** The subscriptions of a call (optionally of one participant), for diagnostics and tests. */
  list(callCid: string, sessionId?: string): SubscriptionInfo[] {
    return [...this.subscriptions.values()]
      .filter((s) => s.publisher.callCid === callCid && (sessionId === undefined || s.publisher.sessionId === sessionId))
      .map((s) => ({
        resourceId: s.resourceId,
        callCid: s.publisher.callCid,
        sessionId: s.publisher.sessionId,
        state: s.peer.connectionState,
        legs: [...s.legs.keys()].map((l) => ({
          kind: l.kind,
          codec: l.codec.name,
          payloadType: l.codec.payloadType,
          sent: l.sent,
          dropped: l.dropped,
          retransmitted: l.retransmitted,
        })),
      }));
  }

  /** Keyframe requests sent to and folded for a participant's video track (diagnostics and tests). */
  keyframeStats(callCid: string, sessionId: string): { sent: number; coalesced: number } | undefined {
    const t = [...(this.publishers.get(keyOf(callCid, sessionId))?.tracks.values() ?? [])].find((x) => x.source.kind === 'video');
    return t ? { sent: t.keyframes.sent, coalesced: t.keyframes.coalesced } : undefined;
  }

  /** Closes every subscription. */
  async close(): Promise<void> {
    this.closed = true;
    const peers = [...this.subscriptions.values()].map((s) => s.peer);
    for (const id of [...this.subscriptions.keys()]) this.unsubscribe(id, 'shutdown');
    for (const p of [...this.publishers.values()]) this.removePublisher(p.callCid, p.sessionId, 'shutdown');
    await Promise.allSettled(peers.map((p) => p.close()));
  }

  private publisher(callCid: string, sessionId: string): Publisher {
    const k = keyOf(callCid, sessionId);
    let p = this.publishers.get(k);
    if (!p) this.publishers.set(k, (p = { callCid, sessionId, tracks: new Map(), subscriptions: new Set() }));
    return p;
  }

  private onState(s: Subscription, state: PeerState): void {
    if (this.subscriptions.get(s.resourceId) !== s) return;
    if (state === 'connected') {
      if (s.connectTimer) clearTimeout(s.connectTimer);
      if (s.disconnectTimer) clearTimeout(s.disconnectTimer);
      s.connectTimer = s.disconnectTimer = undefined;
      // A subscriber joining late needs a keyframe to start from.
      for (const [leg, track] of s.legs) if (leg.kind === 'video') track.keyframes.request();
    } else if (state === 'disconnected') {
      if (!s.disconnectTimer) {
        s.disconnectTimer = setTimeout(() => this.unsubscribe(s.resourceId, 'disconnected'), this.graceMs);
        s.disconnectTimer.unref();
      }
    } else if (state === 'failed' || state === 'closed') {
      this.unsubscribe(s.resourceId, state === 'failed' ? 'connection_failed' : 'closed');
    }
  }

  private onNack(s: Subscription, leg: SubscriberLeg, missing: { ssrc: number; sequenceNumber: number }[]): void {
    const track = s.legs.get(leg);
    if (!track) return;
    const upstream: number[] = [];
    for (const m of missing) {
      const found = track.cache.get(m.ssrc, m.sequenceNumber);
      if (found.kind === 'hit') {
        if (leg.resend(found.entry.packet)) track.answered += 1;
      } else if (found.kind === 'missing') {
        upstream.push(m.sequenceNumber);
      }
    }
    if (upstream.length > 0) {
      track.passedOn += upstream.length;
      track.source.requestRetransmission(upstream);
    }
  }
}
