/**
 * The picture pool and the reader that cuts a byte stream into pool buffers (FixedSizeReader with
 * a pool): holders are counted,
 * a buffer comes back only when its last holder lets go, and a stream of pictures whose holders
 * give them back allocates nothing after the first few.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FixedSizeReader } from '../../src/media/rtp-process.js';
import { FramePool } from '../../src/render/frame-pool.js';

describe('FramePool', () => {
  it('hands a buffer out again only after its last holder released it', () => {
    const pool = new FramePool(4);
    const a = pool.acquire();
    pool.retain(a);
    pool.release(a);
    const b = pool.acquire();
    assert.notEqual(b, a, 'a still has a holder');
    pool.release(a);
    assert.equal(pool.freeCount, 1);
    assert.equal(pool.acquire(), a);
    assert.equal(pool.allocated, 2);
  });

  it('ignores buffers it did not hand out and releases beyond the holders', () => {
    const pool = new FramePool(4, 1);
    pool.release(Buffer.alloc(4));
    pool.retain(Buffer.alloc(4));
    assert.equal(pool.freeCount, 0);
    const a = pool.acquire();
    const b = pool.acquire();
    pool.release(a);
    pool.release(a);
    pool.release(b);
    assert.equal(pool.freeCount, 1, 'at most maxFree kept');
    assert.throws(() => new FramePool(0), /positive integer/);
  });
});

describe('FixedSizeReader with a pool', () => {
  it('cuts chunks of any size into whole pictures, copying each byte once', () => {
    const pool = new FramePool(4);
    const got: number[][] = [];
    const reader = new FixedSizeReader(
      4,
      (f) => {
        got.push([...f]);
        pool.release(f);
      },
      { pool },
    );
    const chunk = Buffer.from([1, 1, 1]);
    reader.push(chunk);
    chunk.fill(7);
    assert.equal(got.length, 0);
    reader.push(Buffer.from([1, 2, 2, 2, 2, 3, 3, 3, 3, 4]));
    assert.deepEqual(got, [
      [1, 1, 1, 1],
      [2, 2, 2, 2],
      [3, 3, 3, 3],
    ]);
    reader.push(Buffer.from([4, 4, 4]));
    assert.deepEqual(got[3], [4, 4, 4, 4]);
    assert.equal(pool.allocated, 1, 'one buffer for a stream whose pictures are given back');
  });

  it('leaves pictures still held intact and gives back a partial one at close', () => {
    const pool = new FramePool(2);
    const held: Buffer[] = [];
    const reader = new FixedSizeReader(2, (f) => held.push(f), { pool });
    reader.push(Buffer.from([1, 1, 2, 2, 3]));
    assert.deepEqual(
      held.map((f) => [...f]),
      [
        [1, 1],
        [2, 2],
      ],
    );
    reader.close();
    assert.equal(pool.freeCount, 1, 'the partial picture');
    reader.push(Buffer.from([5, 5]));
    assert.deepEqual(
      held.map((f) => [...f]),
      [
        [1, 1],
        [2, 2],
        [5, 5],
      ],
    );
  });

  it('refuses a pool of another buffer size', () => {
    assert.throws(() => new FixedSizeReader(3, () => {}, { pool: new FramePool(4) }), /4-byte buffers, the records are 3 bytes/);
  });
});
