/**
 * The last few hundred RTP packets of one published track, by sequence number, so that a
 * subscriber's NACK can be answered without asking the publisher. Pure (no timers, no I/O).
 */

export interface CachedPacket<P> {
  ssrc: number;
  sequenceNumber: number;
  packet: P;
}

export type CacheLookup<P> =
  | { kind: 'hit'; entry: CachedPacket<P> }
  /** in the window the cache covers, but never received (lost upstream too) */
  | { kind: 'missing' }
  /** older than the window, newer than anything received, or of another SSRC */
  | { kind: 'outside' };

/** Distance from `from` forward to `to` in 16-bit sequence space (0..65535). */
export function seqForward(from: number, to: number): number {
  return (to - from + 0x10000) & 0xffff;
}

export class PacketCache<P> {
  private readonly slots: (CachedPacket<P> | undefined)[];
  private newest: number | undefined;
  private ssrc: number | undefined;

  constructor(readonly capacity = 512) {
    this.slots = new Array<CachedPacket<P> | undefined>(capacity);
  }

  /** Keeps a packet (a new SSRC starts the cache afresh). */
  put(ssrc: number, sequenceNumber: number, packet: P): void {
    if (this.ssrc !== ssrc) {
      this.slots.fill(undefined);
      this.ssrc = ssrc;
      this.newest = undefined;
    }
    if (this.newest === undefined || (seqForward(this.newest, sequenceNumber) > 0 && seqForward(this.newest, sequenceNumber) < 0x8000)) {
      this.newest = sequenceNumber;
    }
    this.slots[sequenceNumber % this.capacity] = { ssrc, sequenceNumber, packet };
  }

  get(ssrc: number, sequenceNumber: number): CacheLookup<P> {
    if (this.newest === undefined || ssrc !== this.ssrc) return { kind: 'outside' };
    const age = seqForward(sequenceNumber, this.newest);
    if (age >= this.capacity) return { kind: 'outside' };
    const entry = this.slots[sequenceNumber % this.capacity];
    return entry && entry.sequenceNumber === sequenceNumber ? { kind: 'hit', entry } : { kind: 'missing' };
  }

  clear(): void {
    this.slots.fill(undefined);
    this.newest = undefined;
    this.ssrc = undefined;
  }
}
