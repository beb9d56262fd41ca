/**
 * A call's live session and the events about who is in it and who speaks, fed by the media
 * plane's events: the session starts when the first participant joins and ends when the last one
 * leaves (call responses carry it as `call.session`); `call.speaking_changed` is published when
 * the set of speakers or the dominant speaker changes; `call.screen_share_started` / `_stopped`
 * when a user's screen share starts (its video arrives) and stops. Everyone leaves a call that
 * ends or is deleted.
 *
 * A session with nobody in it (no participant of the media plane) lives on for the call's
 * `session.inactivity_timeout_seconds`: someone who joins meanwhile continues it; past that it
 * ends. It starts and ends with `call.session_started` / `call.session_ended` (with `session_id`
 * and the call), and ends at once when the call ends or is deleted. Ending a session stops
 * nothing else (broadcasts, HLS and recordings go on; the call does not end).
 */
import { randomUUID } from 'node:crypto';
import type { EventBus, NewEvent } from '../events/contract.js';
import { describeError, type Logger } from '../log.js';
import type { JsonObject } from '../wire/json.js';
import { dig } from './settings.js';

/** How long an empty session lives on (ms), from the call's effective settings. Pure. */
export function inactivityTimeoutMs(settings: JsonObject): number {
  const seconds = dig(settings, ['session', 'inactivity_timeout_seconds']);
  return typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 0;
}

export interface LiveSessionsDeps {
  media: MediaPresence;
  bus: EventBus;
  now?: () => Date;
  /**
   * How long a session with nobody in it lives on before it ends (ms): the call's
   * `session.inactivity_timeout_seconds`. Absent: it ends as the last participant leaves.
   */
  inactivityTimeoutMs?: (callCid: string) => Promise<number>;
  /** The call response `call.session_started` / `call.session_ended` carry. */
  callJson?: (callCid: string) => Promise<JsonObject | null>;
  log?: Logger;
}

/** A participant as `call.session.participants` lists it (the media plane's SessionParticipant). */
export interface SessionParticipantView {
  user_session_id: string;
  role: string;
}

export interface ParticipantEvent {
  callCid: string;
  participant: SessionParticipantView;
}

export interface ScreenShareChange {
  callCid: string;
  shareSessionId: string;
  userId: string;
  participant: SessionParticipantView;
}

export interface SpeakerChange {
  callCid: string;
  dominantSessionId: string | undefined;
  dominantUserId: string | undefined;
}

/** What this unit reads from the media plane (CallMedia fits). */
export interface MediaPresence {
  on(event: 'participant_joined' | 'participant_left', listener: (e: ParticipantEvent) => void): unknown;
  on(event: 'speaker_changed', listener: (e: SpeakerChange) => void): unknown;
  on(event: 'screen_share_started' | 'screen_share_stopped', listener: (e: ScreenShareChange) => void): unknown;
  on(event: 'changed', listener: (callCid: string) => void): unknown;
  off(event: 'participant_joined' | 'participant_left', listener: (e: ParticipantEvent) => void): unknown;
  off(event: 'speaker_changed', listener: (e: SpeakerChange) => void): unknown;
  off(event: 'screen_share_started' | 'screen_share_stopped', listener: (e: ScreenShareChange) => void): unknown;
  off(event: 'changed', listener: (callCid: string) => void): unknown;
  participants(callCid: string): ReadonlyArray<{ sessionId: string; isSpeaking: boolean; isDominantSpeaker: boolean }>;
  sessionParticipants(callCid: string): SessionParticipantView[];
  endCall(callCid: string): void;
}

export class LiveSessions {
  private readonly live = new Map<string, { id: string; startedAt: string }>();
  private readonly lastSpeaking = new Map<string, string>();
  private readonly unsubscribe: () => void;
  private readonly offMedia: Array<() => void> = [];
  /** Empty sessions waiting out their inactivity timeout. */
  private readonly idle = new Map<string, { timer?: NodeJS.Timeout }>();
  /** Session events go out in order (each waits for its call response). */
  private events: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly deps: LiveSessionsDeps) {
    const { media, bus } = deps;
    const joined = (e: ParticipantEvent) => this.onJoined(e);
    const left = (e: ParticipantEvent) => this.onLeft(e);
    const speaker = (e: SpeakerChange) => this.onSpeakerChanged(e);
    const changed = (cid: string) => this.onChanged(cid);
    const shareStarted = (e: ScreenShareChange) => this.onShare('call.screen_share_started', e);
    const shareStopped = (e: ScreenShareChange) => this.onShare('call.screen_share_stopped', e);
    media.on('screen_share_started', shareStarted);
    media.on('screen_share_stopped', shareStopped);
    media.on('participant_joined', joined);
    media.on('participant_left', left);
    media.on('speaker_changed', speaker);
    media.on('changed', changed);
    this.offMedia.push(
      () => media.off('screen_share_started', shareStarted),
      () => media.off('screen_share_stopped', shareStopped),
      () => media.off('participant_joined', joined),
      () => media.off('participant_left', left),
      () => media.off('speaker_changed', speaker),
      () => media.off('changed', changed),
    );
    this.unsubscribe = bus.subscribe((event) => {
      if ((event.type === 'call.ended' || event.type === 'call.deleted') && event.call_cid) {
        media.endCall(event.call_cid);
        this.end(event.call_cid, event.type === 'call.ended' ? 'call_ended' : 'call_deleted');
      }
    });
  }

  /** The CallSessionResponse of the call while anyone is in it. */
  session(callCid: string): (JsonObject & { id: string }) | null {
    const s = this.live.get(callCid);
    if (!s) return null;
    const participants = this.deps.media.sessionParticipants(callCid);
    const byRole: Record<string, number> = {};
    for (const p of participants) byRole[p.role] = (byRole[p.role] ?? 0) + 1;
    return {
      id: s.id,
      participants,
      participants_count_by_role: byRole,
      anonymous_participant_count: 0,
      accepted_by: {},
      rejected_by: {},
      missed_by: {},
      started_at: s.startedAt,
    };
  }

  /** The cids of the calls with a live session. */
  liveCids(): string[] {
    return [...this.live.keys()];
  }

  /** Empty sessions waiting out their inactivity timeout (for tests). */
  idleCids(): string[] {
    return [...this.idle.keys()];
  }

  /** Stops following the media plane and the bus. */
  close(): void {
    this.closed = true;
    this.unsubscribe();
    for (const off of this.offMedia.splice(0)) off();
    for (const i of this.idle.values()) clearTimeout(i.timer);
    this.idle.clear();
  }

  /** A session (new or continued) for the call, which someone is in now. */
  private begin(callCid: string): { id: string; startedAt: string } {
    this.cancelIdle(callCid);
    let s = this.live.get(callCid);
    if (!s) {
      this.live.set(callCid, (s = { id: randomUUID(), startedAt: this.stamp() }));
      this.publishWithCall({ type: 'call.session_started', call_cid: callCid, session_id: s.id });
    }
    return s;
  }

  /** Nobody is in the call: the session ends after the inactivity timeout (at once without one). */
  private emptied(callCid: string): void {
    if (!this.live.has(callCid) || this.idle.has(callCid)) return;
    const lookup = this.deps.inactivityTimeoutMs;
    if (!lookup) {
      this.end(callCid, 'inactivity');
      return;
    }
    const entry: { timer?: NodeJS.Timeout } = {};
    this.idle.set(callCid, entry);
    lookup(callCid)
      .catch((err: unknown) => {
        this.deps.log?.warn({ callCid, err: describeError(err) }, 'inactivity timeout unknown; the empty session ends now');
        return 0;
      })
      .then((ms) => {
        if (this.closed || this.idle.get(callCid) !== entry) return;
        entry.timer = setTimeout(() => {
          if (this.idle.get(callCid) !== entry) return;
          this.idle.delete(callCid);
          if (this.deps.media.sessionParticipants(callCid).length === 0) this.end(callCid, 'inactivity');
        }, ms);
        entry.timer.unref();
      });
  }

  private cancelIdle(callCid: string): void {
    const i = this.idle.get(callCid);
    if (!i) return;
    clearTimeout(i.timer);
    this.idle.delete(callCid);
  }

  /** Ends the call's session, if it has one (call.session_ended). */
  private end(callCid: string, reason: string): void {
    this.cancelIdle(callCid);
    const s = this.live.get(callCid);
    if (!s) return;
    this.live.delete(callCid);
    this.lastSpeaking.delete(callCid);
    this.deps.log?.info({ callCid, sessionId: s.id, reason }, 'call session ended');
    this.publishWithCall({ type: 'call.session_ended', call_cid: callCid, session_id: s.id });
  }

  /** Publishes a session event with the call response (when one can be had). */
  private publishWithCall(event: NewEvent & { call_cid: string }): void {
    const callJson = this.deps.callJson;
    this.publish(event, callJson ? () => callJson(event.call_cid) : undefined);
  }

  /**
   * Publishes an event; with call responses to fetch, every event waits its turn, so they go out
   * in the order they happened (call.session_started before its first participant_joined).
   */
  private publish(event: NewEvent, call?: () => Promise<JsonObject | null>): void {
    if (!this.deps.callJson) {
      this.deps.bus.publish(event);
      return;
    }
    this.events = this.events
      .then(async () => {
        const json = call ? await call().catch(() => null) : null;
        this.deps.bus.publish(json ? { ...event, call: json } : event);
      })
      .catch((err: unknown) => this.deps.log?.error({ eventType: event.type, err: describeError(err) }, 'event could not be published'));
  }

  private stamp(): string {
    return (this.deps.now?.() ?? new Date()).toISOString();
  }

  private onJoined({ callCid, participant }: ParticipantEvent): void {
    const s = this.begin(callCid);
    this.publish({ type: 'call.session_participant_joined', call_cid: callCid, session_id: s.id, participant });
  }

  private onLeft({ callCid, participant }: ParticipantEvent): void {
    const s = this.live.get(callCid);
    this.publish({ type: 'call.session_participant_left', call_cid: callCid, session_id: s?.id, participant });
    if (s && this.deps.media.sessionParticipants(callCid).length === 0) this.emptied(callCid);
  }

  private onShare(type: 'call.screen_share_started' | 'call.screen_share_stopped', e: ScreenShareChange): void {
    // A share whose user has no camera session is a participant of the session by itself.
    const s = type === 'call.screen_share_started' ? this.begin(e.callCid) : this.live.get(e.callCid);
    this.publish({
      type,
      call_cid: e.callCid,
      session_id: s?.id,
      user_id: e.userId,
      user_session_id: e.participant.user_session_id,
      participant: e.participant,
    });
    if (s && type === 'call.screen_share_stopped' && this.deps.media.sessionParticipants(e.callCid).length === 0) {
      this.emptied(e.callCid);
    }
  }

  private onSpeakerChanged({ callCid, dominantSessionId, dominantUserId }: SpeakerChange): void {
    this.publish({
      type: 'call.dominant_speaker_changed',
      call_cid: callCid,
      user_session_id: dominantSessionId,
      user_id: dominantUserId,
    });
  }

  private onChanged(callCid: string): void {
    const ps = this.deps.media.participants(callCid);
    const speaking = ps
      .filter((p) => p.isSpeaking)
      .map((p) => p.sessionId)
      .sort();
    const dominant = ps.find((p) => p.isDominantSpeaker)?.sessionId ?? null;
    const key = `${speaking.join(',')}|${dominant ?? ''}`;
    if ((this.lastSpeaking.get(callCid) ?? '|') === key) return;
    if (ps.length === 0) this.lastSpeaking.delete(callCid);
    else this.lastSpeaking.set(callCid, key);
    this.publish({
      type: 'call.speaking_changed',
      call_cid: callCid,
      speaking_session_ids: speaking,
      dominant_speaker_session_id: dominant,
    });
  }
}
