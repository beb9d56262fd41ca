/**
 * Participants as the layout engine sees them, and the ordering rules of each layout.
 * The egress never joins the call as a participant, so there is no egress user to exclude here:
 * every participant handed in is a remote one.
 */
import { matchesFilter } from './filter.js';

export interface LayoutParticipant {
  sessionId: string;
  userId: string;
  name?: string;
  image?: string;
  roles: string[];
  hasVideo: boolean;
  hasAudio: boolean;
  isSpeaking: boolean;
  isDominantSpeaker: boolean;
  /** when the participant was pinned for everyone (ms); absent = not pinned */
  pinnedAt?: number;
  joinedAt: number;
  /** published video size, when known */
  videoSize?: { width: number; height: number };
  /**
   * The participant's screen share, when the user shares one: its own session (the id its
   * decoded frames are found by) and its video size when known.
   */
  screenShare?: { sessionId: string; hasVideo: boolean; startedAt: number; videoSize?: { width: number; height: number } };
  /** true when the user has no camera session: the participant is only its screen share */
  shareOnly?: boolean;
}

type Comparator = (a: LayoutParticipant, b: LayoutParticipant) => number;

/** Sorts `true` first. */
const flag =
  (get: (p: LayoutParticipant) => boolean): Comparator =>
  (a, b) =>
    Number(get(b)) - Number(get(a));

const pinned: Comparator = (a, b) => {
  if (a.pinnedAt !== undefined && b.pinnedAt !== undefined) return b.pinnedAt - a.pinnedAt; // recent pins first
  return Number(b.pinnedAt !== undefined) - Number(a.pinnedAt !== undefined);
};
const dominant = flag((p) => p.isDominantSpeaker);
const speaking = flag((p) => p.isSpeaking);
const video = flag((p) => p.hasVideo);
const audio = flag((p) => p.hasAudio);
const joinOrder: Comparator = (a, b) => a.joinedAt - b.joinedAt || (a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : 0);

function chain(...comparators: Comparator[]): Comparator {
  return (a, b) => {
    for (const c of comparators) {
      const r = c(a, b);
      if (r !== 0) return r;
    }
    return 0;
  };
}

/**
 * Applies `comparator` only when one of the two participants is not currently on screen, so tiles
 * that are visible keep their places and off-screen speakers get promoted. Without visibility
 * information every participant counts as off-screen.
 */
function ifOffScreen(visible: ReadonlySet<string> | undefined, comparator: Comparator): Comparator {
  return (a, b) => (visible && visible.has(a.sessionId) && visible.has(b.sessionId) ? 0 : comparator(a, b));
}

/** Whether the session is currently on screen (previous scene), used by "only if off-screen" rules. */
export type Visibility = ReadonlySet<string> | undefined;

/** Screen-sharing participants first; among them the earliest share. */
const sharing: Comparator = (a, b) => {
  if (a.screenShare && b.screenShare) return a.screenShare.startedAt - b.screenShare.startedAt;
  return Number(b.screenShare !== undefined) - Number(a.screenShare !== undefined);
};

/** Whether anyone in the list shares a screen. */
export function anyoneSharing(ps: readonly LayoutParticipant[]): boolean {
  return ps.some((p) => p.screenShare !== undefined);
}

/** Spotlight order: screen sharing, pinned, dominant speaker, then (only if off-screen) speaking, video, audio; then join order. */
export function spotlightOrder(ps: readonly LayoutParticipant[], visible?: Visibility): LayoutParticipant[] {
  return [...ps].sort(chain(sharing, pinned, dominant, ifOffScreen(visible, chain(speaking, video, audio)), joinOrder));
}

/** Grid order: pinned, then (only if off-screen) dominant, speaking, video, audio; visible tiles keep join order. */
export function gridOrder(ps: readonly LayoutParticipant[], visible?: Visibility): LayoutParticipant[] {
  return [...ps].sort(chain(pinned, ifOffScreen(visible, chain(dominant, speaking, video, audio)), joinOrder));
}

/** Single-participant order, always applied: screen sharing, pinned, dominant, speaking, video, audio, join order. */
export function singleOrder(ps: readonly LayoutParticipant[]): LayoutParticipant[] {
  return [...ps].sort(chain(sharing, pinned, dominant, speaking, video, audio, joinOrder));
}

/** The record `participant.filter` is evaluated against. */
export function filterRecord(p: LayoutParticipant): Record<string, unknown> {
  return {
    userId: p.userId,
    name: p.name ?? '',
    roles: p.roles,
    isSpeaking: p.isSpeaking,
    isDominantSpeaker: p.isDominantSpeaker,
    isPinned: p.pinnedAt !== undefined,
    hasVideo: p.hasVideo,
    hasAudio: p.hasAudio,
    hasScreenShare: p.screenShare !== undefined,
  };
}

export function applyParticipantFilter(ps: readonly LayoutParticipant[], filter: unknown): LayoutParticipant[] {
  if (filter === undefined || filter === null) return [...ps];
  return ps.filter((p) => matchesFilter(filter, filterRecord(p)));
}

/** Initials: first letter of each of the first two words of name-or-id, upper-case. */
export function initialsOf(p: Pick<LayoutParticipant, 'name' | 'userId'>): string {
  const source = (p.name && p.name.trim()) || p.userId.trim();
  if (!source) return '';
  return source
    .split(/\s+/)
    .slice(0, 2)
    .map((w) => [...w][0] ?? '')
    .join('')
    .toUpperCase();
}

/** Stable 32-bit FNV-1a hash, used for deterministic shuffling. */
export function stableHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}
