/**
 * Whether a broadcast group keeps up with real time: how far the encoder's output media time
 * advanced against the wall clock over a sliding window (1.0 = real time; a group producing 20
 * of its 30 frames per second reads about 0.67), and the `degraded` rule with hysteresis. Pure
 * but for the samples it is fed.
 */

export interface RealtimePolicy {
  /** The window the ratio is measured over. */
  windowMs: number;
  /** Observation needed before the group is judged at all (start-up, encoder restarts). */
  warmupMs: number;
  /** Below this ratio the group is degraded. */
  degradedBelow: number;
  /** A degraded group recovers at or above this ratio. */
  recoveredAt: number;
}

export const DEFAULT_REALTIME_POLICY: Readonly<RealtimePolicy> = Object.freeze({
  windowMs: 10_000,
  warmupMs: 5_000,
  degradedBelow: 0.9,
  recoveredAt: 0.97,
});

/** The shortest span a ratio is computed over. */
const MIN_SPAN_MS = 3_000;

interface Sample {
  wallMs: number;
  mediaMs: number;
}

export class RealtimeMeter {
  private samples: Sample[] = [];
  private epochWallMs: number | null = null;

  constructor(private readonly windowMs: number = DEFAULT_REALTIME_POLICY.windowMs) {}

  /** Starts measuring afresh (a new encoder process: its media time starts again at 0). */
  reset(nowMs: number): void {
    this.samples = [];
    this.epochWallMs = nowMs;
  }

  /** One output frame's media time (ms) seen at `nowMs`. */
  observe(nowMs: number, mediaMs: number): void {
    if (this.epochWallMs === null) this.epochWallMs = nowMs;
    this.samples.push({ wallMs: nowMs, mediaMs });
    const horizon = nowMs - this.windowMs;
    let drop = 0;
    while (drop < this.samples.length - 1 && this.samples[drop]!.wallMs < horizon) drop++;
    if (drop > 0) this.samples.splice(0, drop);
  }

  /** How long this measurement has been running (since the reset or the first sample). */
  observedMs(nowMs: number): number {
    return this.epochWallMs === null ? 0 : nowMs - this.epochWallMs;
  }

  /**
   * Media ms produced per wall ms over the window ending now; an output that stopped counts as
   * falling behind (the wall clock runs on). Null until two samples exist.
   */
  ratio(nowMs: number): number | null {
    if (this.samples.length < 2) {
      // No output at all over a whole window: nothing is produced.
      return this.observedMs(nowMs) >= this.windowMs ? 0 : null;
    }
    const first = this.samples[0]!;
    const last = this.samples[this.samples.length - 1]!;
    const wall = nowMs - first.wallMs;
    // A short span says little (an encoder's first frames come in a burst).
    if (wall < Math.min(this.windowMs, MIN_SPAN_MS)) return null;
    return Math.max(0, last.mediaMs - first.mediaMs) / wall;
  }
}

/** The next degraded state from the current one and the measured ratio (hysteresis). */
export function nextDegraded(
  current: boolean,
  ratio: number | null,
  observedMs: number,
  policy: RealtimePolicy = DEFAULT_REALTIME_POLICY,
): boolean {
  if (ratio === null || observedMs < policy.warmupMs) return current;
  if (current) return ratio < policy.recoveredAt;
  return ratio < policy.degradedBelow;
}
