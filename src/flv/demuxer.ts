/**
 * Incremental FLV demuxer: the FLV header, then tags, from chunks split at arbitrary points.
 * Pure; bounded (tag size) and throws FlvError on malformed input.
 */
import { isKeyframe, isSequenceHeader, type FlvTag } from './tag.js';

export type { FlvTag } from './tag.js';

export class FlvError extends Error {
  override readonly name = 'FlvError';
}

export interface FlvDemuxerOptions {
  /** Largest tag body accepted, bytes. Default 8 MiB. */
  maxTagSize?: number;
}

const TAG_TYPES: Record<number, FlvTag['type']> = { 8: 'audio', 9: 'video', 18: 'script' };
const HEADER_MIN = 9;

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
