/**
 * FLV serialisation: the file header and one tag (11-byte header, body, previous-tag size), as an
 * FLV file or pipe carries them. Pure.
 */
import type { FlvTag } from './tag.js';

const TAG_TYPE: Record<FlvTag['type'], number> = { audio: 8, video: 9, script: 18 };

/** The 9-byte FLV header (audio and video present) and the first PreviousTagSize (0). */
export function flvFileHeader(): Buffer {
  return Buffer.from([0x46, 0x4c, 0x56, 0x01, 0x05, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00]);
}

/** One tag at `timestamp` (ms, 32-bit: 24 bits plus the extended byte), followed by its PreviousTagSize. */
export function flvTagBytes(tag: FlvTag, timestamp: number): Buffer {
  const size = tag.data.length;
  if (size > 0xffffff) throw new RangeError(`FLV tag body too large (${size} bytes)`);
  const ts = Math.max(0, Math.floor(timestamp)) >>> 0;
  const out = Buffer.allocUnsafe(11 + size + 4);
  out[0] = TAG_TYPE[tag.type];
  out.writeUIntBE(size, 1, 3);
  out.writeUIntBE(ts & 0xffffff, 4, 3);
  out[7] = (ts >>> 24) & 0xff;
  out.writeUIntBE(0, 8, 3);
  tag.data.copy(out, 11);
  out.writeUInt32BE(11 + size, 11 + size);
  return out;
}
