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
  RTCPeerConnection, RTCRtpCodecParameters, useAbsSendTime, useFIR, useNACK, usePLI, useREMB, useSdesMid,
  useTransportWideCC, useTWCC, type PeerConfig,
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
    audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: OPUS_PT, rtcpFeedback: [useTWCC()] })],
    video: [
      new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000, payloadType: VP8_PT, rtcpFeedback: videoFeedback }),
      new RTCRtpCodecParameters({
        mimeType: 'video/H264', clockRate: 90000, payloadType: H264_PT, rtcpFeedback: videoFeedback,
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
}

function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.');
}

/** A peer connection configured for ingest: our codecs, TWCC, IPv4 host candidates on the media host. */
export function createIngestPeer(ice: IceHostConfig): RTCPeerConnection {
  const host = ice.host;
  const config: Partial<PeerConfig> = {
    codecs: ingestCodecs(),
    headerExtensions: {
      audio: [useSdesMid(), useAbsSendTime(), useTransportWideCC()],
      video: [useSdesMid(), useAbsSendTime(), useTransportWideCC()],
    },
    iceUseIpv4: true,
    iceUseIpv6: false,
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

/** The answer as sent to the publisher: only candidates on the media host are advertised. */
export function advertisedAnswer(sdp: string, ice: IceHostConfig): string {
  const host = ice.host;
  return host ? keepCandidates(sdp, (address) => address === host) : sdp;
}

/** Resolves when ICE gathering completes (or after `timeoutMs`). */
export function waitForGathering(pc: RTCPeerConnection, timeoutMs = 5000): Promise<void> {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, timeoutMs);
    const sub = pc.iceGatheringStateChange.subscribe((state) => { if (state === 'complete') done(); });
    function done() {
      clearTimeout(timer);
      sub.unSubscribe();
      resolve();
    }
  });
}
