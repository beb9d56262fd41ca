/**
 * One WHEP subscriber's WebRTC connection: answers its recvonly offer with send-only tracks of
 * the publisher's codecs and sends them the packets the forwarder gives it, rewritten for this
 * subscriber (its payload type, its SSRC, continuous sequence numbers and timestamps). It reports
 * the subscriber's keyframe requests (PLI/FIR) and the NACKs werift's own send history could not
 * answer. Sending never waits: a packet is handed to the stack and, if the leg already has too
 * many in flight, dropped for this subscriber only.
 */
import { EventEmitter } from 'node:events';
import {
  RTCRtpCodecParameters,
  RtpHeader,
  RtpPacket,
  useAbsSendTime,
  useSdesMid,
  type GenericNack,
  type RTCRtpSender,
  type RTCRtpTransceiver,
} from 'werift';
import type { PeerState } from '../ingest-peer.js';
import type { MediaKind, OfferedCodec } from '../sdp.js';
import {
  addTrickleCandidates,
  advertisedAnswer,
  createIngestPeer,
  waitForGathering,
  type IceHostConfig,
  type RTCPeerConnection,
} from '../webrtc.js';
import { RtpRewriter } from './rtp-rewriter.js';
import { narrowOffer, type SubscriptionPlan, type SubscriptionSection } from './subscription-offer.js';

/** werift's RTCRtpSender keeps this many sent packets and answers NACKs for them itself. */
const WERIFT_SEND_HISTORY = 128;
/** Packets handed to the stack and not yet sent, per leg, beyond which new ones are dropped. */
const MAX_IN_FLIGHT = 256;

/** What the forwarder hands a leg: one packet of the publisher's track, as received. */
export interface SourcePacket {
  ssrc: number;
  sequenceNumber: number;
  timestamp: number;
  marker: boolean;
  payload: Buffer;
}

/** One forwarded track of a subscription. */
export class SubscriberLeg {
  readonly kind: MediaKind;
  readonly codec: SubscriptionSection['codec'];
  readonly sourceCodec: SubscriptionSection['source'];
  private readonly rewriter: RtpRewriter;
  /** the outgoing sequence numbers werift's send history holds, by slot */
  private readonly history = new Int32Array(WERIFT_SEND_HISTORY).fill(-1);
  private inFlight = 0;
  /** packets sent, dropped (leg backed up), retransmitted from the forwarder's cache */
  sent = 0;
  dropped = 0;
  retransmitted = 0;

  constructor(
    readonly sender: RTCRtpSender,
    section: SubscriptionSection,
  ) {
    this.kind = section.kind;
    this.codec = section.codec;
    this.sourceCodec = section.source;
    this.rewriter = new RtpRewriter(section.source.clockRate);
  }

  get ready(): boolean {
    return this.sender.dtlsTransport?.state === 'connected' && this.sender.codec !== undefined && !this.sender.stopped;
  }

  /** Sends one packet of the source (returns false when not sent: not connected or backed up). */
  send(p: SourcePacket, nowMs: number): boolean {
    if (!this.ready) return false;
    if (this.inFlight >= MAX_IN_FLIGHT) {
      this.dropped += 1;
      return false;
    }
    const out = this.rewriter.map(p.ssrc, p.sequenceNumber, p.timestamp, nowMs);
    this.history[out.sequenceNumber % WERIFT_SEND_HISTORY] = out.sequenceNumber;
    this.transmit(p, out.sequenceNumber, out.timestamp);
    this.sent += 1;
    return true;
  }

  /** Sends a cached packet again, with the numbers it was first sent with. */
  resend(p: SourcePacket): boolean {
    if (!this.ready || this.inFlight >= MAX_IN_FLIGHT) return false;
    const out = this.rewriter.peek(p.ssrc, p.sequenceNumber, p.timestamp);
    if (!out) return false;
    this.history[out.sequenceNumber % WERIFT_SEND_HISTORY] = out.sequenceNumber;
    this.transmit(p, out.sequenceNumber, out.timestamp);
    this.retransmitted += 1;
    return true;
  }

  /** Of the outgoing sequence numbers a NACK lists, those werift's history cannot answer, as source numbers. */
  unanswered(lost: readonly number[]): { ssrc: number; sequenceNumber: number }[] {
    const out: { ssrc: number; sequenceNumber: number }[] = [];
    for (const seq of lost) {
      if (this.history[seq % WERIFT_SEND_HISTORY] === seq) continue;
      const source = this.rewriter.sourceSequence(seq);
      if (source) out.push(source);
    }
    return out;
  }

  private transmit(p: SourcePacket, sequenceNumber: number, timestamp: number): void {
    // A fresh header: the publisher's header extensions (its ids, its mid) must not reach the
    // subscriber; werift adds the ones negotiated with it.
    const header = new RtpHeader({
      marker: p.marker,
      payloadType: this.codec.payloadType,
      sequenceNumber,
      timestamp,
      ssrc: this.sender.ssrc,
    });
    this.inFlight += 1;
    this.sender.sendRtp(new RtpPacket(header, p.payload)).then(this.settled, this.settled);
  }

  private readonly settled = (): void => {
    this.inFlight -= 1;
  };
}

/**
 * Events: 'state' (PeerState), 'keyframe' (kind), 'nack' (SubscriberLeg, source numbers not in
 * werift's history).
 */
export class SubscriberPeer extends EventEmitter {
  private closed = false;

  private constructor(
    private readonly pc: RTCPeerConnection,
    readonly answer: string,
    readonly legs: SubscriberLeg[],
  ) {
    super();
  }

  /** Answers a WHEP offer for the sections `plan` accepts. */
  static async answer(offer: string, plan: SubscriptionPlan, ice: IceHostConfig): Promise<SubscriberPeer> {
    const pc = createIngestPeer(ice, {
      codecs: { audio: answerCodecs(plan, 'audio'), video: answerCodecs(plan, 'video') },
      headerExtensions: { audio: [useSdesMid(), useAbsSendTime()], video: [useSdesMid(), useAbsSendTime()] },
    });
    try {
      // Send-only transceivers, in the offer's order, before the offer: werift pairs each with the
      // offer's first section of its kind.
      const transceivers = new Map<SubscriptionSection, RTCRtpTransceiver>();
      for (const a of [...plan.accepted].sort((x, y) => x.section.index - y.section.index)) {
        transceivers.set(a, pc.addTransceiver(a.kind, { direction: 'sendonly' }));
      }
      await pc.setRemoteDescription({ type: 'offer', sdp: narrowOffer(offer, plan) });
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      await waitForGathering(pc);
      const local = pc.localDescription?.sdp ?? answer.sdp;
      const legs = [...transceivers].map(([section, t]) => new SubscriberLeg(t.sender, section));
      const peer = new SubscriberPeer(pc, advertisedAnswer(local, ice), legs);
      peer.wire();
      return peer;
    } catch (err) {
      await pc.close().catch(() => undefined);
      throw err;
    }
  }

  private wire(): void {
    this.pc.connectionStateChange.subscribe((state) => {
      if (!this.closed) this.emit('state', (state === 'new' ? 'connecting' : state) as PeerState);
    });
    for (const leg of this.legs) {
      leg.sender.onPictureLossIndication.subscribe(() => {
        if (!this.closed) this.emit('keyframe', leg.kind);
      });
      leg.sender.onRtcp.subscribe((packet) => {
        // FIR (RFC 5104): werift reports only PLI itself.
        if (!this.closed && packet.type === 206 && (packet as { feedback?: { count?: number } }).feedback?.count === 4)
          this.emit('keyframe', leg.kind);
      });
      leg.sender.onGenericNack.subscribe((nack: GenericNack) => {
        if (this.closed) return;
        const missing = leg.unanswered(nack.lost);
        if (missing.length > 0) this.emit('nack', leg, missing);
      });
    }
  }

  get connectionState(): string {
    return this.pc.connectionState;
  }

  addCandidates(fragment: string): Promise<number> {
    return addTrickleCandidates(this.pc, fragment);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const leg of this.legs) leg.sender.stop();
    // Bounded: werift may take long to close a connection that never completed.
    await Promise.race([this.pc.close().catch(() => undefined), new Promise((r) => setTimeout(r, 3000).unref())]);
    this.emit('state', 'closed');
  }
}

function codecParameters(kind: MediaKind, codec: OfferedCodec): RTCRtpCodecParameters {
  return new RTCRtpCodecParameters({
    mimeType: `${kind}/${codec.name}`,
    clockRate: codec.clockRate,
    payloadType: codec.payloadType,
    ...(codec.channels ? { channels: codec.channels } : {}),
    ...(codec.fmtp ? { parameters: codec.fmtp } : {}),
  });
}

/**
 * The codecs the peer answers with for `kind`: the accepted sections' one codec each. A kind with
 * no accepted section but a refused one (e.g. audio offered to a participant who publishes only
 * video) gets that section's first offered codec, only so that the WebRTC stack can negotiate the
 * section, which the narrowed offer has made inactive: nothing is sent on it.
 */
function answerCodecs(plan: SubscriptionPlan, kind: MediaKind): RTCRtpCodecParameters[] {
  const accepted = plan.accepted.filter((a) => a.kind === kind).map((a) => codecParameters(kind, a.codec));
  if (accepted.length > 0) return accepted;
  const refused = plan.refused.find((r) => r.section.kind === kind && r.section.codecs.length > 0);
  return refused ? [codecParameters(kind, refused.section.codecs[0]!)] : [];
}
