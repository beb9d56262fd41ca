import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Amf0EcmaArray, Amf0Error, decodeAmf0, encodeAmf0 } from '../../src/rtmp/amf0.js';

describe('AMF0', () => {
  it('round-trips scalars, objects, arrays and dates', () => {
    const values = [
      'connect',
      1,
      { app: 'live', type: 'nonprivate', nested: { a: [1, 'x', null, true], b: false }, n: -1.5 },
      null,
      undefined,
      true,
      [],
      new Date(1_700_000_000_000),
      'ünïcødé ✓',
    ];
    assert.deepEqual(decodeAmf0(encodeAmf0(...values)), values);
  });

  it('encodes known bytes: string, number, null, object end', () => {
    assert.deepEqual(encodeAmf0('ab'), Buffer.from([0x02, 0x00, 0x02, 0x61, 0x62]));
    assert.deepEqual(encodeAmf0(1), Buffer.from([0x00, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0]));
    assert.deepEqual(encodeAmf0(null), Buffer.from([0x05]));
    assert.deepEqual(encodeAmf0({}), Buffer.from([0x03, 0x00, 0x00, 0x09]));
  });

  it('encodes ECMA arrays (onMetaData) and decodes them as objects', () => {
    const buf = encodeAmf0('onMetaData', new Amf0EcmaArray({ width: 640, height: 360, encoder: 'x', skipped: undefined }));
    assert.equal(buf[13], 0x08);
    assert.equal(buf.readUInt32BE(14), 3);
    assert.deepEqual(decodeAmf0(buf), ['onMetaData', { width: 640, height: 360, encoder: 'x' }]);
  });

  it('uses long strings beyond 65535 bytes', () => {
    const s = 'x'.repeat(70_000);
    const buf = encodeAmf0(s);
    assert.equal(buf[0], 0x0c);
    assert.deepEqual(decodeAmf0(buf), [s]);
  });

  it('keeps __proto__ keys as plain data', () => {
    const raw = Buffer.concat([
      Buffer.from([0x03, 0x00, 0x09]),
      Buffer.from('__proto__'),
      Buffer.from([0x00, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0, 0, 9]),
    ]);
    const [obj] = decodeAmf0(raw) as [Record<string, unknown>];
    assert.equal(Object.getPrototypeOf(obj), Object.prototype);
    assert.equal(Object.getOwnPropertyDescriptor(obj, '__proto__')?.value, 1);
  });

  it('rejects truncated, unknown and hostile input with Amf0Error', () => {
    const good = encodeAmf0('connect', 1, { app: 'live' });
    for (let n = 1; n < good.length; n++) {
      // Value boundaries leave a shorter but valid sequence.
      if (n === encodeAmf0('connect').length || n === encodeAmf0('connect', 1).length) continue;
      assert.throws(() => decodeAmf0(good.subarray(0, n)), Amf0Error, `truncated at ${n}`);
    }
    assert.throws(() => decodeAmf0(Buffer.from([0x11, 0x00])), Amf0Error); // AMF3 switch
    assert.throws(() => decodeAmf0(Buffer.from([0x07, 0x00, 0x01])), Amf0Error); // reference
    assert.throws(() => decodeAmf0(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff])), Amf0Error); // huge strict array
    assert.throws(() => decodeAmf0(Buffer.from([0x03, 0x00, 0x00, 0x05])), Amf0Error); // bad object end
    const deep = Buffer.concat([Buffer.alloc(1000, 0x0a).map((_, i) => (i % 5 === 0 ? 0x0a : i % 5 === 4 ? 1 : 0)), Buffer.from([0x05])]);
    assert.throws(() => decodeAmf0(deep), Amf0Error); // nesting depth
  });

  it('never throws anything but Amf0Error on random bytes', () => {
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) >> 8) & 0xff;
    for (let i = 0; i < 2000; i++) {
      const buf = Buffer.from(Array.from({ length: 1 + (i % 40) }, rnd));
      try {
        decodeAmf0(buf);
      } catch (err) {
        assert.ok(err instanceof Amf0Error, String(err));
      }
    }
  });
});
