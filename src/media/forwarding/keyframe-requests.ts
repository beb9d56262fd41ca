/**
 * Keyframe requests (PLI/FIR) to one publisher's video track, however many ask (subscribers that
 * join or lose the picture, the track's decoder): at most one per `intervalMs`. A request inside
 * the interval is not lost: one more goes out when the interval ends, for everyone who asked
 * meanwhile (so each asker gets a keyframe requested at most one interval after asking).
 */

export interface KeyframeRequestsOptions {
  /** sends one request to the publisher */
  send: () => void;
  intervalMs?: number;
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => { cancel(): void };
}

const defaultTimer = (fn: () => void, ms: number) => {
  const t = setTimeout(fn, ms);
  t.unref();
  return { cancel: () => clearTimeout(t) };
};

export class KeyframeRequests {
  private lastSentAt = -Infinity;
  private trailing: { cancel(): void } | undefined;
  private closed = false;
  /** requests sent to the publisher */
  sent = 0;
  /** requests folded into one already sent or scheduled */
  coalesced = 0;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private readonly setTimer: NonNullable<KeyframeRequestsOptions['setTimer']>;

  constructor(private readonly options: KeyframeRequestsOptions) {
    this.intervalMs = options.intervalMs ?? 1000;
    this.now = options.now ?? Date.now;
    this.setTimer = options.setTimer ?? defaultTimer;
  }

  request(): void {
    if (this.closed) return;
    const now = this.now();
    const wait = this.lastSentAt + this.intervalMs - now;
    if (wait <= 0) {
      this.fire(now);
      return;
    }
    this.coalesced += 1;
    if (this.trailing) return;
    this.trailing = this.setTimer(() => {
      this.trailing = undefined;
      if (!this.closed) this.fire(this.now());
    }, wait);
  }

  private fire(now: number): void {
    this.lastSentAt = now;
    this.sent += 1;
    try {
      this.options.send();
    } catch {
      /* the publisher may be gone */
    }
  }

  close(): void {
    this.closed = true;
    this.trailing?.cancel();
    this.trailing = undefined;
  }
}
