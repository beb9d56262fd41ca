import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkError, ChunkParser, ChunkWriter, MessageType, type RtmpMessage } from '../../src/rtmp/chunk.js';
import { createC0C1, createC2, HandshakeError, parseServerHandshake } from '../../src/rtmp/handshake.js';

function payload(n: number, seed: number): Buffer {
  return Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));
}

function writeAll(writer: ChunkWriter, msgs: RtmpMessage[]): Buffer {
  return Buffer.concat(msgs.flatMap((m) => writer.write(m)));
}

/** Feeds `bytes` to the parser in slices of varying size. */
function parseInSlices(parser: ChunkParser, bytes: Buffer, sizes: number[]): RtmpMessage[] {
  const out: RtmpMessage[] = [];
  let i = 0;
  let k = 0;
  while (i < bytes.length) {
    const n = sizes[k++ % sizes.length]!;
    out.push(...parser.push(bytes.subarray(i, i + n)));
    i += n;
  }
  return out;
}

describe('chunk stream', () => {
  it('writes a first message with a type-0 header and continuation chunks with type 3', () => {
    const w = new ChunkWriter();
    const bytes = writeAll(w, [{ csid: 3, timestamp: 0, typeId: 20, streamId: 0, payload: payload(300, 1) }]);
    assert.equal(bytes[0], 0x03); // fmt 0, csid 3
    assert.equal(bytes.readUIntBE(4, 3), 300);
    assert.equal(bytes[7], 20);
    assert.equal(bytes[12 + 128], 0xc3); // fmt 3 after 128 bytes
    assert.equal(bytes[12 + 128 + 1 + 128], 0xc3);
    assert.equal(bytes.length, 12 + 300 + 2);
  });

  it('uses type-1 (delta) headers for following messages on the same chunk stream', () => {
    const w = new ChunkWriter();
    w.write({ csid: 6, timestamp: 1000, typeId: 9, streamId: 1, payload: payload(10, 0) });
    const second = Buffer.concat(w.write({ csid: 6, timestamp: 1033, typeId: 9, streamId: 1, payload: payload(20, 0) }));
    assert.equal(second[0], 0x46);
    assert.equal(second.readUIntBE(1, 3), 33);
    // A timestamp going back gets a full header again.
    const third = Buffer.concat(w.write({ csid: 6, timestamp: 500, typeId: 9, streamId: 1, payload: payload(5, 0) }));
    assert.equal(third[0], 0x06);
  });

  it('round-trips interleaved messages across chunk sizes and arbitrary splits', () => {
    for (const chunkSize of [1, 128, 4096]) {
      const w = new ChunkWriter();
      w.setChunkSize(chunkSize);
      const msgs: RtmpMessage[] = [];
      for (let i = 0; i < 40; i++) {
        const video = i % 3 !== 0;
        msgs.push({
          csid: video ? 6 : 4,
          timestamp: i * 21,
          typeId: video ? 9 : 8,
          streamId: 1,
          payload: payload(video ? 5000 + i * 37 : 300 + i, i),
        });
      }
      msgs.push({ csid: 3, timestamp: 0, typeId: 20, streamId: 0, payload: Buffer.alloc(0) });
      // Interleave at chunk level: write two messages' chunks alternately.
      const a = w.write(msgs[0]!);
      const b = w.write(msgs[1]!);
      const bytes = Buffer.concat([...groupChunks(a, b), writeAll(w, msgs.slice(2))]);
      const parser = new ChunkParser();
      parser.push(setChunkSizeBytes(chunkSize));
      const got = parseInSlices(parser, bytes, [1, 7, 300, 4099, 13]);
      const expected = [msgs[0]!, msgs[1]!, ...msgs.slice(2)].map(({ csid, timestamp, typeId, streamId, payload }) => ({
        csid,
        timestamp,
        typeId,
        streamId,
        payload,
      }));
      // Interleaved messages complete in the order their last chunk arrives.
      assert.equal(got.length, expected.length, `chunk size ${chunkSize}`);
      const sortKey = (m: RtmpMessage) => `${m.csid}:${m.timestamp}`;
      assert.deepEqual(new Set(got.map(sortKey)), new Set(expected.map(sortKey)));
      for (const m of got) {
        const e = expected.find((x) => sortKey(x) === sortKey(m))!;
        assert.deepEqual(m, e);
      }
      assert.equal(parser.pendingBytes, 0);
    }
  });

  it('uses extended timestamps at and above 0xFFFFFF, also in continuation chunks', () => {
    const w = new ChunkWriter();
    const msgs: RtmpMessage[] = [
      { csid: 6, timestamp: 0xffffff, typeId: 9, streamId: 1, payload: payload(300, 3) },
      { csid: 6, timestamp: 0xffffff + 40, typeId: 9, streamId: 1, payload: payload(200, 4) },
      { csid: 4, timestamp: 0x12345678, typeId: 8, streamId: 1, payload: payload(129, 5) },
    ];
    const first = Buffer.concat(w.write(msgs[0]!));
    assert.equal(first.readUIntBE(1, 3), 0xffffff);
    assert.equal(first.readUInt32BE(12), 0xffffff);
    assert.equal(first[16 + 128], 0xc6);
    assert.equal(first.readUInt32BE(16 + 128 + 1), 0xffffff, 'extended timestamp repeated on the type-3 chunk');
    const rest = writeAll(w, msgs.slice(1));
    const parser = new ChunkParser();
    const got = parseInSlices(parser, Buffer.concat([first, rest]), [5]);
    assert.deepEqual(got, msgs);
  });

  it('wraps timestamps at 32 bits', () => {
    const w = new ChunkWriter();
    const msgs: RtmpMessage[] = [
      { csid: 6, timestamp: 0xfffffff0, typeId: 9, streamId: 1, payload: payload(10, 1) },
      { csid: 6, timestamp: 0xfffffffa, typeId: 9, streamId: 1, payload: payload(10, 2) },
    ];
    const got = new ChunkParser().push(writeAll(w, msgs));
    assert.deepEqual(
      got.map((m) => m.timestamp),
      [0xfffffff0, 0xfffffffa],
    );
  });

  it('encodes 2- and 3-byte chunk stream ids', () => {
    const w = new ChunkWriter();
    const msgs: RtmpMessage[] = [64, 319, 320, 65599].map((csid, i) => ({
      csid,
      timestamp: i,
      typeId: 8,
      streamId: 1,
      payload: payload(200, i),
    }));
    const bytes = writeAll(w, msgs);
    assert.deepEqual(new ChunkParser().push(bytes), msgs);
    assert.throws(() => w.write({ csid: 1, timestamp: 0, typeId: 8, streamId: 1, payload: Buffer.alloc(1) }), ChunkError);
  });

  it('applies Set Chunk Size and Abort from the stream itself', () => {
    const w = new ChunkWriter();
    const parser = new ChunkParser();
    const big: RtmpMessage = { csid: 6, timestamp: 0, typeId: 9, streamId: 1, payload: payload(1000, 9) };
    const ctl: RtmpMessage = { csid: 2, timestamp: 0, typeId: MessageType.SetChunkSize, streamId: 0, payload: setChunkSizePayload(500) };
    const ctlBytes = writeAll(w, [ctl]);
    w.setChunkSize(500);
    const bigBytes = writeAll(w, [big]);
    const got = parser.push(Buffer.concat([ctlBytes, bigBytes]));
    assert.deepEqual(got, [ctl, big]);
    assert.equal(parser.incomingChunkSize, 500);

    // Abort drops a half-received message.
    const p2 = new ChunkParser();
    const w2 = new ChunkWriter();
    const partial = Buffer.concat(w2.write({ csid: 6, timestamp: 0, typeId: 9, streamId: 1, payload: payload(300, 1) }));
    const abortPayload = Buffer.alloc(4);
    abortPayload.writeUInt32BE(6);
    p2.push(partial.subarray(0, 12 + 128));
    const abort = p2.push(
      Buffer.concat(w2.write({ csid: 2, timestamp: 0, typeId: MessageType.Abort, streamId: 0, payload: abortPayload })),
    );
    assert.equal(abort.length, 1);
    const next = Buffer.concat(new ChunkWriter().write({ csid: 6, timestamp: 5, typeId: 9, streamId: 1, payload: payload(10, 2) }));
    assert.deepEqual(
      p2.push(next).map((m) => m.payload.length),
      [10],
    );
  });

  it('rejects malformed streams with ChunkError', () => {
    // Type-1 header on a chunk stream that never had a type-0 header.
    assert.throws(() => new ChunkParser().push(Buffer.from([0x43, 0, 0, 0, 0, 0, 4, 20])), ChunkError);
    // Type-3 header with no state.
    assert.throws(() => new ChunkParser().push(Buffer.from([0xc3, 1, 2])), ChunkError);
    // Message larger than the bound.
    assert.throws(
      () => new ChunkParser({ maxMessageSize: 1000 }).push(Buffer.from([0x03, 0, 0, 0, 0, 0x10, 0, 9, 1, 0, 0, 0])),
      ChunkError,
    );
    // Set Chunk Size of 0.
    const w = new ChunkWriter();
    assert.throws(
      () => new ChunkParser().push(writeAll(w, [{ csid: 2, timestamp: 0, typeId: 1, streamId: 0, payload: Buffer.alloc(4) }])),
      ChunkError,
    );
    // Too many chunk streams.
    const many = new ChunkWriter();
    const msgs = Array.from({ length: 10 }, (_, i) => ({ csid: 10 + i, timestamp: 0, typeId: 8, streamId: 1, payload: payload(1, i) }));
    assert.throws(() => new ChunkParser({ maxChunkStreams: 5 }).push(writeAll(many, msgs)), ChunkError);
  });

  it('never throws anything but ChunkError on random bytes', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) >> 8) & 0xff;
    for (let i = 0; i < 500; i++) {
      const parser = new ChunkParser({ maxMessageSize: 65536 });
      try {
        for (let j = 0; j < 10; j++) parser.push(Buffer.from(Array.from({ length: 50 }, rnd)));
      } catch (err) {
        assert.ok(err instanceof ChunkError, String(err));
      }
      assert.ok(parser.pendingBytes <= 65536 + 18);
    }
  });
});

describe('handshake', () => {
  it('makes C0+C1 and C2, and parses S0+S1+S2 across splits', () => {
    const c0c1 = createC0C1(1234, Buffer.alloc(1528, 7));
    assert.equal(c0c1.length, 1537);
    assert.equal(c0c1[0], 3);
    assert.equal(c0c1.readUInt32BE(1), 1234);
    assert.equal(c0c1.readUInt32BE(5), 0);
    const s1 = payload(1536, 5);
    const server = Buffer.concat([Buffer.from([3]), s1, payload(1536, 6), Buffer.from([1, 2, 3])]);
    assert.equal(parseServerHandshake(server.subarray(0, 1000)), null);
    const hs = parseServerHandshake(server)!;
    assert.equal(hs.consumed, 3073);
    assert.deepEqual(hs.s1, s1);
    const c2 = createC2(hs.s1);
    assert.deepEqual(c2, s1, 'C2 is the exact echo of S1');
  });

  it('rejects a server that is not RTMP version 3', () => {
    assert.throws(() => parseServerHandshake(Buffer.from('HTTP/1.1 400')), HandshakeError);
  });
});

function setChunkSizePayload(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function setChunkSizeBytes(n: number): Buffer {
  return Buffer.concat(new ChunkWriter().write({ csid: 2, timestamp: 0, typeId: 1, streamId: 0, payload: setChunkSizePayload(n) }));
}

/**
 * Interleaves the chunks of two messages written on different chunk streams. Without extended
 * timestamps ChunkWriter returns [basic header, message header, data, then (basic header, data)...]:
 * chunks are regrouped and alternated.
 */
function groupChunks(a: Buffer[], b: Buffer[]): Buffer[] {
  const group = (parts: Buffer[]): Buffer[] => {
    const chunks: Buffer[] = [Buffer.concat(parts.slice(0, 3))];
    for (let i = 3; i < parts.length; i += 2) chunks.push(Buffer.concat(parts.slice(i, i + 2)));
    return chunks;
  };
  const ga = group(a);
  const gb = group(b);
  const out: Buffer[] = [];
  for (let i = 0; i < Math.max(ga.length, gb.length); i++) {
    if (i < ga.length) out.push(ga[i]!);
    if (i < gb.length) out.push(gb[i]!);
  }
  return out;
}
