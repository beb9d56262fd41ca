/**
 * The call grid of the join page: one tile per other participant with their video, their sound,
 * their name and a speaking indicator (the share stage is another grid: one large tile per screen
 * shared by someone else, subscribed with `?track_type=screen_share`). Each tile holds a WHEP subscription to that participant,
 * re-established with backoff when it fails; a tile whose video brings no new frame for a while
 * (camera off) shows the participant's placeholder.
 */
import { backoffDelay } from '../lib/backoff.js';
import { h } from '../lib/dom.js';
import type { Roster, RosterEntry } from '../lib/roster.js';
import { WhepSubscriber } from '../lib/whep.js';

/** How long without a new decoded frame before a tile shows the placeholder. */
const VIDEO_OFF_AFTER_MS = 1500;

export interface CallGridOptions {
  /** The WHEP endpoint (with api_key) for a participant's session. */
  endpointFor: (sessionId: string) => string;
  token: string;
  /** Which of the others get a tile (default: all). */
  include?: (entry: RosterEntry) => boolean;
  /** What a tile shows, for its label (default: `Video of NAME`). */
  describe?: (name: string) => string;
  /** An extra class of every tile (e.g. `share-tile`). */
  tileClass?: string;
}

interface Tile {
  entry: RosterEntry;
  el: HTMLElement;
  video: HTMLVideoElement;
  nameEl: HTMLElement;
  subscriber: WhepSubscriber | null;
  attempt: number;
  retry: ReturnType<typeof setTimeout> | null;
  lastFrameAt: number;
  frames: number;
  closed: boolean;
}

function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  return (parts.length > 1 ? `${parts[0]![0]}${parts[parts.length - 1]![0]}` : (parts[0] ?? '?').slice(0, 2)).toUpperCase();
}

export class CallGrid {
  private readonly tiles = new Map<string, Tile>();
  private readonly watchdog: ReturnType<typeof setInterval>;

  constructor(
    private readonly container: HTMLElement,
    private readonly opts: CallGridOptions,
  ) {
    this.watchdog = setInterval(() => this.checkVideo(), 500);
  }

  /** Brings the tiles in line with the roster (everyone but `selfUserId`). */
  update(roster: Roster, selfUserId: string): void {
    const include = this.opts.include ?? (() => true);
    const others = roster.filter((p) => p.userId !== selfUserId && include(p));
    for (const [sid, tile] of this.tiles) {
      // A participant who left: the server has ended the subscription with them.
      if (!others.some((p) => p.sessionId === sid)) this.remove(tile, false);
    }
    for (const entry of others) {
      const tile = this.tiles.get(entry.sessionId);
      if (tile) {
        tile.entry = entry;
        this.paint(tile);
      } else {
        this.add(entry);
      }
    }
    this.container.dataset.count = String(this.tiles.size);
  }

  close(): void {
    clearInterval(this.watchdog);
    for (const tile of [...this.tiles.values()]) this.remove(tile, true);
  }

  private add(entry: RosterEntry): void {
    const describe = this.opts.describe ?? ((name: string) => `Video of ${name}`);
    const video = h('video', { autoplay: true, playsinline: true, class: 'tile-video', 'aria-label': describe(entry.name) });
    const nameEl = h('span', { class: 'tile-name' }, entry.name);
    const el = h(
      'figure',
      {
        class: `tile video-off${this.opts.tileClass ? ` ${this.opts.tileClass}` : ''}`,
        'data-session-id': entry.sessionId,
        'data-user-id': entry.userId,
        'aria-label': this.opts.describe ? describe(entry.name) : entry.name,
      },
      video,
      h('div', { class: 'tile-placeholder', 'aria-hidden': 'true' }, h('span', { class: 'tile-initials' }, initials(entry.name))),
      h('figcaption', { class: 'tile-caption' }, nameEl, h('span', { class: 'badge speaking tile-speaking' }, 'speaking')),
    );
    const tile: Tile = { entry, el, video, nameEl, subscriber: null, attempt: 0, retry: null, lastFrameAt: 0, frames: 0, closed: false };
    this.tiles.set(entry.sessionId, tile);
    this.container.append(el);
    this.watchFrames(tile);
    this.paint(tile);
    void this.subscribe(tile);
  }

  private remove(tile: Tile, release: boolean): void {
    tile.closed = true;
    if (tile.retry) clearTimeout(tile.retry);
    this.tiles.delete(tile.entry.sessionId);
    void tile.subscriber?.stop(release);
    tile.subscriber = null;
    tile.video.srcObject = null;
    tile.el.remove();
    this.container.dataset.count = String(this.tiles.size);
  }

  private paint(tile: Tile): void {
    tile.nameEl.textContent = tile.entry.name;
    tile.el.classList.toggle('is-speaking', tile.entry.speaking || tile.entry.dominant);
    tile.el.dataset.speaking = String(tile.entry.speaking || tile.entry.dominant);
  }

  private async subscribe(tile: Tile): Promise<void> {
    if (tile.closed) return;
    const sub = new WhepSubscriber(this.opts.endpointFor(tile.entry.sessionId), this.opts.token);
    tile.subscriber = sub;
    tile.el.dataset.state = 'connecting';
    try {
      const stream = await sub.subscribe((state) => {
        if (tile.subscriber !== sub) return;
        tile.el.dataset.state = state;
        if (state === 'connected') tile.attempt = 0;
        if (state === 'failed' || state === 'closed') this.resubscribe(tile, sub);
      });
      if (tile.closed || tile.subscriber !== sub) return void sub.stop();
      tile.video.srcObject = stream;
      void tile.video.play().catch(() => undefined);
    } catch {
      this.resubscribe(tile, sub);
    }
  }

  /** After a failed or lost subscription: a new one after a backoff, while the participant is here. */
  private resubscribe(tile: Tile, failed: WhepSubscriber): void {
    if (tile.closed || tile.subscriber !== failed || tile.retry) return;
    void failed.stop(false);
    tile.subscriber = null;
    tile.el.dataset.state = 'reconnecting';
    const delay = backoffDelay(tile.attempt++);
    tile.retry = setTimeout(() => {
      tile.retry = null;
      void this.subscribe(tile);
    }, delay);
  }

  private watchFrames(tile: Tile): void {
    const video = tile.video;
    if (typeof video.requestVideoFrameCallback !== 'function') return;
    const onFrame = () => {
      if (tile.closed) return;
      tile.lastFrameAt = performance.now();
      tile.frames++;
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  }

  private checkVideo(): void {
    const now = performance.now();
    for (const tile of this.tiles.values()) {
      const off = tile.lastFrameAt === 0 || now - tile.lastFrameAt > VIDEO_OFF_AFTER_MS;
      tile.el.classList.toggle('video-off', off);
      tile.el.dataset.video = off ? 'off' : 'playing';
      tile.el.dataset.frames = String(tile.frames);
    }
  }
}
