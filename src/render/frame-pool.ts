/**
 * Buffers of one size (raw pictures) handed out again once nobody holds them, so a stream of
 * pictures allocates nothing per picture. Allocating a fresh MB-sized buffer per picture is
 * external memory that counts against V8's old generation: at 30 pictures a second it makes V8
 * mark the heap several times a second.
 *
 * Holders are counted: `acquire` hands out a buffer held once, `retain` adds a holder, `release`
 * drops one, and a buffer without holders goes back to the free list (up to `maxFree`). A buffer
 * whose holders never all release it is simply collected with its count (a WeakMap): a forgotten
 * release costs an allocation, never a picture drawn over while someone still reads it.
 */
export class FramePool {
  private readonly holders = new WeakMap<Buffer, number>();
  private readonly free: Buffer[] = [];
  /** Buffers allocated because none was free (for tests and figures). */
  allocated = 0;

  constructor(
    readonly frameBytes: number,
    private readonly maxFree = 6,
  ) {
    if (!Number.isInteger(frameBytes) || frameBytes <= 0) throw new Error(`frame size must be a positive integer, got ${frameBytes}`);
  }

  /** A buffer of `frameBytes` (contents undefined) held once by the caller. */
  acquire(): Buffer {
    let buf = this.free.pop();
    if (!buf) {
      buf = Buffer.allocUnsafe(this.frameBytes);
      this.allocated += 1;
    }
    this.holders.set(buf, 1);
    return buf;
  }

  /** One more holder of a buffer from `acquire` (ignored for other buffers or free ones). */
  retain(buf: Buffer): void {
    const n = this.holders.get(buf);
    if (n !== undefined && n > 0) this.holders.set(buf, n + 1);
  }

  /** One holder fewer; the last one gives the buffer back. Other buffers are ignored. */
  release(buf: Buffer): void {
    const n = this.holders.get(buf);
    if (n === undefined || n <= 0) return;
    if (n > 1) {
      this.holders.set(buf, n - 1);
      return;
    }
    this.holders.delete(buf);
    if (this.free.length < this.maxFree) this.free.push(buf);
  }

  /** How many buffers wait in the free list. */
  get freeCount(): number {
    return this.free.length;
  }
}

/**
 * Cuts a byte stream into pictures of the pool's frame size, written straight into pool buffers:
 * each chunk is copied once, into the picture it belongs to. `onFrame` receives each whole picture
 * held once on its behalf (it must `release` it when done). Chunks are only read during `push`, so
 * the reader may reuse the chunk's memory afterwards.
 */
export class PooledFrameReader {
  private current: Buffer | undefined;
  private filled = 0;

  constructor(
    private readonly pool: FramePool,
    private readonly onFrame: (frame: Buffer) => void,
  ) {}

  push(chunk: Uint8Array): void {
    const size = this.pool.frameBytes;
    let offset = 0;
    while (offset < chunk.length) {
      const frame = this.current ?? this.pool.acquire();
      this.current = frame;
      const n = Math.min(size - this.filled, chunk.length - offset);
      frame.set(chunk.subarray(offset, offset + n), this.filled);
      this.filled += n;
      offset += n;
      if (this.filled === size) {
        this.current = undefined;
        this.filled = 0;
        this.onFrame(frame);
      }
    }
  }

  /** Gives back a picture not yet complete (the stream ended). */
  close(): void {
    if (this.current) this.pool.release(this.current);
    this.current = undefined;
    this.filled = 0;
  }
}
