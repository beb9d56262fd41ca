/**
 * The WebRTC stack that terminates publishers: werift (pure TypeScript).
 *
 * Why werift rather than @roamhq/wrtc (both installed on this machine, Node 20.20, 2 cores):
 * - Both load and run on Node 20 (werift prints EBADENGINE at install: it declares node>=22).
 * - werift hands us every received RTP packet (`track.onReceiveRtp`), so each track is forwarded
 *   as-is over loopback UDP to its own ffmpeg decoder process: decoding and scaling to the tile
 *   size happen outside the Node process, on whatever core is free. It negotiates VP8, H.264 and
 *   Opus, answers with NACK (it requests retransmissions and unwraps RTX itself), sends PLI on
 *   request (`receiver.sendRtcpPLI`) and FIR through its RTCP API, and runs a transport-wide-cc
 *   receiver so Chromium ramps its bitrate up. Measured here: two Chromium publishers (VP8 fake
 *   camera + Opus) cost the Node process 11.7% of one core together over 10 s, i.e. about 6% per
 *   publisher including the forwarding to the decoders (ffmpeg's decoding is in its own processes).
 * - @roamhq/wrtc was installed and loaded on Node 20 (its prebuilt binary works here), but its API
 *   decides the matter without a CPU measurement of its own: it exposes no RTP, only decoded
 *   frames and PCM through its non-standard RTCVideoSink/RTCAudioSink, decoded inside the Node process at the published size,
 *   with no way to ask for a keyframe or a size. Every pixel would then cross into JavaScript at
 *   full size and be scaled there (more work than the forwarding above, though not measured); and it would
 *   tie the media plane to a native binary per platform.
 */
import { isIPv4 } from 'node:net';
import {
  RTCPeerConnection,
  RTCRtpCodecParameters,
  useAbsSendTime,
  useFIR,
  useNACK,
  usePLI,
  useREMB,
  useSdesMid,
  useTransportWideCC,
  useTWCC,
  type PeerConfig,
} from 'werift';
import { keepCandidates } from './sdp.js';

export { RTCPeerConnection } from 'werift';
export type { MediaStreamTrack, RTCRtpReceiver, RTCRtpTransceiver } from 'werift';

/** Payload types we offer in answers (the offer's numbers win when they match). */
export const OPUS_PT = 111;
export const VP8_PT = 96;
export const H264_PT = 102;

export function ingestCodecs(): NonNullable<PeerConfig['codecs']> {
  const videoFeedback = [useNACK(), usePLI(), useFIR(), useREMB(), useTWCC()];
  return {
    audio: [
      new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: OPUS_PT, rtcpFeedback: [useTWCC()] }),
    ],
    video: [
      new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000, payloadType: VP8_PT, rtcpFeedback: videoFeedback }),
      new RTCRtpCodecParameters({
        mimeType: 'video/H264',
        clockRate: 90000,
        payloadType: H264_PT,
        rtcpFeedback: videoFeedback,
        parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
      }),
    ],
  };
}

export interface IceHostConfig {
  /**
   * the address host candidates are gathered on and advertised with; undefined = every interface
   * (config.ts `mediaAddress` derives it from the configuration)
   */
  host: string | undefined;
  /** behind 1:1 NAT: the public address answers advertise in place of the local one(s) */
  publicIp?: string | undefined;
  /** STUN/TURN servers; none when absent (werift's own default would be a public STUN server) */
  iceServers?: readonly { urls: string | string[]; username?: string; credential?: string }[];
}

function isWildcard(address: string): boolean {
  return address === '0.0.0.0' || address === '::' || address === '[::]';
}

function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.');
}

/**
 * A peer connection configured for ingest: our codecs, TWCC, IPv4 host candidates on the media
 * host. `media` replaces the codecs and header extensions (subscriptions send other sets).
 */
export function createIngestPeer(
  ice: IceHostConfig,
  media: Pick<PeerConfig, 'codecs' | 'headerExtensions'> | undefined = undefined,
): RTCPeerConnection {
  const host = ice.host;
  const config: Partial<PeerConfig> = {
    codecs: ingestCodecs(),
    headerExtensions: {
      audio: [useSdesMid(), useAbsSendTime(), useTransportWideCC()],
      video: [useSdesMid(), useAbsSendTime(), useTransportWideCC()],
    },
    ...media,
    iceUseIpv4: true,
    iceUseIpv6: false,
    // Only configured servers: never werift's default public STUN server.
    iceServers: (ice.iceServers ?? []).map((s) => ({ ...s })),
  };
  if (host) {
    // Gather on the media host only: interface enumeration off, the host added explicitly. (With
    // enumeration on, werift also opens sockets for the other interfaces' addresses, which it
    // does not close with the connection.)
    config.iceUseIpv4 = false;
    config.iceAdditionalHostAddresses = [host];
    config.iceInterfaceAddresses = isIPv4(host) ? { udp4: host } : { udp6: host };
    config.iceFilterCandidatePair = (pair) =>
      pair.localCandidate.host === host && (!isLoopback(host) || isLoopback(pair.remoteCandidate.host));
  }
  return new RTCPeerConnection(config);
}

/**
 * The answer as sent to the publisher: only candidates on the media host are advertised (on every
 * interface: one per address served, as werift gathers them, never a wildcard address). Behind NAT, the public address stands in for the local one: with one media host
 * its candidates carry the public address instead; on every interface each IPv4 candidate gets a
 * public-address twin on the same port.
 */
export function advertisedAnswer(sdp: string, ice: IceHostConfig): string {
  const host = ice.host;
  const kept = host ? keepCandidates(sdp, (address) => address === host) : keepCandidates(sdp, (address) => !isWildcard(address));
  const publicIp = ice.publicIp;
  if (!publicIp) return kept;
  const eol = kept.includes('\r\n') ? '\r\n' : '\n';
  const out: string[] = [];
  for (const line of kept.split(/\r?\n/)) {
    const m = /^(a=candidate:\S+ \d+ \S+ \d+ )(\S+)( \d+ typ host.*)$/.exec(line);
    if (!m || !isIPv4(m[2]!) || isLoopback(m[2]!)) {
      out.push(line);
      continue;
    }
    if (host) out.push(`${m[1]}${publicIp}${m[3]}`);
    else out.push(line, `${m[1]!.replace(/^a=candidate:(\S+)/, 'a=candidate:$1n')}${publicIp}${m[3]}`);
  }
  return out.join(eol);
}

/** Resolves when ICE gathering completes (or after `timeoutMs`). */
export function waitForGathering(pc: RTCPeerConnection, timeoutMs = 5000): Promise<void> {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, timeoutMs);
    const sub = pc.iceGatheringStateChange.subscribe((state) => {
      if (state === 'complete') done();
    });
    function done() {
      clearTimeout(timer);
      sub.unSubscribe();
      resolve();
    }
  });
}

/**
 * Adds the remote candidates of a trickle-ICE SDP fragment (RFC 8840). Returns how many were
 * added, or -1 when candidate lines were present but none could be used.
 */
export async function addTrickleCandidates(pc: RTCPeerConnection, fragment: string): Promise<number> {
  let mid: string | undefined;
  let seen = 0,
    added = 0;
  for (const line of fragment.split(/\r?\n/)) {
    const m = /^a=mid:(\S+)$/.exec(line);
    if (m) {
      mid = m[1];
      continue;
    }
    if (!line.startsWith('a=candidate:')) continue;
    seen += 1;
    try {
      await pc.addIceCandidate({ candidate: line.slice(2), sdpMid: mid ?? '0', sdpMLineIndex: 0 });
      added += 1;
    } catch {
      /* an unusable candidate */
    }
  }
  return seen > 0 && added === 0 ? -1 : added;
}
