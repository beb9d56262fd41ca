/**
 * Pure checks and edits of WHIP offers (SDP, RFC 8866) before they reach the WebRTC stack.
 * Only what ingest needs: the media sections, their kinds, codecs and directions.
 */

export type MediaKind = 'audio' | 'video';

/** Codecs the ingest decodes, by kind (lower-case encoding names). */
export const SUPPORTED_CODECS: Record<MediaKind, readonly string[]> = {
  audio: ['opus'],
  video: ['vp8', 'h264'],
};

export interface OfferedCodec {
  payloadType: number;
  name: string;
  clockRate: number;
  channels?: number;
  fmtp?: string;
}

export interface OfferedSection {
  index: number;
  kind: string;
  mid?: string;
  direction: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
  /** the m-line's port: 0 refuses the section, unless it is bundle-only */
  port: number;
  /** `a=bundle-only` (RFC 8843): port 0 because it shares the BUNDLE transport */
  bundleOnly: boolean;
  codecs: OfferedCodec[];
  /** the codecs of this section that the ingest can decode */
  usableCodecs: OfferedCodec[];
}

export interface OfferSummary {
  sections: OfferedSection[];
}

/** A reason to refuse an offer, with the HTTP status it maps to. */
export class OfferError extends Error {
  constructor(
    readonly status: 400 | 403 | 406 | 429,
    readonly code: 'malformed_sdp' | 'no_usable_codec' | 'forbidden' | 'too_many_sessions' | 'call_full',
    message: string,
  ) {
    super(message);
    this.name = 'OfferError';
  }
}

const MAX_SDP_BYTES = 64 * 1024;

function splitLines(sdp: string): string[] {
  return sdp.split(/\r?\n/).filter((l) => l.length > 0);
}

/** Parses and validates an offer. Throws OfferError (400) when it is not a usable SDP offer. */
export function inspectOffer(sdp: unknown): OfferSummary {
  if (typeof sdp !== 'string' || sdp.trim() === '')
    throw new OfferError(400, 'malformed_sdp', 'the request body must be an SDP offer (application/sdp)');
  if (Buffer.byteLength(sdp) > MAX_SDP_BYTES)
    throw new OfferError(400, 'malformed_sdp', `the SDP offer is larger than ${MAX_SDP_BYTES} bytes`);
  const lines = splitLines(sdp);
  if (lines[0] !== 'v=0') throw new OfferError(400, 'malformed_sdp', 'the SDP offer must start with "v=0"');
  for (const [i, line] of lines.entries()) {
    if (!/^[a-z]=/.test(line)) throw new OfferError(400, 'malformed_sdp', `SDP line ${i + 1} is not of the form "<type>=<value>"`);
  }
  if (!lines.some((l) => l.startsWith('o='))) throw new OfferError(400, 'malformed_sdp', 'the SDP offer has no origin ("o=") line');
  const sections: OfferedSection[] = [];
  let current: (OfferedSection & { fmts: number[]; fmtp: Map<number, string>; sessionDirection?: undefined }) | undefined;
  let sessionDirection: OfferedSection['direction'] = 'sendrecv';
  const finish = () => {
    if (!current) return;
    const { fmts, fmtp } = current;
    current.codecs = current.codecs
      .filter((c) => fmts.includes(c.payloadType))
      .map((c) => ({ ...c, ...(fmtp.has(c.payloadType) ? { fmtp: fmtp.get(c.payloadType)! } : {}) }));
    const supported = SUPPORTED_CODECS[current.kind as MediaKind] ?? [];
    current.usableCodecs = current.codecs.filter((c) => supported.includes(c.name.toLowerCase()));
    const { fmts: _f, fmtp: _p, sessionDirection: _s, ...section } = current;
    sections.push(section);
  };
  for (const line of lines) {
    if (line.startsWith('m=')) {
      finish();
      const m = /^m=(\S+) (\d+)(?:\/\d+)? (\S+)((?: \S+)*)$/.exec(line);
      if (!m) throw new OfferError(400, 'malformed_sdp', `malformed media line "${line.slice(0, 80)}"`);
      const fmts = m[4]!.trim().split(' ').filter(Boolean).map(Number);
      current = {
        index: sections.length,
        kind: m[1]!,
        direction: sessionDirection,
        port: Number(m[2]),
        bundleOnly: false,
        codecs: [],
        usableCodecs: [],
        fmts,
        fmtp: new Map(),
      };
      continue;
    }
    if (line === 'a=bundle-only') {
      if (current) current.bundleOnly = true;
      continue;
    }
    const dir = /^a=(sendrecv|sendonly|recvonly|inactive)$/.exec(line);
    if (dir) {
      if (current) current.direction = dir[1] as OfferedSection['direction'];
      else sessionDirection = dir[1] as OfferedSection['direction'];
      continue;
    }
    if (!current) continue;
    let a = /^a=mid:(\S+)$/.exec(line);
    if (a) {
      current.mid = a[1]!;
      continue;
    }
    a = /^a=rtpmap:(\d+) ([^/\s]+)\/(\d+)(?:\/(\d+))?$/.exec(line);
    if (a) {
      current.codecs.push({ payloadType: Number(a[1]), name: a[2]!, clockRate: Number(a[3]), ...(a[4] ? { channels: Number(a[4]) } : {}) });
      continue;
    }
    a = /^a=fmtp:(\d+) (.*)$/.exec(line);
    if (a) current.fmtp.set(Number(a[1]), a[2]!);
  }
  finish();
  if (sections.length === 0) throw new OfferError(400, 'malformed_sdp', 'the SDP offer has no media sections');
  if (!lines.some((l) => l.startsWith('a=ice-ufrag:')))
    throw new OfferError(400, 'malformed_sdp', 'the SDP offer has no ICE credentials ("a=ice-ufrag")');
  if (!lines.some((l) => l.startsWith('a=fingerprint:')))
    throw new OfferError(400, 'malformed_sdp', 'the SDP offer has no DTLS fingerprint ("a=fingerprint")');
  return { sections };
}

/** Whether the publisher would send media in this section. */
export function isSending(section: OfferedSection): boolean {
  return section.direction === 'sendonly' || section.direction === 'sendrecv';
}

export interface Grants {
  canSendAudio: boolean;
  canSendVideo: boolean;
}

export interface OfferPlan {
  /** sections accepted for ingest */
  accepted: OfferedSection[];
  /** sections refused, with why */
  refused: { section: OfferedSection; reason: RefusalReason }[];
}

/**
 * Why a section is refused: `disabled` = the offerer set its port to 0 (and it is not
 * bundle-only); `not_received` = the WebRTC stack raised no track for it, so the answer refuses it.
 */
export type RefusalReason = 'not_permitted' | 'no_usable_codec' | 'unsupported_kind' | 'not_sending' | 'disabled' | 'not_received';

/**
 * Decides which sections to take. Throws 403 when the publisher may send none of the kinds it
 * offers, 406 when nothing offered can be decoded.
 */
export function planOffer(summary: OfferSummary, grants: Grants): OfferPlan {
  const plan: OfferPlan = { accepted: [], refused: [] };
  for (const s of summary.sections) {
    if (s.kind !== 'audio' && s.kind !== 'video') plan.refused.push({ section: s, reason: 'unsupported_kind' });
    else if (s.port === 0 && !s.bundleOnly) plan.refused.push({ section: s, reason: 'disabled' });
    else if (!isSending(s)) plan.refused.push({ section: s, reason: 'not_sending' });
    else if ((s.kind === 'audio' && !grants.canSendAudio) || (s.kind === 'video' && !grants.canSendVideo))
      plan.refused.push({ section: s, reason: 'not_permitted' });
    else if (s.usableCodecs.length === 0) plan.refused.push({ section: s, reason: 'no_usable_codec' });
    else plan.accepted.push(s);
  }
  if (plan.accepted.length === 0) {
    if (plan.refused.some((r) => r.reason === 'not_permitted')) {
      const kinds = [...new Set(plan.refused.filter((r) => r.reason === 'not_permitted').map((r) => r.section.kind))];
      throw new OfferError(403, 'forbidden', `the user is not allowed to send ${kinds.join(' or ')} in this call`);
    }
    if (plan.refused.some((r) => r.reason === 'no_usable_codec')) {
      const offered = [...new Set(summary.sections.flatMap((s) => s.codecs.map((c) => c.name)))];
      throw new OfferError(
        406,
        'no_usable_codec',
        `no usable codec offered (supported: opus audio, VP8 or H264 video; offered: ${offered.join(', ') || 'none'})`,
      );
    }
    throw new OfferError(400, 'malformed_sdp', 'the SDP offer sends no audio or video');
  }
  return plan;
}

/**
 * Marks the listed media sections (by index) inactive, so the answer refuses to receive them
 * while keeping the BUNDLE group intact.
 */
export function deactivateSections(sdp: string, indices: ReadonlySet<number>): string {
  if (indices.size === 0) return sdp;
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  const out: string[] = [];
  let section = -1;
  for (const line of sdp.split(/\r?\n/)) {
    if (line.startsWith('m=')) {
      section += 1;
      out.push(line);
      if (indices.has(section)) out.push('a=inactive');
      continue;
    }
    if (section >= 0 && indices.has(section) && /^a=(sendrecv|sendonly|recvonly|inactive)$/.test(line)) continue;
    out.push(line);
  }
  return out.join(eol);
}

/** The mids of the offer's BUNDLE groups. */
function bundledMids(lines: readonly string[]): Set<string> {
  const mids = new Set<string>();
  for (const line of lines) {
    const m = /^a=group:BUNDLE((?: \S+)*)$/.exec(line);
    if (m) for (const mid of m[1]!.trim().split(' ').filter(Boolean)) mids.add(mid);
  }
  return mids;
}

/**
 * Gives the bundle-only sections of an offer (RFC 8843: port 0 with `a=bundle-only`, in a BUNDLE
 * group, as GStreamer's webrtcbin offers with max-bundle) the discard port 9, as a JSEP offerer
 * that does not use bundle-only would: WebRTC stacks that only look at the port (werift raises no
 * track for a port-0 section) then take them as the live sections they are.
 */
export function acceptBundleOnly(sdp: string): string {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  const lines = sdp.split(/\r?\n/);
  const bundled = bundledMids(lines);
  // Find the sections (by m-line index) that are bundle-only and bundled.
  const starts: number[] = [];
  lines.forEach((l, i) => {
    if (l.startsWith('m=')) starts.push(i);
  });
  for (const [n, start] of starts.entries()) {
    const end = starts[n + 1] ?? lines.length;
    const body = lines.slice(start + 1, end);
    const mid = body.map((l) => /^a=mid:(\S+)$/.exec(l)?.[1]).find((m) => m !== undefined);
    if (!body.includes('a=bundle-only') || mid === undefined || !bundled.has(mid)) continue;
    lines[start] = lines[start]!.replace(/^(m=\S+) 0(\/\d+)? /, '$1 9 ');
  }
  return lines.join(eol);
}

/**
 * Refuses the sections with these mids in an answer: port 0, inactive, and out of the BUNDLE
 * group (RFC 8843 §7.3.3), so the publisher knows they are not received.
 */
export function refuseAnswerSections(sdp: string, mids: ReadonlySet<string>): string {
  if (mids.size === 0) return sdp;
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  const lines = sdp.split(/\r?\n/);
  const starts: number[] = [];
  lines.forEach((l, i) => {
    if (l.startsWith('m=')) starts.push(i);
  });
  const drop = new Set<number>();
  for (const [n, start] of starts.entries()) {
    const end = starts[n + 1] ?? lines.length;
    const mid = lines
      .slice(start + 1, end)
      .map((l) => /^a=mid:(\S+)$/.exec(l)?.[1])
      .find((m) => m !== undefined);
    if (mid === undefined || !mids.has(mid)) continue;
    lines[start] = lines[start]!.replace(/^(m=\S+) \d+/, '$1 0');
    for (let i = start + 1; i < end; i++) {
      if (/^a=(sendrecv|sendonly|recvonly|inactive)$/.test(lines[i]!)) lines[i] = 'a=inactive';
      else if (/^a=(candidate:|end-of-candidates)/.test(lines[i]!)) drop.add(i);
    }
  }
  const out = lines
    .filter((_l, i) => !drop.has(i))
    .map((l) => {
      const g = /^a=group:BUNDLE((?: \S+)*)$/.exec(l);
      if (!g) return l;
      const kept = g[1]!
        .trim()
        .split(' ')
        .filter((m) => m && !mids.has(m));
      return kept.length > 0 ? `a=group:BUNDLE ${kept.join(' ')}` : undefined;
    })
    .filter((l): l is string => l !== undefined);
  return out.join(eol);
}

/** Removes candidate lines whose address is not in `keep` (used to advertise only the media host). */
export function keepCandidates(sdp: string, keep: (address: string) => boolean): string {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  return sdp
    .split(/\r?\n/)
    .filter((line) => {
      const m = /^a=candidate:\S+ \d+ \S+ \d+ (\S+) \d+/.exec(line);
      return !m || keep(m[1]!);
    })
    .join(eol);
}

/** The two-line description ffmpeg needs to read one RTP stream from a local UDP port. */
export function ffmpegRtpSdp(
  kind: MediaKind,
  port: number,
  codec: { payloadType: number; name: string; clockRate: number; channels?: number; fmtp?: string },
): string {
  const name = codec.name.toLowerCase() === 'opus' ? 'opus' : codec.name.toUpperCase();
  const rtpmap = `a=rtpmap:${codec.payloadType} ${name}/${codec.clockRate}${kind === 'audio' ? `/${codec.channels ?? 2}` : ''}`;
  return [
    'v=0',
    'o=- 0 0 IN IP4 127.0.0.1',
    's=callcast track',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=${kind} ${port} RTP/AVP ${codec.payloadType}`,
    rtpmap,
    ...(codec.fmtp ? [`a=fmtp:${codec.payloadType} ${codec.fmtp}`] : []),
    '',
  ].join('\n');
}
