/**
 * Maps encoder timestamps onto one destination's outgoing timeline, which stays continuous and
 * monotonic across encoder restarts and reconnects. Pure.
 */
export class TimestampMapper {
  private offset: number | null = null;
  private last: number | null = null;

  /** The last timestamp handed out, or null. */
  get lastOut(): number | null {
    return this.last;
  }

  /** Whether a rebase is needed before mapping (nothing mapped since construction or invalidate()). */
  get needsRebase(): boolean {
    return this.offset === null;
  }

  /** The input timeline changed (encoder restarted, new session): the next rebase() sets the offset. */
  invalidate(): void {
    this.offset = null;
  }

  /**
   * Starts a new run whose first input tag has `firstInputTs`: it is placed `gapMs` after the last
   * output timestamp (or at 0 on the first run).
   */
  rebase(firstInputTs: number, gapMs: number): void {
    const base = this.last === null ? 0 : this.last + Math.max(1, Math.round(gapMs));
    this.offset = base - firstInputTs;
  }

  map(inputTs: number): number {
    if (this.offset === null) this.rebase(inputTs, 0);
    let out = Math.max(0, inputTs + (this.offset as number));
    if (this.last !== null && out < this.last) out = this.last;
    this.last = out;
    return out;
  }
}
