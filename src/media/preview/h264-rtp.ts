/**
 * H.264 from FLV video tags to RTP payloads (RFC 6184, packetization-mode 1): the AVC decoder
 * configuration record of the sequence header gives the SPS/PPS and the NAL length size; each
 * frame's AVCC NAL units become single-NAL packets or FU-A fragments, with the SPS and PPS sent
 * before every keyframe so a receiver can start at any keyframe. Pure.
 */

/** Largest RTP payload produced (fits a 1280-byte path MTU with SRTP and headers). */
export const H264_MAX_PAYLOAD = 1180;

/** NAL unit types (ITU-T H.264 table 7-1) this module looks at. */
const NAL_IDR = 5;
const NAL_SPS = 7;
const NAL_PPS = 8;
const NAL_AUD = 9;
const FU_A = 28;

export interface AvcConfig {
  /** bytes of each NAL length prefix in frames (1, 2 or 4) */
  lengthSize: number;
  sps: Buffer[];
  pps: Buffer[];
  /** profile_idc, constraint flags and level_idc of the first SPS, as a profile-level-id (hex) */
  profileLevelId: string;
}

export interface RtpPayload {
  payload: Buffer;
  /** last packet of the access unit */
  marker: boolean;
}

/** FLV AVC video tag: frame type/codec id, AVCPacketType, 24-bit composition time. */
const FLV_AVC_HEADER = 5;

/** Parses the AVCDecoderConfigurationRecord of an FLV AVC sequence header tag body. */
export function parseAvcSequenceHeader(data: Buffer): AvcConfig {
  if (data.length < FLV_AVC_HEADER + 7 || (data[0]! & 0x0f) !== 7 || data[1] !== 0) {
    throw new Error('not an FLV AVC sequence header');
  }
  const r = data.subarray(FLV_AVC_HEADER);
  const lengthSize = (r[4]! & 0x03) + 1;
  let off = 5;
  const sps: Buffer[] = [];
  const pps: Buffer[] = [];
  const spsCount = r[off++]! & 0x1f;
  for (let i = 0; i < spsCount; i++) {
    if (off + 2 > r.length) throw new Error('truncated AVC configuration (SPS)');
    const len = r.readUInt16BE(off);
    off += 2;
    if (off + len > r.length) throw new Error('truncated AVC configuration (SPS)');
    sps.push(Buffer.from(r.subarray(off, off + len)));
    off += len;
  }
  if (off >= r.length) throw new Error('truncated AVC configuration (PPS count)');
  const ppsCount = r[off++]!;
  for (let i = 0; i < ppsCount; i++) {
    if (off + 2 > r.length) throw new Error('truncated AVC configuration (PPS)');
    const len = r.readUInt16BE(off);
    off += 2;
    if (off + len > r.length) throw new Error('truncated AVC configuration (PPS)');
    pps.push(Buffer.from(r.subarray(off, off + len)));
    off += len;
  }
  if (sps.length === 0) throw new Error('AVC configuration without an SPS');
  const s = sps[0]!;
  const profileLevelId = s.length >= 4 ? s.subarray(1, 4).toString('hex') : `${r.subarray(1, 4).toString('hex')}`;
  return { lengthSize, sps, pps, profileLevelId };
}

/** The NAL units of an FLV AVC frame tag body (AVCPacketType 1), without their length prefixes. */
export function avccNalUnits(data: Buffer, lengthSize: number): Buffer[] {
  if (data.length < FLV_AVC_HEADER || data[1] !== 1) return [];
  const out: Buffer[] = [];
  let off = FLV_AVC_HEADER;
  while (off + lengthSize <= data.length) {
    let len = 0;
    for (let i = 0; i < lengthSize; i++) len = len * 256 + data[off + i]!;
    off += lengthSize;
    if (len === 0) continue;
    if (off + len > data.length) throw new Error('truncated AVC NAL unit');
    out.push(data.subarray(off, off + len));
    off += len;
  }
  return out;
}

/** Composition time offset (ms) of an FLV AVC tag body: 0 without B-frames. */
export function compositionTimeMs(data: Buffer): number {
  if (data.length < FLV_AVC_HEADER) return 0;
  const v = (data[2]! << 16) | (data[3]! << 8) | data[4]!;
  return v & 0x800000 ? v - 0x1000000 : v;
}

/** Whether the NAL units hold an IDR slice. */
export function hasIdr(nals: readonly Buffer[]): boolean {
  return nals.some((n) => (n[0]! & 0x1f) === NAL_IDR);
}

/**
 * The RTP payloads of one access unit: SPS and PPS first when `withParameterSets` (keyframes),
 * access unit delimiters and in-band parameter sets dropped (the configuration's are sent), each
 * NAL unit as one packet when it fits, else as FU-A fragments; the marker on the last one.
 */
export function packetizeAccessUnit(
  nals: readonly Buffer[],
  config: AvcConfig | undefined,
  withParameterSets: boolean,
  maxPayload = H264_MAX_PAYLOAD,
): RtpPayload[] {
  const units: Buffer[] = [];
  if (withParameterSets && config) units.push(...config.sps, ...config.pps);
  for (const n of nals) {
    const type = n[0]! & 0x1f;
    if (type === NAL_AUD) continue;
    if (config && (type === NAL_SPS || type === NAL_PPS)) continue;
    units.push(n);
  }
  const out: RtpPayload[] = [];
  for (const n of units) {
    if (n.length <= maxPayload) {
      out.push({ payload: n, marker: false });
      continue;
    }
    const indicator = (n[0]! & 0xe0) | FU_A;
    const type = n[0]! & 0x1f;
    const body = n.subarray(1);
    const chunk = maxPayload - 2;
    for (let off = 0; off < body.length; off += chunk) {
      const end = Math.min(body.length, off + chunk);
      const start = off === 0;
      const last = end === body.length;
      const header = (start ? 0x80 : 0) | (last ? 0x40 : 0) | type;
      out.push({ payload: Buffer.concat([Buffer.from([indicator, header]), body.subarray(off, end)]), marker: false });
    }
  }
  if (out.length > 0) out[out.length - 1]!.marker = true;
  return out;
}
