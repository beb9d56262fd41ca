/**
 * Who is in the call and who is speaking, kept from the call's session participants and the
 * events of the WebSocket. Pure: `applyRosterEvent` returns a new roster.
 *
 * Events understood:
 * - `call.session_participant_joined` / `_left` `{participant: {user_session_id, user, role, joined_at}}`
 * - `call.updated` / `call.created` with `call.session.participants` (replaces the list)
 * - `call.speaking_changed` `{speaking_session_ids: string[], dominant_speaker_session_id: string | null}`
 * - `call.dominant_speaker_changed` `{user_session_id | session_id, user_id}`
 */
import type { SessionParticipantJson } from './api.js';

export interface RosterEntry {
  sessionId: string;
  userId: string;
  name: string;
  joinedAt: string;
  speaking: boolean;
  dominant: boolean;
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
  };
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
