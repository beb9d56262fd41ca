/**
 * One clock for a broadcast group: ticks at the output frame rate, each tick carrying the video
 * frame's presentation time and exactly the number of PCM sample frames that belong to it, so
 * audio and video are produced in lock-step.
 *
 * The schedule is computed from the start time (tick i is due at start + i * 1000 / fps), so it
 * does not drift; after a stall, missed ticks are skipped (counted) rather than produced in a burst.
 */

/** PCM sample frames for tick `index` at `sampleRate` and `fps`; the sum over ticks 0..n-1 is floor(n * rate / fps). */
export function sampleFramesForTick(index: number, sampleRate: number, fps: number): number {
  return Math.floor(((index + 1) * sampleRate) / fps) - Math.floor((index * sampleRate) / fps);
}

/** When tick `index` is due, in ms after the start. */
export function tickDueMs(index: number, fps: number): number {
  return (index * 1000) / fps;
}

export interface TickPlan {
  /** The tick to run now, or null if none is due yet. */
  run: number | null;
  /** Ticks that were due but are skipped (stall). */
  skipped: number;
  /** The index the clock expects next. */
  nextIndex: number;
  /** Milliseconds to wait from `elapsedMs` until `nextIndex` is due. */
  waitMs: number;
}

/**
 * Decides what to do at `elapsedMs` after the start, when the clock's next tick is `nextIndex`.
 * At most one tick runs per call; if more than one is due, all but the latest are skipped.
 */
export function planTick(nextIndex: number, elapsedMs: number, fps: number): TickPlan {
  // The latest tick index whose due time has passed (small epsilon for timer rounding).
  const latestDue = Math.floor(((elapsedMs + 0.5) * fps) / 1000);
  if (latestDue < nextIndex) {
    return { run: null, skipped: 0, nextIndex, waitMs: Math.max(0, tickDueMs(nextIndex, fps) - elapsedMs) };
  }
  const run = latestDue;
  const skipped = latestDue - nextIndex;
  const following = run + 1;
  return { run, skipped, nextIndex: following, waitMs: Math.max(0, tickDueMs(following, fps) - elapsedMs) };
}

export interface PacerTick {
  /** Tick index since the pacer started (gaps when ticks were skipped). */
  index: number;
  /** Presentation time of this tick's video frame, ms since start. */
  ptsMs: number;
  /** PCM sample frames that belong to this tick (sum of the skipped ticks' share is not included). */
  sampleFrames: number;
  /** Ticks skipped just before this one. */
  skipped: number;
}

export interface PacerOptions {
  fps: number;
  sampleRate: number;
  onTick: (tick: PacerTick) => void;
  /** Milliseconds clock; default performance.now(). */
  now?: () => number;
}

export class Pacer {
  private readonly fps: number;
  private readonly sampleRate: number;
  private readonly onTick: (tick: PacerTick) => void;
  private readonly now: () => number;
  private startMs = 0;
  private nextIndex = 0;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  /** Ticks run since start. */
  ticks = 0;
  /** Ticks skipped since start. */
  skippedTicks = 0;

  constructor(opts: PacerOptions) {
    this.fps = opts.fps;
    this.sampleRate = opts.sampleRate;
    this.onTick = opts.onTick;
    this.now = opts.now ?? (() => performance.now());
  }

  get isRunning(): boolean {
    return this.running;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.startMs = this.now();
    this.nextIndex = 0;
    this.loop();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private loop(): void {
    if (!this.running) return;
    const plan = planTick(this.nextIndex, this.now() - this.startMs, this.fps);
    this.nextIndex = plan.nextIndex;
    if (plan.run !== null) {
      this.skippedTicks += plan.skipped;
      this.ticks += 1;
      const tick: PacerTick = {
        index: plan.run,
        ptsMs: tickDueMs(plan.run, this.fps),
        sampleFrames: sampleFramesForTick(plan.run, this.sampleRate, this.fps),
        skipped: plan.skipped,
      };
      try {
        this.onTick(tick);
      } catch {
        // A failing consumer must not stop the clock; the consumer reports its own errors.
      }
      if (!this.running) return;
      // Re-plan after the work, which may have taken a while.
      const after = planTick(this.nextIndex, this.now() - this.startMs, this.fps);
      this.timer = setTimeout(() => this.loop(), after.run === null ? after.waitMs : 0);
      return;
    }
    this.timer = setTimeout(() => this.loop(), plan.waitMs);
  }
}
