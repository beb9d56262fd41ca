/**
 * A call's live session and the events about who is in it and who speaks, fed by the media
 * plane's events: the session starts when the first participant joins and ends when the last one
 * leaves (call responses carry it as `call.session`); `call.speaking_changed` is published when
 * the set of speakers or the dominant speaker changes; `call.screen_share_started` / `_stopped`
 * when a user's screen share starts (its video arrives) and stops. Everyone leaves a call that
 * ends or is deleted.
 */
import { randomUUID } from 'node:crypto';
import type { EventBus } from '../events/contract.js';
import type { JsonObject } from '../wire/json.js';

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

  constructor(private readonly deps: { media: MediaPresence; bus: EventBus; now?: () => Date }) {
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
      if ((event.type === 'call.ended' || event.type === 'call.deleted') && event.call_cid) media.endCall(event.call_cid);
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

  /** Stops following the media plane and the bus. */
  close(): void {
    this.unsubscribe();
    for (const off of this.offMedia.splice(0)) off();
  }

  private stamp(): string {
    return (this.deps.now?.() ?? new Date()).toISOString();
  }

  private onJoined({ callCid, participant }: ParticipantEvent): void {
    let s = this.live.get(callCid);
    if (!s) this.live.set(callCid, (s = { id: randomUUID(), startedAt: this.stamp() }));
    this.deps.bus.publish({ type: 'call.session_participant_joined', call_cid: callCid, session_id: s.id, participant });
  }

  private onLeft({ callCid, participant }: ParticipantEvent): void {
    const s = this.live.get(callCid);
    if (s && this.deps.media.sessionParticipants(callCid).length === 0) this.live.delete(callCid);
    this.deps.bus.publish({ type: 'call.session_participant_left', call_cid: callCid, session_id: s?.id, participant });
  }

  private onShare(type: 'call.screen_share_started' | 'call.screen_share_stopped', e: ScreenShareChange): void {
    let s = this.live.get(e.callCid);
    // A share whose user has no camera session is a participant of the session by itself.
    if (!s && type === 'call.screen_share_started') this.live.set(e.callCid, (s = { id: randomUUID(), startedAt: this.stamp() }));
    if (s && type === 'call.screen_share_stopped' && this.deps.media.sessionParticipants(e.callCid).length === 0)
      this.live.delete(e.callCid);
    this.deps.bus.publish({
      type,
      call_cid: e.callCid,
      session_id: s?.id,
      user_id: e.userId,
      user_session_id: e.participant.user_session_id,
      participant: e.participant,
    });
  }

  private onSpeakerChanged({ callCid, dominantSessionId, dominantUserId }: SpeakerChange): void {
    this.deps.bus.publish({
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
    this.deps.bus.publish({
      type: 'call.speaking_changed',
      call_cid: callCid,
      speaking_session_ids: speaking,
      dominant_speaker_session_id: dominant,
    });
  }
}
