/**
 * The published picture size, read from RTP payloads without decoding (pure): VP8 key frame
 * headers (RFC 6386 §9.1, RTP payload RFC 7741) and H.264 sequence parameter sets (RFC 6184).
 */

export interface VideoSize {
  width: number;
  height: number;
}

/** Size from a VP8 RTP payload that starts a key frame; null otherwise. */
export function vp8KeyframeSize(payload: Buffer): VideoSize | null {
  if (payload.length < 1) return null;
  const b0 = payload[0]!;
  const start = (b0 & 0x10) !== 0;
  const pid = b0 & 0x07;
  if (!start || pid !== 0) return null;
  let i = 1;
  if (b0 & 0x80) {
    if (payload.length < 2) return null;
    const x = payload[1]!;
    i = 2;
    if (x & 0x80) {
      // PictureID
      if (payload.length <= i) return null;
      i += payload[i]! & 0x80 ? 2 : 1;
    }
    if (x & 0x40) i += 1; // TL0PICIDX
    if (x & 0x30) i += 1; // TID/KEYIDX
  }
  const h = payload.subarray(i);
  if (h.length < 10) return null;
  if ((h[0]! & 0x01) !== 0) return null; // inter frame
  if (h[3] !== 0x9d || h[4] !== 0x01 || h[5] !== 0x2a) return null;
  const width = h.readUInt16LE(6) & 0x3fff;
  const height = h.readUInt16LE(8) & 0x3fff;
  return width > 0 && height > 0 ? { width, height } : null;
}

class BitReader {
  private pos = 0;
  constructor(private readonly data: Buffer) {}
  bit(): number {
    if (this.pos >= this.data.length * 8) throw new Error('end of data');
    const v = (this.data[this.pos >> 3]! >> (7 - (this.pos & 7))) & 1;
    this.pos += 1;
    return v;
  }
  bits(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 2 + this.bit();
    return v;
  }
  ue(): number {
    let zeros = 0;
    while (this.bit() === 0) {
      zeros += 1;
      if (zeros > 31) throw new Error('bad exp-golomb');
    }
    return 2 ** zeros - 1 + this.bits(zeros);
  }
  se(): number {
    const k = this.ue();
    return k % 2 === 1 ? (k + 1) / 2 : -(k / 2);
  }
}

function unescapeRbsp(nal: Buffer): Buffer {
  const out: number[] = [];
  for (let i = 0; i < nal.length; i++) {
    if (
      i >= 2 &&
      nal[i] === 3 &&
      nal[i - 1] === 0 &&
      nal[i - 2] === 0 &&
      out.length >= 2 &&
      out[out.length - 1] === 0 &&
      out[out.length - 2] === 0
    )
      continue;
    out.push(nal[i]!);
  }
  return Buffer.from(out);
}

function skipScalingList(r: BitReader, size: number): void {
  let last = 8,
    next = 8;
  for (let j = 0; j < size; j++) {
    if (next !== 0) next = (last + r.se() + 256) % 256;
    last = next === 0 ? last : next;
  }
}

/** Picture size from an H.264 SPS NAL unit (including its 1-byte header); null if unreadable. */
export function h264SpsSize(nal: Buffer): VideoSize | null {
  if (nal.length < 4 || (nal[0]! & 0x1f) !== 7) return null;
  try {
    const r = new BitReader(unescapeRbsp(nal.subarray(1)));
    const profile = r.bits(8);
    r.bits(16); // constraint flags, level
    r.ue(); // sps id
    let chromaFormat = 1;
    let separateColourPlane = 0;
    if ([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135].includes(profile)) {
      chromaFormat = r.ue();
      if (chromaFormat === 3) separateColourPlane = r.bit();
      r.ue();
      r.ue();
      r.bit();
      if (r.bit()) {
        for (let i = 0; i < (chromaFormat !== 3 ? 8 : 12); i++) if (r.bit()) skipScalingList(r, i < 6 ? 16 : 64);
      }
    }
    r.ue(); // log2_max_frame_num
    const pocType = r.ue();
    if (pocType === 0) r.ue();
    else if (pocType === 1) {
      r.bit();
      r.se();
      r.se();
      const n = r.ue();
      for (let i = 0; i < n; i++) r.se();
    }
    r.ue();
    r.bit(); // max_num_ref_frames, gaps
    const wMbs = r.ue() + 1;
    const hMapUnits = r.ue() + 1;
    const frameMbsOnly = r.bit();
    if (!frameMbsOnly) r.bit();
    r.bit(); // direct_8x8_inference
    let cl = 0,
      cr = 0,
      ct = 0,
      cb = 0;
    if (r.bit()) {
      cl = r.ue();
      cr = r.ue();
      ct = r.ue();
      cb = r.ue();
    }
    const arrayType = separateColourPlane ? 0 : chromaFormat;
    const cropUnitX = arrayType === 0 ? 1 : arrayType === 3 ? 1 : 2;
    const cropUnitY = (arrayType === 0 ? 1 : arrayType === 1 ? 2 : 1) * (2 - frameMbsOnly);
    const width = wMbs * 16 - cropUnitX * (cl + cr);
    const height = (2 - frameMbsOnly) * hMapUnits * 16 - cropUnitY * (ct + cb);
    return width > 0 && height > 0 ? { width, height } : null;
  } catch {
    return null;
  }
}

/** Size from an H.264 RTP payload carrying an SPS (single NAL or STAP-A); null otherwise. */
export function h264PayloadSize(payload: Buffer): VideoSize | null {
  if (payload.length < 1) return null;
  const type = payload[0]! & 0x1f;
  if (type === 7) return h264SpsSize(payload);
  if (type === 24) {
    let i = 1;
    while (i + 2 <= payload.length) {
      const len = payload.readUInt16BE(i);
      i += 2;
      if (len === 0 || i + len > payload.length) break;
      const nal = payload.subarray(i, i + len);
      if ((nal[0]! & 0x1f) === 7) return h264SpsSize(nal);
      i += len;
    }
  }
  return null;
}
