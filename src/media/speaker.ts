/**
 * Speaking and dominant-speaker detection from audio levels, with hysteresis (pure; time is an
 * argument). A participant is speaking while their smoothed level is above the threshold (with a
 * short hold so gaps between words do not flicker). The dominant speaker is sticky: another
 * participant takes over only after being the loudest speaker continuously for `takeoverMs`, so
 * coughs and short noises never flip it; it stays while silent, as an SFU's dominant speaker does.
 */

export interface SpeakerOptions {
  /** smoothed level (dBFS) above which a participant counts as speaking */
  speakingDbfs: number;
  /** how long speaking stays true after the level drops */
  holdMs: number;
  /** how long a speaker must lead before becoming dominant */
  takeoverMs: number;
  /** time constant of the level smoothing */
  smoothingMs: number;
}

export const DEFAULT_SPEAKER_OPTIONS: SpeakerOptions = { speakingDbfs: -45, holdMs: 500, takeoverMs: 1000, smoothingMs: 150 };

interface Track {
  level: number;
  lastAt: number | undefined;
  lastLoudAt: number | undefined;
  speaking: boolean;
}

export interface SpeakerState {
  speaking: ReadonlySet<string>;
  dominant: string | undefined;
}

const FLOOR_DBFS = -100;

export class SpeakerDetector {
  private readonly tracks = new Map<string, Track>();
  private dominant: string | undefined;
  private leader: { id: string; since: number } | undefined;
  private readonly options: SpeakerOptions;

  constructor(options: Partial<SpeakerOptions> = {}) {
    this.options = { ...DEFAULT_SPEAKER_OPTIONS, ...options };
  }

  /** Feeds one level measurement (dBFS of a short chunk) for `id` at `nowMs`. */
  observe(id: string, dbfs: number, nowMs: number): void {
    const t = this.tracks.get(id) ?? { level: FLOOR_DBFS, lastAt: undefined, lastLoudAt: undefined, speaking: false };
    const level = Number.isFinite(dbfs) ? Math.max(FLOOR_DBFS, dbfs) : FLOOR_DBFS;
    const dt = t.lastAt === undefined ? this.options.smoothingMs : Math.max(0, nowMs - t.lastAt);
    const alpha = 1 - Math.exp(-dt / this.options.smoothingMs);
    t.level = t.level + alpha * (level - t.level);
    t.lastAt = nowMs;
    if (t.level >= this.options.speakingDbfs) t.lastLoudAt = nowMs;
    this.tracks.set(id, t);
  }

  remove(id: string): void {
    this.tracks.delete(id);
    if (this.dominant === id) this.dominant = undefined;
    if (this.leader?.id === id) this.leader = undefined;
  }

  level(id: string): number | undefined {
    return this.tracks.get(id)?.level;
  }

  /** Re-evaluates speaking flags and the dominant speaker at `nowMs`. */
  update(nowMs: number): SpeakerState {
    const speaking = new Set<string>();
    let loudest: string | undefined;
    let loudestLevel = -Infinity;
    for (const [id, t] of this.tracks) {
      // A track that stopped delivering audio decays to silence.
      if (t.lastAt !== undefined && nowMs - t.lastAt > this.options.holdMs) t.level = FLOOR_DBFS;
      t.speaking = t.lastLoudAt !== undefined && nowMs - t.lastLoudAt <= this.options.holdMs;
      if (!t.speaking) continue;
      speaking.add(id);
      if (t.level > loudestLevel) {
        loudestLevel = t.level;
        loudest = id;
      }
    }
    if (loudest === undefined || loudest === this.dominant) {
      this.leader = undefined;
    } else if (this.leader?.id !== loudest) {
      this.leader = { id: loudest, since: nowMs };
    }
    if (this.leader && nowMs - this.leader.since >= this.options.takeoverMs) {
      this.dominant = this.leader.id;
      this.leader = undefined;
    }
    return { speaking, dominant: this.dominant };
  }
}
