/**
 * Who is in the call and who is speaking, kept from the call's session participants and the
 * events of the WebSocket. Pure: `applyRosterEvent` returns a new roster.
 *
 * Events understood:
 * - `call.session_participant_joined` / `_left` `{participant: {user_session_id, user, role, joined_at}}`
 * - `call.updated` / `call.created` with `call.session.participants` (replaces the list)
 * - `call.speaking_changed` `{speaking_session_ids: string[], dominant_speaker_session_id: string | null}`
 * - `call.dominant_speaker_changed` `{user_session_id | session_id, user_id}`
 * - `call.screen_share_started` / `_stopped` `{participant}`: the entry the share is listed under
 *   (the user's camera session, whose `published_tracks` gain or lose `screen_share`; or, for a
 *   user without a camera session, the share's own entry, which leaves with the share)
 */
import type { SessionParticipantJson } from './api.js';

export interface RosterEntry {
  sessionId: string;
  userId: string;
  name: string;
  joinedAt: string;
  speaking: boolean;
  dominant: boolean;
  /** What the session sends (`published_tracks`: audio, video, screen_share, ...); null when not said. */
  publishedTracks: readonly string[] | null;
}

export type Roster = readonly RosterEntry[];

function entryOf(p: SessionParticipantJson): RosterEntry | null {
  if (!p || typeof p.user_session_id !== 'string' || !p.user || typeof p.user.id !== 'string') return null;
  return {
    sessionId: p.user_session_id,
    userId: p.user.id,
    name: p.user.name && p.user.name.trim() !== '' ? p.user.name : p.user.id,
    joinedAt: p.joined_at ?? '',
    speaking: p.is_speaking === true,
    dominant: p.is_dominant_speaker === true,
    publishedTracks: stringList(p.published_tracks),
  };
}

/** The participant shares a screen (its `published_tracks` list `screen_share`). */
export function sharesScreen(entry: RosterEntry): boolean {
  return entry.publishedTracks?.includes('screen_share') === true;
}

/** The entry is a share of its own (a user sharing without a camera session): no camera to show. */
export function isShareOnly(entry: RosterEntry): boolean {
  const tracks = entry.publishedTracks;
  return tracks !== null && tracks.length > 0 && tracks.every((t) => t === 'screen_share' || t === 'screen_share_audio');
}

export function rosterFromParticipants(list: unknown): Roster {
  if (!Array.isArray(list)) return [];
  const out: RosterEntry[] = [];
  for (const p of list) {
    const e = entryOf(p as SessionParticipantJson);
    if (e && !out.some((x) => x.sessionId === e.sessionId)) out.push(e);
  }
  return out;
}

function stringList(v: unknown): string[] | null {
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : null;
}

export function applyRosterEvent(roster: Roster, event: Record<string, unknown>): Roster {
  switch (event.type) {
    case 'call.session_participant_joined': {
      const e = entryOf(event.participant as SessionParticipantJson);
      if (!e) return roster;
      return [...roster.filter((x) => x.sessionId !== e.sessionId), e];
    }
    case 'call.session_participant_left': {
      const p = event.participant as SessionParticipantJson | undefined;
      const sid = p?.user_session_id ?? (event.user_session_id as string | undefined);
      return sid ? roster.filter((x) => x.sessionId !== sid) : roster;
    }
    case 'call.created':
    case 'call.updated': {
      const call = event.call as { session?: { participants?: unknown } | null } | undefined;
      const list = call?.session?.participants;
      if (!Array.isArray(list)) return roster;
      // Session participants that do not say whether they speak keep what the speaking events said.
      return rosterFromParticipants(list).map((e) => {
        const p = (list as SessionParticipantJson[]).find((x) => x?.user_session_id === e.sessionId);
        const before = roster.find((x) => x.sessionId === e.sessionId);
        if (!before || !p) return e;
        return {
          ...e,
          speaking: typeof p.is_speaking === 'boolean' ? p.is_speaking : before.speaking,
          dominant: typeof p.is_dominant_speaker === 'boolean' ? p.is_dominant_speaker : before.dominant,
        };
      });
    }
    case 'call.screen_share_started':
    case 'call.screen_share_stopped': {
      const e = entryOf(event.participant as SessionParticipantJson);
      if (!e) return roster;
      const before = roster.find((x) => x.sessionId === e.sessionId);
      // A stopped share listed as an entry of its own leaves with it.
      if (event.type === 'call.screen_share_stopped' && isShareOnly(e)) return roster.filter((x) => x.sessionId !== e.sessionId);
      const next = before ? { ...e, speaking: before.speaking, dominant: before.dominant } : e;
      if (!before) return [...roster, next];
      return roster.map((x) => (x.sessionId === e.sessionId ? next : x));
    }
    case 'call.speaking_changed': {
      const speaking = stringList(event.speaking_session_ids) ?? [];
      const dominant = typeof event.dominant_speaker_session_id === 'string' ? event.dominant_speaker_session_id : null;
      return roster.map((x) => ({ ...x, speaking: speaking.includes(x.sessionId), dominant: x.sessionId === dominant }));
    }
    case 'call.dominant_speaker_changed': {
      const sid = (event.user_session_id ?? event.session_id) as string | undefined;
      const uid = event.user_id as string | undefined;
      return roster.map((x) => ({ ...x, dominant: sid ? x.sessionId === sid : x.userId === uid }));
    }
    default:
      return roster;
  }
}
