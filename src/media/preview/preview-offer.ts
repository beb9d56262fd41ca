/**
 * Which sections of a preview subscriber's WHEP offer carry the broadcast's picture and sound.
 * Pure.
 *
 * Video is the group's own H.264 (x264 High, no B-frames) as it is: any offered H.264 with
 * packetization-mode 1 is accepted whatever its profile-level-id, because browsers offer only
 * Baseline/Main ids (Debian's Chromium 156: 42001f, 42e01f, 4d001f, f4001f) while decoding High
 * streams with the same software decoder (measured: see README, "Previewing a broadcast").
 * Constrained Baseline ids are preferred (the most widely offered), then Main, then any.
 * Audio is Opus (the group's mixed sound, encoded for previews only).
 */
import type { RtpCodec } from '../rtp-process.js';
import { OfferError, type OfferedCodec } from '../sdp.js';
import { noCodecMatched, planSections, type SubscriptionPlan } from '../forwarding/subscription-offer.js';

/** The preview's video as the subscriber legs carry it (payload type: the source's, unused). */
export const PREVIEW_VIDEO_SOURCE: RtpCodec = { payloadType: 96, name: 'H264', clockRate: 90000, fmtp: 'packetization-mode=1' };
export const PREVIEW_AUDIO_SOURCE: RtpCodec = { payloadType: 111, name: 'opus', clockRate: 48000, channels: 2 };

function fmtpParams(fmtp: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (fmtp ?? '').split(';')) {
    const [k, v] = part.split('=');
    if (k?.trim()) out.set(k.trim().toLowerCase(), (v ?? '').trim().toLowerCase());
  }
  return out;
}

/** Rank of an offered H.264 codec for the preview (lower is better); undefined = unusable. */
export function h264Rank(codec: OfferedCodec): number | undefined {
  if (codec.name.toLowerCase() !== 'h264' || codec.clockRate !== 90000) return undefined;
  const p = fmtpParams(codec.fmtp);
  if ((p.get('packetization-mode') ?? '0') !== '1') return undefined;
  const id = p.get('profile-level-id') ?? '42001f';
  const asymmetry = p.get('level-asymmetry-allowed') === '1' ? 0 : 1;
  const profile = id.slice(0, 2);
  const constrained = id.slice(2, 4) === 'e0';
  const base = profile === '42' ? (constrained ? 0 : 1) : profile === '4d' ? 2 : 3;
  return base * 2 + asymmetry;
}

/**
 * The sections filled: the first video section with a usable H.264 and the first audio section
 * with Opus, both receiving. Throws OfferError (400) when the offer is not SDP or neither can be
 * filled.
 */
export function planPreview(offer: unknown): SubscriptionPlan {
  const { receiving: _receiving, ...plan } = planSections(offer, (s) => {
    if (s.kind === 'video') {
      let best: { codec: OfferedCodec; rank: number } | undefined;
      for (const c of s.codecs) {
        const rank = h264Rank(c);
        if (rank !== undefined && (!best || rank < best.rank)) best = { codec: c, rank };
      }
      return best ? { kind: 'video', codec: best.codec, source: PREVIEW_VIDEO_SOURCE } : 'no_matching_codec';
    }
    const codec = s.codecs.find((c) => c.name.toLowerCase() === 'opus' && c.clockRate === 48000);
    return codec ? { kind: 'audio', codec, source: PREVIEW_AUDIO_SOURCE } : 'no_matching_codec';
  });
  if (plan.accepted.length === 0) {
    if (!noCodecMatched(plan)) {
      throw new OfferError(
        400,
        'malformed_sdp',
        'the offer receives no audio or video (WHEP offers need recvonly audio and/or video sections)',
      );
    }
    throw new OfferError(
      400,
      'no_usable_codec',
      'the offer accepts neither of the preview codecs (video: H.264 with packetization-mode=1; audio: Opus)',
    );
  }
  return plan;
}
