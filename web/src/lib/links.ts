/** The addresses the console hands out for a call. Pure. */

/** `{origin}/join/{type}/{id}`: the join page (guests need a token from the app, `?token=...`). */
export function joinLink(origin: string, type: string, id: string): string {
  return `${origin.replace(/\/+$/, '')}/join/${encodeURIComponent(type)}/${encodeURIComponent(id)}`;
}

/**
 * The join page with a display name filled in: with development tokens on, the page signs the
 * guest in under that name when they press Join.
 */
export function guestLink(origin: string, type: string, id: string, name: string): string {
  const trimmed = name.trim();
  return trimmed === '' ? joinLink(origin, type, id) : `${joinLink(origin, type, id)}?name=${encodeURIComponent(trimmed)}`;
}

/** A call id suggestion: "call-" and six letters or digits (ids are letters, digits, "_" and "-"). */
export function suggestCallId(random: () => number = Math.random): string {
  const alphabet = 'abcdefghijkmnpqrstuvwxyz23456789';
  let s = '';
  for (let i = 0; i < 6; i++) s += alphabet[Math.floor(random() * alphabet.length) % alphabet.length];
  return `call-${s}`;
}

export const CALL_PART_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
