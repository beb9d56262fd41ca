/**
 * Sequence numbers and timestamps of one forwarded track as one subscriber sees them: they start
 * at random values and stay continuous when the source changes (a publisher whose SSRC changes,
 * e.g. after its encoder restarted), so the subscriber's jitter buffer never sees a jump. Pure.
 */

export interface RewrittenHeader {
  sequenceNumber: number;
  timestamp: number;
}

export class RtpRewriter {
  private sourceSsrc: number | undefined;
  private seqOffset: number;
  private tsOffset: number;
  private lastSeq: number | undefined;
  private lastTs: number | undefined;
  private lastAtMs = 0;

  /** `start` gives the first outgoing sequence number and timestamp (random by default). */
  constructor(
    private readonly clockRate: number,
    start: RewrittenHeader = {
      sequenceNumber: Math.floor(Math.random() * 0x10000),
      timestamp: Math.floor(Math.random() * 0x100000000),
    },
  ) {
    this.seqOffset = start.sequenceNumber;
    this.tsOffset = start.timestamp;
  }

  /** Maps one packet of the source (updates the mapping when the source SSRC changed). */
  map(ssrc: number, sequenceNumber: number, timestamp: number, nowMs: number): RewrittenHeader {
    if (this.sourceSsrc !== ssrc) {
      if (this.lastSeq === undefined || this.lastTs === undefined) {
        // First packet: the random start.
        this.seqOffset = (this.seqOffset - sequenceNumber) & 0xffff;
        this.tsOffset = (this.tsOffset - timestamp) >>> 0;
      } else {
        // A new source continues where the previous one stopped, its timestamps advanced by the
        // wall-clock time between the two (at least one tick).
        const elapsed = Math.max(1, Math.round(((nowMs - this.lastAtMs) * this.clockRate) / 1000));
        this.seqOffset = (this.lastSeq + 1 - sequenceNumber) & 0xffff;
        this.tsOffset = (this.lastTs + elapsed - timestamp) >>> 0;
      }
      this.sourceSsrc = ssrc;
    }
    const out = this.translate(sequenceNumber, timestamp);
    // Track the newest packet only (reordered or retransmitted ones keep the mapping).
    if (this.lastSeq === undefined || ((out.sequenceNumber - this.lastSeq) & 0xffff) < 0x8000) {
      this.lastSeq = out.sequenceNumber;
      this.lastTs = out.timestamp;
      this.lastAtMs = nowMs;
    }
    return out;
  }

  /** The mapping of a packet of the current source, without changing anything (retransmissions). */
  peek(ssrc: number, sequenceNumber: number, timestamp: number): RewrittenHeader | undefined {
    return ssrc === this.sourceSsrc ? this.translate(sequenceNumber, timestamp) : undefined;
  }

  /** The source sequence number an outgoing one was mapped from (current source only). */
  sourceSequence(outgoing: number): { ssrc: number; sequenceNumber: number } | undefined {
    if (this.sourceSsrc === undefined) return undefined;
    return { ssrc: this.sourceSsrc, sequenceNumber: (outgoing - this.seqOffset) & 0xffff };
  }

  private translate(sequenceNumber: number, timestamp: number): RewrittenHeader {
    return { sequenceNumber: (sequenceNumber + this.seqOffset) & 0xffff, timestamp: (timestamp + this.tsOffset) >>> 0 };
  }
}
