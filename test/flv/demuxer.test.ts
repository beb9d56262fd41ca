import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FlvDemuxer, FlvError, type FlvTag } from '../../src/flv/demuxer.js';

const HEADER = Buffer.from([0x46, 0x4c, 0x56, 0x01, 0x05, 0, 0, 0, 9, 0, 0, 0, 0]);

function tag(type: number, timestamp: number, data: Buffer): Buffer {
  const h = Buffer.alloc(11);
  h[0] = type;
  h.writeUIntBE(data.length, 1, 3);
  h.writeUIntBE(timestamp & 0xffffff, 4, 3);
  h[7] = (timestamp >>> 24) & 0xff;
  const prev = Buffer.alloc(4);
  prev.writeUInt32BE(11 + data.length);
  return Buffer.concat([h, data, prev]);
}

const STREAM = Buffer.concat([
  HEADER,
  tag(18, 0, Buffer.from([0x02, 0x00, 0x0a, ...Buffer.from('onMetaData'), 0x05])),
  tag(9, 0, Buffer.from([0x17, 0x00, 0, 0, 0, 1, 0x64])), // AVC sequence header (keyframe)
  tag(8, 0, Buffer.from([0xaf, 0x00, 0x11, 0x90])), // AAC sequence header
  tag(9, 0, Buffer.from([0x17, 0x01, 0, 0, 0, 9, 9, 9])), // keyframe
  tag(8, 21, Buffer.from([0xaf, 0x01, 1, 2, 3])),
  tag(9, 33, Buffer.from([0x27, 0x01, 0, 0, 0, 8, 8])), // inter frame
  tag(9, 0x01234567, Buffer.from([0x27, 0x01, 0, 0, 0, 7])), // extended timestamp byte
]);

const EXPECTED: Array<Omit<FlvTag, 'data'>> = [
  { type: 'script', timestamp: 0, keyframe: false, sequenceHeader: false },
  { type: 'video', timestamp: 0, keyframe: true, sequenceHeader: true },
  { type: 'audio', timestamp: 0, keyframe: false, sequenceHeader: true },
  { type: 'video', timestamp: 0, keyframe: true, sequenceHeader: false },
  { type: 'audio', timestamp: 21, keyframe: false, sequenceHeader: false },
  { type: 'video', timestamp: 33, keyframe: false, sequenceHeader: false },
  { type: 'video', timestamp: 0x01234567, keyframe: false, sequenceHeader: false },
];

const meta = (t: FlvTag) => ({ type: t.type, timestamp: t.timestamp, keyframe: t.keyframe, sequenceHeader: t.sequenceHeader });

describe('FlvDemuxer', () => {
  it('demuxes a whole stream at once', () => {
    const tags = new FlvDemuxer().push(STREAM);
    assert.deepEqual(tags.map(meta), EXPECTED);
    assert.deepEqual(tags[3]!.data, Buffer.from([0x17, 0x01, 0, 0, 0, 9, 9, 9]));
  });

  it('gives the same tags for every split of the stream into two and into single bytes', () => {
    const whole = new FlvDemuxer().push(STREAM);
    for (let cut = 0; cut <= STREAM.length; cut++) {
      const d = new FlvDemuxer();
      const tags = [...d.push(STREAM.subarray(0, cut)), ...d.push(STREAM.subarray(cut))];
      assert.deepEqual(tags, whole, `cut at ${cut}`);
    }
    const d = new FlvDemuxer();
    const bytewise: FlvTag[] = [];
    for (const b of STREAM) bytewise.push(...d.push(Buffer.from([b])));
    assert.deepEqual(bytewise, whole);
  });

  it('rejects garbage, bad tags and oversized tags with FlvError', () => {
    assert.throws(() => new FlvDemuxer().push(Buffer.from('GET / HTTP/1.1\r\n\r\n')), FlvError);
    assert.throws(() => new FlvDemuxer().push(Buffer.from([0x46, 0x4c, 0x56, 0x02, 5, 0, 0, 0, 9, 0, 0, 0, 0])), FlvError);
    assert.throws(() => new FlvDemuxer().push(Buffer.concat([HEADER, tag(7, 0, Buffer.alloc(3))])), FlvError);
    const badPrev = tag(9, 0, Buffer.alloc(5, 0x27));
    badPrev.writeUInt32BE(99, badPrev.length - 4);
    assert.throws(() => new FlvDemuxer().push(Buffer.concat([HEADER, badPrev])), FlvError);
    // The size bound is checked from the tag header, before the body arrives.
    const big = Buffer.alloc(11);
    big[0] = 9;
    big.writeUIntBE(2_000_000, 1, 3);
    assert.throws(() => new FlvDemuxer({ maxTagSize: 1_000_000 }).push(Buffer.concat([HEADER, big])), FlvError);
  });

  it('never throws anything but FlvError on random bytes after a valid header', () => {
    let seed = 3;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) >> 8) & 0xff;
    for (let i = 0; i < 300; i++) {
      const d = new FlvDemuxer({ maxTagSize: 4096 });
      try {
        d.push(HEADER);
        for (let j = 0; j < 20; j++) d.push(Buffer.from(Array.from({ length: 64 }, rnd)));
      } catch (err) {
        assert.ok(err instanceof FlvError, String(err));
      }
    }
  });
});
