/**
 * Follows a growing FLV file (an ingest's recording) and notes when each video frame arrived.
 * `FlvTagReader` is a pure incremental parser; `FlvFollower` polls the file.
 */
import { closeSync, existsSync, openSync, readSync } from 'node:fs';

export interface FlvTag {
  /** 8 audio, 9 video, 18 script data. */
  type: number;
  /** Tag timestamp, ms. */
  timestamp: number;
  /** For video: true when the tag holds a coded frame (not an AVC sequence header). */
  isFrame: boolean;
  /** For video: a keyframe. */
  keyframe: boolean;
}

/** Incremental FLV parser: feed it bytes as they come, get the complete tags back. */
export class FlvTagReader {
  private buf: Buffer = Buffer.alloc(0);
  private headerDone = false;

  push(chunk: Buffer): FlvTag[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const tags: FlvTag[] = [];
    let off = 0;
    if (!this.headerDone) {
      if (this.buf.length < 13) return tags;
      if (this.buf.toString('latin1', 0, 3) !== 'FLV') throw new Error('not an FLV stream');
      off = this.buf.readUInt32BE(5) + 4; // header, then PreviousTagSize0
      this.headerDone = true;
    }
    while (this.buf.length - off >= 11) {
      const type = this.buf[off]! & 0x1f;
      const size = this.buf.readUIntBE(off + 1, 3);
      const total = 11 + size + 4;
      if (this.buf.length - off < total) break;
      const timestamp = this.buf.readUIntBE(off + 4, 3) | (this.buf[off + 7]! << 24);
      let isFrame = false;
      let keyframe = false;
      if (type === 9 && size >= 1) {
        const b0 = this.buf[off + 11]!;
        const codec = b0 & 0x0f;
        keyframe = b0 >> 4 === 1;
        // AVC (7) and HEVC-in-FLV (12): packet type 1 is a coded frame, 0 a sequence header.
        isFrame = codec === 7 || codec === 12 ? size >= 2 && this.buf[off + 12] === 1 : b0 >> 4 !== 5;
      }
      tags.push({ type, timestamp, isFrame, keyframe });
      off += total;
    }
    this.buf = this.buf.subarray(off);
    return tags;
  }
}

/** Polls a (possibly not yet existing) FLV file and records the arrival time of video frames. */
export class FlvFollower {
  /** performance.now() when each video frame was first seen. */
  readonly frameTimes: number[] = [];
  private fd: number | undefined;
  private readonly reader = new FlvTagReader();
  private readonly timer: NodeJS.Timeout;
  private readonly scratch = Buffer.alloc(1 << 20);
  private waiters: Array<{ count: number; resolve: () => void }> = [];

  constructor(
    readonly path: string,
    pollMs = 5,
  ) {
    this.timer = setInterval(() => this.poll(), pollMs);
  }

  /** Reads what is new now (also called by the timer). */
  poll(): void {
    const now = performance.now();
    if (this.fd === undefined) {
      if (!existsSync(this.path)) return;
      try {
        this.fd = openSync(this.path, 'r');
      } catch {
        return;
      }
    }
    for (;;) {
      const n = readSync(this.fd, this.scratch, 0, this.scratch.length, null);
      if (n <= 0) break;
      for (const tag of this.reader.push(Buffer.from(this.scratch.subarray(0, n)))) {
        if (tag.type === 9 && tag.isFrame) this.frameTimes.push(now);
      }
      if (n < this.scratch.length) break;
    }
    this.waiters = this.waiters.filter((w) => {
      if (this.frameTimes.length < w.count) return true;
      w.resolve();
      return false;
    });
  }

  /** Resolves when `count` video frames have arrived; rejects after `timeoutMs`. */
  waitFrames(count: number, timeoutMs: number): Promise<void> {
    if (this.frameTimes.length >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const w = {
        count,
        resolve: () => {
          clearTimeout(t);
          resolve();
        },
      };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`${this.frameTimes.length} of ${count} video frames arrived within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** Frames that arrived in [from, to) (performance.now() times). */
  framesBetween(from: number, to: number): number {
    return this.frameTimes.filter((t) => t >= from && t < to).length;
  }

  close(): void {
    clearInterval(this.timer);
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
