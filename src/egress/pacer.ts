/**
 * One clock for a broadcast group: ticks at the output frame rate, each tick carrying the video
 * frame's presentation time and exactly the number of PCM sample frames that belong to it, so
 * audio and video are produced in lock-step.
 *
 * The schedule is computed from the start time (tick i is due at start + i * 1000 / fps), so it
 * does not drift. After a short stall the missed ticks are run one after another (catch-up), so
 * every tick's sound reaches the output and it stays continuous; only a stall longer than
 * `maxCatchUpTicks` skips ticks, and the sound they carried is counted as lost
 * (`skippedSampleFrames`). A consumer that cannot take a tick (its encoder is not keeping up) hands
 * it back, and it is offered again shortly, rather than being dropped with its sound.
 */

/** Ticks a pacer runs back to back after a stall before it skips instead: half a second. */
export function defaultMaxCatchUpTicks(fps: number): number {
  return Math.max(1, Math.round(fps / 2));
}

/** Milliseconds before a tick handed back by the consumer is offered again. */
export const RETRY_MS = 5;

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
 * At most one tick runs per call. When several are due, the oldest runs (catch-up) as long as no
 * more than `maxCatchUpTicks` are behind it; further behind, all but the latest are skipped.
 */
export function planTick(nextIndex: number, elapsedMs: number, fps: number, maxCatchUpTicks = defaultMaxCatchUpTicks(fps)): TickPlan {
  // The latest tick index whose due time has passed (small epsilon for timer rounding).
  const latestDue = Math.floor(((elapsedMs + 0.5) * fps) / 1000);
  if (latestDue < nextIndex) {
    return { run: null, skipped: 0, nextIndex, waitMs: Math.max(0, tickDueMs(nextIndex, fps) - elapsedMs) };
  }
  const behind = latestDue - nextIndex;
  const run = behind <= maxCatchUpTicks ? nextIndex : latestDue;
  const skipped = run - nextIndex;
  const following = run + 1;
  return { run, skipped, nextIndex: following, waitMs: Math.max(0, tickDueMs(following, fps) - elapsedMs) };
}

export interface PacerTick {
  /** Tick index since the pacer started (gaps when ticks were skipped). */
  index: number;
  /** Presentation time of this tick's video frame, ms since start. */
  ptsMs: number;
  /** PCM sample frames that belong to this tick (the skipped ticks' share is not included). */
  sampleFrames: number;
  /** Ticks skipped just before this one. */
  skipped: number;
  /** PCM sample frames the skipped ticks carried: sound the output lost. */
  skippedSampleFrames: number;
}

export interface PacerOptions {
  fps: number;
  sampleRate: number;
  /**
   * Runs one tick. Returning false hands it back (the consumer cannot take it now): it is offered
   * again after RETRY_MS, or skipped with the others if the clock falls too far behind.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: consumers that always take their ticks return nothing
  onTick: (tick: PacerTick) => boolean | void;
  /** Milliseconds clock; default performance.now(). */
  now?: () => number;
  /** See planTick; default defaultMaxCatchUpTicks(fps). */
  maxCatchUpTicks?: number;
}

export class Pacer {
  private readonly fps: number;
  private readonly sampleRate: number;
  // biome-ignore lint/suspicious/noConfusingVoidType: consumers that always take their ticks return nothing
  private readonly onTick: (tick: PacerTick) => boolean | void;
  private readonly now: () => number;
  private readonly maxCatchUpTicks: number;
  private startMs = 0;
  private nextIndex = 0;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  /** Ticks run since start. */
  ticks = 0;
  /** Ticks skipped since start. */
  skippedTicks = 0;
  /** PCM sample frames the skipped ticks carried (sound lost from the output). */
  skippedSampleFrames = 0;
  /** Ticks run late, after a stall (catch-up). */
  lateTicks = 0;
  /** Times the consumer handed a tick back. */
  deferredTicks = 0;

  constructor(opts: PacerOptions) {
    this.fps = opts.fps;
    this.sampleRate = opts.sampleRate;
    this.onTick = opts.onTick;
    this.now = opts.now ?? (() => performance.now());
    this.maxCatchUpTicks = opts.maxCatchUpTicks ?? defaultMaxCatchUpTicks(opts.fps);
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
    const elapsed = this.now() - this.startMs;
    const plan = planTick(this.nextIndex, elapsed, this.fps, this.maxCatchUpTicks);
    if (plan.run !== null) {
      let skippedSampleFrames = 0;
      for (let i = this.nextIndex; i < plan.run; i++) skippedSampleFrames += sampleFramesForTick(i, this.sampleRate, this.fps);
      const tick: PacerTick = {
        index: plan.run,
        ptsMs: tickDueMs(plan.run, this.fps),
        sampleFrames: sampleFramesForTick(plan.run, this.sampleRate, this.fps),
        skipped: plan.skipped,
        skippedSampleFrames,
      };
      // The skipped ticks are gone whether or not the consumer takes this one.
      this.skippedTicks += plan.skipped;
      this.skippedSampleFrames += skippedSampleFrames;
      this.nextIndex = plan.run;
      let taken = true;
      try {
        taken = this.onTick(tick) !== false;
      } catch {
        // A failing consumer must not stop the clock; the consumer reports its own errors.
      }
      if (!this.running) return;
      if (!taken) {
        this.deferredTicks += 1;
        this.timer = setTimeout(() => this.loop(), RETRY_MS);
        return;
      }
      this.nextIndex = plan.nextIndex;
      this.ticks += 1;
      if (elapsed - tickDueMs(plan.run, this.fps) >= 1000 / this.fps) this.lateTicks += 1;
      // Re-plan after the work, which may have taken a while.
      const after = planTick(this.nextIndex, this.now() - this.startMs, this.fps, this.maxCatchUpTicks);
      this.timer = setTimeout(() => this.loop(), after.run === null ? after.waitMs : 0);
      return;
    }
    this.nextIndex = plan.nextIndex;
    this.timer = setTimeout(() => this.loop(), plan.waitMs);
  }
}
