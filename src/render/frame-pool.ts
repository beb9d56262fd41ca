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
 * `FixedSizeReader` (src/media/rtp-process.ts) with `pool` cuts a byte stream into its buffers.
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
