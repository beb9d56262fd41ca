/**
 * Recent broadcast destinations the console remembers (localStorage), so an operator starts the
 * usual ones again without retyping them. Pure.
 *
 * The stream key itself is never kept: only a hint of its last four characters. A stream key is
 * the credential that lets anyone publish to the channel; localStorage is plain text on disk,
 * readable by every script of the origin, shared by everyone using the browser profile, and never
 * expires. The platforms show the key again whenever it is needed, so re-entering it is a small
 * price; the hint says which key to fetch.
 */

export interface RecentDestination {
  name: string;
  streamUrl: string;
  /** "5f1c": the last four characters of the key last used; "" without a key (or a short one). */
  keyHint: string;
  quality: string;
  layout: string;
  /** ms since the epoch of the last start. */
  usedAt: number;
}

export const RECENT_DESTINATIONS_KEY = 'callcast.console.destinations';
export const MAX_RECENT_DESTINATIONS = 6;

/** The last four characters of a key of eight or more; "" otherwise (too little to hide the rest). */
export function keyHint(key: string): string {
  return key.length >= 8 ? key.slice(-4) : '';
}

/** How a hint is shown: "••••5f1c". */
export function maskedHint(hint: string): string {
  return hint ? `••••${hint}` : '';
}

function isEntry(v: unknown): v is RecentDestination {
  if (!v || typeof v !== 'object') return false;
  const e = v as Record<string, unknown>;
  return (
    typeof e.name === 'string' &&
    e.name !== '' &&
    typeof e.streamUrl === 'string' &&
    /^rtmps?:\/\//i.test(e.streamUrl) &&
    typeof e.keyHint === 'string' &&
    e.keyHint.length <= 4 &&
    typeof e.quality === 'string' &&
    typeof e.layout === 'string' &&
    typeof e.usedAt === 'number'
  );
}

/** The stored list (newest first); anything malformed is dropped. Never carries a full key. */
export function parseRecentDestinations(raw: string | null): RecentDestination[] {
  if (!raw) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return [];
  }
  if (!Array.isArray(parsed)) return [];
  return parsed
    .filter(isEntry)
    .map((e) => ({ name: e.name, streamUrl: e.streamUrl, keyHint: e.keyHint, quality: e.quality, layout: e.layout, usedAt: e.usedAt }))
    .sort((a, b) => b.usedAt - a.usedAt)
    .slice(0, MAX_RECENT_DESTINATIONS);
}

/** The same destination: same name and URL. */
function same(a: { name: string; streamUrl: string }, b: { name: string; streamUrl: string }): boolean {
  return a.name === b.name && a.streamUrl === b.streamUrl;
}

/** Records a start: the destination moves to the top (a key hint only from the key given). */
export function rememberDestination(
  list: readonly RecentDestination[],
  started: { name: string; streamUrl: string; streamKey: string; quality: string; layout: string },
  nowMs: number,
): RecentDestination[] {
  const entry: RecentDestination = {
    name: started.name,
    streamUrl: started.streamUrl,
    keyHint: keyHint(started.streamKey),
    quality: started.quality,
    layout: started.layout,
    usedAt: nowMs,
  };
  return [entry, ...list.filter((e) => !same(e, entry))].slice(0, MAX_RECENT_DESTINATIONS);
}

export function forgetDestination(list: readonly RecentDestination[], which: { name: string; streamUrl: string }): RecentDestination[] {
  return list.filter((e) => !same(e, which));
}

export function serializeRecentDestinations(list: readonly RecentDestination[]): string {
  return JSON.stringify(
    list.map(({ name, streamUrl, keyHint, quality, layout, usedAt }) => ({ name, streamUrl, keyHint, quality, layout, usedAt })),
  );
}
