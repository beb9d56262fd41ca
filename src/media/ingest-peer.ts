/**
 * One publisher's WebRTC connection: answers its offer, reports its tracks, forwards their RTP
 * and carries keyframe requests back. Knows nothing of calls or layouts.
 */
import { EventEmitter } from 'node:events';
import { GenericNack, RtcpTransportLayerFeedback, type RtcpPacket, type RTCRtpReceiver, type RtpPacket } from 'werift';
import type { RtpCodec } from './rtp-process.js';
import { acceptBundleOnly, deactivateSections, refuseAnswerSections, type OfferPlan } from './sdp.js';
import {
  addTrickleCandidates,
  advertisedAnswer,
  createIngestPeer,
  waitForGathering,
  type IceHostConfig,
  type RTCPeerConnection,
} from './webrtc.js';

export interface IngestTrack {
  kind: 'audio' | 'video';
  mid: string | undefined;
  /** codec of the packets seen so far (set with the first packet) */
  codec: RtpCodec | undefined;
  ssrc: number | undefined;
  /** the media codecs negotiated for the track (what it may send), before any packet arrived */
  negotiated: RtpCodec[];
}

export type PeerState = 'connecting' | 'connected' | 'disconnected' | 'failed' | 'closed';

/** The events of an `IngestPeer`. */
export interface IngestPeerEvents {
  /** a published track was added (also listed in `tracks`) */
  track: [track: IngestTrack];
  /** one RTP packet of a track: its bytes as received, and the parsed packet */
  rtp: [track: IngestTrack, bytes: Buffer, packet: RtpPacket];
  /** the connection's state changed ('closed' once, after `close`) */
  state: [state: PeerState];
}

export class IngestPeer extends EventEmitter<IngestPeerEvents> {
  readonly tracks: IngestTrack[] = [];
  private readonly receivers = new Map<IngestTrack, RTCRtpReceiver>();
  private firSequence = 0;
  private isClosed = false;

  private constructor(
    private readonly pc: RTCPeerConnection,
    readonly answer: string,
  ) {
    super();
  }

  /**
   * Applies the offer (refused sections made inactive, bundle-only ones taken as live) and produces
   * the complete answer. An accepted section for which the WebRTC stack raises no track is refused
   * in the answer too (port 0) and moved to the plan's refused list as `not_received`, so the
   * answer never accepts media that would not be received.
   */
  static async answer(offer: string, plan: OfferPlan, ice: IceHostConfig): Promise<IngestPeer> {
    const pc = createIngestPeer(ice);
    const refused = new Set(
      plan.refused.filter((r) => r.section.kind === 'audio' || r.section.kind === 'video').map((r) => r.section.index),
    );
    const accepted = new Set(plan.accepted.map((s) => s.mid).filter((m): m is string => m !== undefined));
    let peer: IngestPeer | undefined;
    const pendingTracks: Parameters<NonNullable<RTCPeerConnection['ontrack']>>[0][] = [];
    pc.ontrack = (event) => {
      if (peer) peer.addTrack(event, accepted);
      else pendingTracks.push(event);
    };
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: deactivateSections(acceptBundleOnly(offer), refused) });
      const received = new Set(pendingTracks.map((e) => e.transceiver.mid).filter((m): m is string => typeof m === 'string'));
      const unreceived = new Set<string>();
      for (const section of [...plan.accepted]) {
        if (section.mid === undefined || received.has(section.mid)) continue;
        unreceived.add(section.mid);
        plan.accepted.splice(plan.accepted.indexOf(section), 1);
        plan.refused.push({ section, reason: 'not_received' });
      }
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      await waitForGathering(pc);
      const local = pc.localDescription?.sdp ?? answer.sdp;
      peer = new IngestPeer(pc, refuseAnswerSections(advertisedAnswer(local, ice), unreceived));
    } catch (err) {
      await pc.close().catch(() => undefined);
      throw err;
    }
    for (const e of pendingTracks) peer.addTrack(e, accepted);
    const p = peer;
    pc.connectionStateChange.subscribe((state) => {
      const mapped: PeerState = state === 'new' ? 'connecting' : state;
      p.emit('state', mapped);
    });
    return peer;
  }

  private addTrack(
    event: { track: import('werift').MediaStreamTrack; receiver: RTCRtpReceiver; transceiver: import('werift').RTCRtpTransceiver },
    accepted: ReadonlySet<string>,
  ): void {
    const { track, receiver, transceiver } = event;
    const mid = transceiver.mid ?? undefined;
    if (track.kind !== 'audio' && track.kind !== 'video') return;
    if (mid !== undefined && accepted.size > 0 && !accepted.has(mid)) return;
    const negotiated = transceiver.codecs.filter((c) => !/\/(rtx|red|ulpfec|flexfec-03)$/i.test(c.mimeType)).map(rtpCodecOf);
    const t: IngestTrack = { kind: track.kind, mid, codec: undefined, ssrc: track.ssrc, negotiated };
    this.tracks.push(t);
    this.receivers.set(t, receiver);
    track.onReceiveRtp.subscribe((packet: RtpPacket) => {
      if (this.isClosed) return;
      t.ssrc = packet.header.ssrc;
      const pt = packet.header.payloadType;
      if (!t.codec || t.codec.payloadType !== pt) {
        const c = transceiver.codecs.find((x) => x.payloadType === pt);
        if (!c) return; // RTX or an unknown payload type: not media we decode
        t.codec = rtpCodecOf(c);
      }
      this.emit('rtp', t, packet.serialize(), packet);
    });
    this.emit('track', t);
  }

  /** Asks the publisher for a keyframe on this track: PLI when negotiated, else FIR. */
  requestKeyframe(track: IngestTrack): void {
    const receiver = this.receivers.get(track);
    if (!receiver || track.ssrc === undefined || this.isClosed) return;
    if (receiver.pliEnabled) {
      void receiver.sendRtcpPLI(track.ssrc).catch(() => undefined);
      return;
    }
    this.firSequence = (this.firSequence + 1) % 256;
    const bytes = firPacket(receiver.rtcpSsrc, track.ssrc, this.firSequence);
    const packet = { serialize: () => bytes } as unknown as RtcpPacket;
    void receiver.dtlsTransport?.sendRtcp([packet]).catch(() => undefined);
  }

  /** Asks the publisher to send these packets of the track again (RTCP generic NACK). */
  requestRetransmission(track: IngestTrack, sequenceNumbers: number[]): void {
    const receiver = this.receivers.get(track);
    if (!receiver || track.ssrc === undefined || this.closed || sequenceNumbers.length === 0) return;
    const nack = new GenericNack({ senderSsrc: receiver.rtcpSsrc, mediaSourceSsrc: track.ssrc, lost: sequenceNumbers });
    void receiver.dtlsTransport?.sendRtcp([new RtcpTransportLayerFeedback({ feedback: nack })]).catch(() => undefined);
  }

  /** Adds the remote candidates of a trickle-ICE SDP fragment (see addTrickleCandidates). */
  addCandidates(fragment: string): Promise<number> {
    return addTrickleCandidates(this.pc, fragment);
  }

  get connectionState(): string {
    return this.pc.connectionState;
  }

  /** Whether `close` was called. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Closes the connection (bounded to 3 s) and emits 'state' 'closed'. Idempotent. */
  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    // Bounded: werift may take long to close a connection that never completed.
    await Promise.race([this.pc.close().catch(() => undefined), new Promise((r) => setTimeout(r, 3000).unref())]);
    this.emit('state', 'closed');
  }
}

function rtpCodecOf(c: { payloadType: number; mimeType: string; clockRate: number; channels?: number; parameters?: string }): RtpCodec {
  const name = c.mimeType.split('/')[1] ?? c.mimeType;
  return {
    payloadType: c.payloadType,
    name,
    clockRate: c.clockRate,
    ...(c.channels ? { channels: c.channels } : {}),
    ...(c.parameters ? { fmtp: c.parameters } : {}),
  };
}

/** An RTCP Full Intra Request (RFC 5104 §4.3.1) for `mediaSsrc`. */
export function firPacket(senderSsrc: number, mediaSsrc: number, sequence: number): Buffer {
  const b = Buffer.alloc(20);
  b[0] = 0x80 | 4; // V=2, FMT=4
  b[1] = 206; // PSFB
  b.writeUInt16BE(4, 2); // length in 32-bit words minus one
  b.writeUInt32BE(senderSsrc >>> 0, 4);
  b.writeUInt32BE(0, 8);
  b.writeUInt32BE(mediaSsrc >>> 0, 12);
  b[16] = sequence & 0xff;
  return b;
}
