/**
 * Incremental FLV demuxer: the FLV header, then tags, from chunks split at arbitrary points.
 * Pure; bounded (tag size) and throws FlvError on malformed input.
 */

export interface FlvTag {
  type: 'audio' | 'video' | 'script';
  /** Milliseconds (32-bit, from the tag's timestamp and extended timestamp bytes). */
  timestamp: number;
  /** The tag body (without the 11-byte tag header). */
  data: Buffer;
  /** Video: a key frame (frame type 1). Audio and script: false. */
  keyframe: boolean;
  /** AVC/HEVC decoder configuration (video) or AAC AudioSpecificConfig (audio). */
  sequenceHeader: boolean;
}

export class FlvError extends Error {
  override readonly name = 'FlvError';
}

export interface FlvDemuxerOptions {
  /** Largest tag body accepted, bytes. Default 8 MiB. */
  maxTagSize?: number;
}

const TAG_TYPES: Record<number, FlvTag['type']> = { 8: 'audio', 9: 'video', 18: 'script' };
const HEADER_MIN = 9;

export function isKeyframe(type: FlvTag['type'], data: Buffer): boolean {
  return type === 'video' && data.length > 0 && data[0]! >> 4 === 1;
}

export function isSequenceHeader(type: FlvTag['type'], data: Buffer): boolean {
  if (type === 'video') {
    if (data.length < 2) return false;
    const codec = data[0]! & 0x0f;
    // AVC (7) and HEVC (12, common FLV extension): packet type 0 = sequence header.
    return (codec === 7 || codec === 12) && data[1] === 0;
  }
  if (type === 'audio') {
    // AAC (sound format 10): packet type 0 = AudioSpecificConfig.
    return data.length >= 2 && data[0]! >> 4 === 10 && data[1] === 0;
  }
  return false;
}

export class FlvDemuxer {
  private buf: Buffer = Buffer.alloc(0);
  private headerDone = false;
  private readonly maxTagSize: number;

  constructor(opts: FlvDemuxerOptions = {}) {
    this.maxTagSize = opts.maxTagSize ?? 8 * 1024 * 1024;
  }

  /** Feeds bytes; returns the tags completed by them. */
  push(chunk: Buffer): FlvTag[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    let pos = 0;
    const tags: FlvTag[] = [];
    if (!this.headerDone) {
      if (this.buf.length >= 3 && this.buf.toString('latin1', 0, 3) !== 'FLV') throw new FlvError('not an FLV stream (bad signature)');
      if (this.buf.length < HEADER_MIN + 4) return tags;
      if (this.buf[3] !== 1) throw new FlvError(`unsupported FLV version ${this.buf[3]}`);
      const dataOffset = this.buf.readUInt32BE(5);
      if (dataOffset < HEADER_MIN || dataOffset > 1024) throw new FlvError(`invalid FLV header size ${dataOffset}`);
      if (this.buf.length < dataOffset + 4) return tags;
      pos = dataOffset + 4; // header + PreviousTagSize0
      this.headerDone = true;
    }
    for (;;) {
      if (this.buf.length - pos < 11) break;
      const typeByte = this.buf[pos]!;
      if (typeByte & 0x20) throw new FlvError('encrypted FLV tags are not supported');
      const type = TAG_TYPES[typeByte & 0x1f];
      if (!type) throw new FlvError(`invalid FLV tag type ${typeByte & 0x1f} at stream offset`);
      const size = this.buf.readUIntBE(pos + 1, 3);
      if (size > this.maxTagSize) throw new FlvError(`FLV tag of ${size} bytes exceeds the limit of ${this.maxTagSize}`);
      if (this.buf.length - pos < 11 + size + 4) break;
      const timestamp = (this.buf.readUIntBE(pos + 4, 3) | (this.buf[pos + 7]! << 24)) >>> 0;
      const data = Buffer.from(this.buf.subarray(pos + 11, pos + 11 + size));
      const prevSize = this.buf.readUInt32BE(pos + 11 + size);
      if (prevSize !== 11 + size && prevSize !== 0) {
        throw new FlvError(`FLV PreviousTagSize ${prevSize} does not match the tag (${11 + size})`);
      }
      tags.push({ type, timestamp, data, keyframe: isKeyframe(type, data), sequenceHeader: isSequenceHeader(type, data) });
      pos += 11 + size + 4;
    }
    this.buf = pos === 0 ? this.buf : Buffer.from(this.buf.subarray(pos));
    return tags;
  }
}
