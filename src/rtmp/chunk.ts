/**
 * RTMP chunk stream: splitting messages into chunks (ChunkWriter) and reassembling messages from
 * a byte stream (ChunkParser). Pure and incremental; the parser is bounded and throws ChunkError
 * on malformed input.
 */

export interface RtmpMessage {
  /** Chunk stream id (2..65599). */
  csid: number;
  /** Milliseconds, 32-bit wrapping. */
  timestamp: number;
  typeId: number;
  /** Message stream id. */
  streamId: number;
  payload: Buffer;
}

export const MessageType = {
  SetChunkSize: 1,
  Abort: 2,
  Acknowledgement: 3,
  UserControl: 4,
  WindowAckSize: 5,
  SetPeerBandwidth: 6,
  Audio: 8,
  Video: 9,
  DataAmf3: 15,
  SharedObjectAmf3: 16,
  CommandAmf3: 17,
  DataAmf0: 18,
  SharedObjectAmf0: 19,
  CommandAmf0: 20,
  Aggregate: 22,
} as const;

export class ChunkError extends Error {
  override readonly name = 'ChunkError';
}

const EXTENDED = 0xffffff;
export const DEFAULT_CHUNK_SIZE = 128;
export const MAX_CHUNK_SIZE = 0x7fffffff;

function basicHeader(fmt: number, csid: number): Buffer {
  if (csid < 2 || csid > 65599 || !Number.isInteger(csid)) throw new ChunkError(`invalid chunk stream id ${csid}`);
  if (csid <= 63) return Buffer.from([(fmt << 6) | csid]);
  if (csid <= 319) return Buffer.from([fmt << 6, csid - 64]);
  const v = csid - 64;
  return Buffer.from([(fmt << 6) | 1, v & 0xff, v >> 8]);
}

interface WriterState {
  timestamp: number;
  length: number;
  typeId: number;
  streamId: number;
}

/**
 * Splits messages into chunks of `chunkSize`, compressing headers per chunk stream: type 0 for
 * the first message (or on a new message stream or a timestamp going back), type 1 (delta) for
 * the following ones, type 3 for continuation chunks. Timestamps (or deltas) >= 0xFFFFFF use the
 * extended timestamp field, repeated on continuation chunks.
 */
export class ChunkWriter {
  private chunkSizeValue = DEFAULT_CHUNK_SIZE;
  private readonly state = new Map<number, WriterState>();

  get chunkSize(): number {
    return this.chunkSizeValue;
  }

  /** Takes effect for the next message (send SetChunkSize before it). */
  setChunkSize(size: number): void {
    if (!Number.isInteger(size) || size < 1 || size > MAX_CHUNK_SIZE) throw new ChunkError(`invalid chunk size ${size}`);
    this.chunkSizeValue = size;
  }

  /** The chunks of one message, as buffers to write in order. */
  write(msg: RtmpMessage): Buffer[] {
    const ts = msg.timestamp >>> 0;
    const len = msg.payload.length;
    if (len > 0xffffff) throw new ChunkError(`message of ${len} bytes is too large`);
    const prev = this.state.get(msg.csid);
    let fmt: 0 | 1;
    let tsField: number;
    if (!prev || prev.streamId !== msg.streamId || ts < prev.timestamp) {
      fmt = 0;
      tsField = ts;
    } else {
      fmt = 1;
      tsField = (ts - prev.timestamp) >>> 0;
    }
    this.state.set(msg.csid, { timestamp: ts, length: len, typeId: msg.typeId, streamId: msg.streamId });
    const extended = tsField >= EXTENDED;

    const header = Buffer.alloc(fmt === 0 ? 11 : 7);
    header.writeUIntBE(extended ? EXTENDED : tsField, 0, 3);
    header.writeUIntBE(len, 3, 3);
    header[6] = msg.typeId;
    if (fmt === 0) header.writeUInt32LE(msg.streamId >>> 0, 7);
    const ext = extended ? Buffer.alloc(4) : undefined;
    ext?.writeUInt32BE(tsField, 0);

    const out: Buffer[] = [basicHeader(fmt, msg.csid), header];
    if (ext) out.push(ext);
    let offset = 0;
    const size = this.chunkSizeValue;
    out.push(msg.payload.subarray(0, Math.min(size, len)));
    offset = Math.min(size, len);
    while (offset < len) {
      out.push(basicHeader(3, msg.csid));
      if (ext) out.push(ext);
      const end = Math.min(offset + size, len);
      out.push(msg.payload.subarray(offset, end));
      offset = end;
    }
    return out;
  }
}

interface ParserState {
  timestamp: number;
  delta: number;
  length: number;
  typeId: number;
  streamId: number;
  extended: boolean;
  /** Parts of the message being reassembled. */
  parts: Buffer[];
  received: number;
  /** Whether a header has been seen on this chunk stream. */
  started: boolean;
}

export interface ChunkParserOptions {
  /** Largest message accepted (bytes). Default 4 MiB. */
  maxMessageSize?: number;
  /** Most chunk streams tracked at once. Default 64. */
  maxChunkStreams?: number;
}

/**
 * Reassembles messages from a byte stream split at arbitrary points. Applies Set Chunk Size and
 * Abort itself (they affect parsing of what follows) and still returns them.
 */
export class ChunkParser {
  private chunkSize = DEFAULT_CHUNK_SIZE;
  private readonly states = new Map<number, ParserState>();
  private pending: Buffer = Buffer.alloc(0);
  private readonly maxMessageSize: number;
  private readonly maxChunkStreams: number;

  constructor(opts: ChunkParserOptions = {}) {
    this.maxMessageSize = opts.maxMessageSize ?? 4 * 1024 * 1024;
    this.maxChunkStreams = opts.maxChunkStreams ?? 64;
  }

  get incomingChunkSize(): number {
    return this.chunkSize;
  }

  /** Bytes held waiting for the rest of a chunk. */
  get pendingBytes(): number {
    return this.pending.length;
  }

  push(data: Buffer): RtmpMessage[] {
    this.pending = this.pending.length === 0 ? data : Buffer.concat([this.pending, data]);
    const out: RtmpMessage[] = [];
    let pos = 0;
    for (;;) {
      const used = this.parseChunk(this.pending, pos, out);
      if (used === 0) break;
      pos += used;
    }
    this.pending = pos === 0 ? this.pending : Buffer.from(this.pending.subarray(pos));
    return out;
  }

  /** Parses one chunk at `pos`; returns the bytes it took, 0 if incomplete. */
  private parseChunk(buf: Buffer, pos: number, out: RtmpMessage[]): number {
    const avail = buf.length - pos;
    if (avail < 1) return 0;
    const b0 = buf[pos]!;
    const fmt = b0 >> 6;
    let csid = b0 & 0x3f;
    let p = pos + 1;
    if (csid === 0) {
      if (avail < 2) return 0;
      csid = buf[p]! + 64;
      p += 1;
    } else if (csid === 1) {
      if (avail < 3) return 0;
      csid = buf[p]! + buf[p + 1]! * 256 + 64;
      p += 2;
    }
    const headerLen = [11, 7, 3, 0][fmt]!;
    if (buf.length - p < headerLen) return 0;

    let st = this.states.get(csid);
    if (fmt !== 0 && (!st || !st.started)) {
      throw new ChunkError(`chunk type ${fmt} on chunk stream ${csid} without a preceding full header`);
    }
    const continuing = st !== undefined && st.parts.length > 0;
    if (continuing && fmt !== 3) {
      throw new ChunkError(`new message header on chunk stream ${csid} before the previous message was complete`);
    }

    let tsField = 0;
    let length = st?.length ?? 0;
    let typeId = st?.typeId ?? 0;
    let streamId = st?.streamId ?? 0;
    if (fmt <= 2) tsField = buf.readUIntBE(p, 3);
    if (fmt <= 1) {
      length = buf.readUIntBE(p + 3, 3);
      typeId = buf[p + 6]!;
    }
    if (fmt === 0) streamId = buf.readUInt32LE(p + 7);
    p += headerLen;

    const extended = fmt === 3 ? (st?.extended ?? false) : tsField === EXTENDED;
    if (extended) {
      if (buf.length - p < 4) return 0;
      tsField = buf.readUInt32BE(p);
      p += 4;
    }

    if (length > this.maxMessageSize) {
      throw new ChunkError(`message of ${length} bytes on chunk stream ${csid} exceeds the limit of ${this.maxMessageSize}`);
    }
    const already = continuing ? st!.received : 0;
    const part = Math.min(this.chunkSize, length - already);
    if (buf.length - p < part) return 0;

    // Complete chunk: commit state.
    if (!st) {
      if (this.states.size >= this.maxChunkStreams) throw new ChunkError(`more than ${this.maxChunkStreams} chunk streams`);
      st = { timestamp: 0, delta: 0, length: 0, typeId: 0, streamId: 0, extended: false, parts: [], received: 0, started: false };
      this.states.set(csid, st);
    }
    if (!continuing) {
      if (fmt === 0) {
        st.timestamp = tsField;
        st.delta = 0;
      } else if (fmt === 1 || fmt === 2) {
        st.delta = tsField;
        st.timestamp = (st.timestamp + tsField) >>> 0;
      } else {
        st.timestamp = (st.timestamp + st.delta) >>> 0;
      }
      st.length = length;
      st.typeId = typeId;
      st.streamId = streamId;
      st.extended = extended;
      st.started = true;
      st.received = 0;
    }
    if (part > 0) st.parts.push(Buffer.from(buf.subarray(p, p + part)));
    st.received += part;
    p += part;

    if (st.received >= st.length) {
      const payload = st.parts.length === 1 ? st.parts[0]! : Buffer.concat(st.parts, st.length);
      st.parts = [];
      st.received = 0;
      const msg: RtmpMessage = { csid, timestamp: st.timestamp, typeId: st.typeId, streamId: st.streamId, payload };
      this.applyControl(msg);
      out.push(msg);
    } else if (st.parts.length === 0) {
      // Zero-byte part of a non-empty message cannot happen (chunk size >= 1); kept for clarity.
      throw new ChunkError('empty chunk');
    }
    return p - pos;
  }

  private applyControl(msg: RtmpMessage): void {
    if (msg.typeId === MessageType.SetChunkSize) {
      if (msg.payload.length < 4) throw new ChunkError('Set Chunk Size message too short');
      const size = msg.payload.readUInt32BE(0) & 0x7fffffff;
      if (size < 1) throw new ChunkError(`invalid chunk size ${size}`);
      this.chunkSize = size;
    } else if (msg.typeId === MessageType.Abort) {
      if (msg.payload.length < 4) throw new ChunkError('Abort message too short');
      const st = this.states.get(msg.payload.readUInt32BE(0));
      if (st) {
        st.parts = [];
        st.received = 0;
      }
    }
  }
}
