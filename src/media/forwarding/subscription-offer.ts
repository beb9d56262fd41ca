/**
 * Pure checks and edits of WHEP offers (draft-ietf-wish-whep): which recvonly sections a
 * subscription can fill with the publisher's tracks, with which of the offered payload types, and
 * the offer narrowed to exactly those codecs before it reaches the WebRTC stack.
 */
import type { RtpCodec } from '../rtp-process.js';
import { inspectOffer, OfferError, type MediaKind, type OfferedCodec, type OfferedSection } from '../sdp.js';

/** One published track as a subscription may receive it. */
export interface PublishedTrackCodecs {
  kind: MediaKind;
  /** the codec in use (first), else the ones negotiated with the publisher */
  codecs: RtpCodec[];
}

export interface SubscriptionSection {
  section: OfferedSection;
  kind: MediaKind;
  /** the subscriber's payload type and parameters for the publisher's codec */
  codec: OfferedCodec;
  /** the publisher's codec it carries */
  source: RtpCodec;
}

export interface SubscriptionPlan {
  accepted: SubscriptionSection[];
  refused: {
    section: OfferedSection;
    reason: 'not_receiving' | 'not_published' | 'no_matching_codec' | 'unsupported_kind' | 'duplicate_kind';
  }[];
}

/** What fills one receiving section: what it carries, or why nothing can. */
export type SectionFill = Omit<SubscriptionSection, 'section'> | 'not_published' | 'no_matching_codec';

/**
 * Walks a WHEP offer's sections: the first receiving audio and video section each goes to `fill`;
 * other kinds, later sections of a kind and sections that do not receive are refused. `receiving`
 * counts the offer's audio and video sections that receive (filled, refused or duplicate). Throws
 * OfferError (400) when the offer is not SDP.
 */
export function planSections(
  offer: unknown,
  fill: (section: OfferedSection & { kind: MediaKind }) => SectionFill,
): SubscriptionPlan & { receiving: number } {
  const summary = inspectOffer(offer);
  const plan: SubscriptionPlan & { receiving: number } = { accepted: [], refused: [], receiving: 0 };
  const seen = new Set<string>();
  for (const s of summary.sections) {
    if ((s.kind === 'audio' || s.kind === 'video') && (s.direction === 'recvonly' || s.direction === 'sendrecv')) plan.receiving += 1;
    if (s.kind !== 'audio' && s.kind !== 'video') {
      plan.refused.push({ section: s, reason: 'unsupported_kind' });
      continue;
    }
    if (seen.has(s.kind)) {
      plan.refused.push({ section: s, reason: 'duplicate_kind' });
      continue;
    }
    seen.add(s.kind);
    if (s.direction !== 'recvonly' && s.direction !== 'sendrecv') {
      plan.refused.push({ section: s, reason: 'not_receiving' });
      continue;
    }
    const filled = fill(s as OfferedSection & { kind: MediaKind });
    if (typeof filled === 'string') plan.refused.push({ section: s, reason: filled });
    else plan.accepted.push({ section: s, ...filled });
  }
  return plan;
}

/** Whether any section of the plan was refused because none of its codecs matched. */
export function noCodecMatched(plan: SubscriptionPlan): boolean {
  return plan.refused.some((r) => r.reason === 'no_matching_codec');
}

function fmtpParams(fmtp: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (fmtp ?? '').split(';')) {
    const [k, v] = part.split('=');
    if (k?.trim()) out.set(k.trim().toLowerCase(), (v ?? '').trim().toLowerCase());
  }
  return out;
}

/**
 * Whether the subscriber's codec can carry the publisher's packets as they are: same encoding and
 * clock rate; for H.264 also the same packetization mode and profile (profile_idc).
 */
export function codecsCompatible(offered: OfferedCodec, source: RtpCodec): boolean {
  const name = source.name.toLowerCase();
  if (offered.name.toLowerCase() !== name || offered.clockRate !== source.clockRate) return false;
  if (name === 'h264') {
    const a = fmtpParams(offered.fmtp),
      b = fmtpParams(source.fmtp);
    if ((a.get('packetization-mode') ?? '0') !== (b.get('packetization-mode') ?? '0')) return false;
    const pa = a.get('profile-level-id'),
      pb = b.get('profile-level-id');
    if (pa && pb && pa.slice(0, 2) !== pb.slice(0, 2)) return false;
  }
  return true;
}

/**
 * Decides what a subscription carries. The first section of each kind is the one filled (a later
 * one of the same kind is refused). Throws OfferError (400) when the offer is not SDP or no
 * section can carry anything the participant publishes.
 */
export function planSubscription(offer: unknown, published: readonly PublishedTrackCodecs[]): SubscriptionPlan {
  const { receiving, ...plan } = planSections(offer, (s) => {
    const track = published.find((t) => t.kind === s.kind);
    if (!track || track.codecs.length === 0) return 'not_published';
    for (const source of track.codecs) {
      const codec = s.codecs.find((c) => codecsCompatible(c, source));
      if (codec) return { kind: s.kind, codec, source };
    }
    return 'no_matching_codec';
  });
  if (plan.accepted.length === 0) {
    if (receiving === 0)
      throw new OfferError(
        400,
        'malformed_sdp',
        'the offer receives no audio or video (WHEP offers need recvonly audio and/or video sections)',
      );
    const sent = published.map((t) => `${t.kind} ${t.codecs.map((c) => c.name).join('/')}`).join(', ') || 'nothing yet';
    if (noCodecMatched(plan)) {
      throw new OfferError(400, 'no_usable_codec', `the offer accepts none of the codecs the participant sends (${sent})`);
    }
    throw new OfferError(400, 'no_usable_codec', `the participant publishes none of the kinds offered (it publishes ${sent})`);
  }
  return plan;
}

/**
 * The offer with each accepted section narrowed to its one payload type (other codecs, their RTX
 * and feedback lines removed) and every refused section made inactive.
 */
export function narrowOffer(sdp: string, plan: SubscriptionPlan): string {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  const keep = new Map(plan.accepted.map((a) => [a.section.index, a.codec.payloadType]));
  const refused = new Set(plan.refused.map((r) => r.section.index));
  const out: string[] = [];
  let index = -1;
  for (const line of sdp.split(/\r?\n/)) {
    if (line.startsWith('m=')) {
      index += 1;
      const pt = keep.get(index);
      if (pt !== undefined) {
        const parts = line.split(' ');
        out.push([...parts.slice(0, 3), String(pt)].join(' '));
      } else {
        out.push(line);
        if (refused.has(index)) out.push('a=inactive');
      }
      continue;
    }
    if (index >= 0 && refused.has(index) && /^a=(sendrecv|sendonly|recvonly|inactive)$/.test(line)) continue;
    const pt = keep.get(index);
    if (pt !== undefined) {
      const m = /^a=(?:rtpmap|fmtp|rtcp-fb):(\d+|\*)[ ]/.exec(line);
      if (m && m[1] !== '*' && Number(m[1]) !== pt) continue;
    }
    out.push(line);
  }
  return out.join(eol);
}
