/** LiveSessions: the call session and the speaking events, from the media plane's events. */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { LiveSessions, type SessionParticipantView } from '../../src/calls/live-sessions.js';
import { InProcessEventBus } from '../../src/events/bus.js';
import type { WireEvent } from '../../src/events/contract.js';

/** The media plane as LiveSessions reads it: participants per call, events emitted by the test. */
class MediaEvents extends EventEmitter {
  readonly people = new Map<
    string,
    Array<SessionParticipantView & { sessionId: string; isSpeaking: boolean; isDominantSpeaker: boolean }>
  >();
  readonly ended: string[] = [];
  participants(cid: string) {
    return this.people.get(cid) ?? [];
  }
  sessionParticipants(cid: string): SessionParticipantView[] {
    return (this.people.get(cid) ?? []).map((p) => ({ user_session_id: p.user_session_id, role: p.role }));
  }
  endCall(cid: string): void {
    this.ended.push(cid);
  }
}

test('a session lives from the first join to the last leave; speaking events only on change; an ended call is left', () => {
  const media = new MediaEvents();
  const bus = new InProcessEventBus();
  const events: WireEvent[] = [];
  bus.subscribe((e) => events.push(e));
  const sessions = new LiveSessions({ media, bus });
  const cid = 'default:c1';
  const ada = { user_session_id: 's1', sessionId: 's1', role: 'user', isSpeaking: false, isDominantSpeaker: false };

  assert.equal(sessions.session(cid), null);
  media.people.set(cid, [ada]);
  media.emit('participant_joined', { callCid: cid, participant: ada });
  const session = sessions.session(cid);
  assert.ok(session);
  assert.deepEqual(session.participants_count_by_role, { user: 1 });
  const joined = events.find((e) => e.type === 'call.session_participant_joined');
  assert.equal(joined?.session_id, session.id);
  assert.equal(typeof joined?.created_at, 'string', 'the bus stamps created_at');

  ada.isSpeaking = true;
  ada.isDominantSpeaker = true;
  media.emit('changed', cid);
  media.emit('changed', cid);
  const speaking = events.filter((e) => e.type === 'call.speaking_changed');
  assert.equal(speaking.length, 1, 'published once per change');
  assert.deepEqual([speaking[0]!.speaking_session_ids, speaking[0]!.dominant_speaker_session_id], [['s1'], 's1']);
  media.emit('speaker_changed', { callCid: cid, dominantSessionId: 's1', dominantUserId: 'ada' });
  assert.equal(events.find((e) => e.type === 'call.dominant_speaker_changed')?.user_id, 'ada');

  media.people.set(cid, []);
  media.emit('participant_left', { callCid: cid, participant: ada });
  assert.equal(events.find((e) => e.type === 'call.session_participant_left')?.session_id, session.id);
  assert.equal(sessions.session(cid), null);

  bus.publish({ type: 'call.ended', call_cid: cid });
  assert.deepEqual(media.ended, [cid]);
  sessions.close();
  bus.publish({ type: 'call.ended', call_cid: 'default:c2' });
  media.emit('participant_joined', { callCid: cid, participant: ada });
  assert.deepEqual(media.ended, [cid], 'closed: no longer follows the bus');
  assert.equal(sessions.session(cid), null, 'closed: no longer follows the media plane');
});

test('an empty session lives on for the inactivity timeout: a join continues it, then it ends (call.session_ended)', async () => {
  const media = new MediaEvents();
  const bus = new InProcessEventBus();
  const events: WireEvent[] = [];
  bus.subscribe((e) => events.push(e));
  const timeouts: string[] = [];
  const sessions = new LiveSessions({
    media,
    bus,
    inactivityTimeoutMs: async (cid) => {
      timeouts.push(cid);
      return 300;
    },
    callJson: async (cid) => ({ cid, marker: 'call' }),
  });
  const cid = 'default:idle';
  const ada = { user_session_id: 's1', sessionId: 's1', role: 'user', isSpeaking: false, isDominantSpeaker: false };
  const types = () => events.filter((e) => e.call_cid === cid).map((e) => e.type);
  const settle = () => new Promise((r) => setTimeout(r, 20));

  media.people.set(cid, [ada]);
  media.emit('participant_joined', { callCid: cid, participant: ada });
  const id = sessions.session(cid)?.id;
  assert.ok(id);
  media.people.set(cid, []);
  media.emit('participant_left', { callCid: cid, participant: ada });
  await settle();
  assert.equal(sessions.session(cid)?.id, id, 'the empty session lives on');
  assert.deepEqual(sessions.session(cid)?.participants, []);
  assert.deepEqual(sessions.idleCids(), [cid]);

  // Someone joins within the timeout: the same session goes on.
  media.people.set(cid, [ada]);
  media.emit('participant_joined', { callCid: cid, participant: ada });
  assert.equal(sessions.session(cid)?.id, id);
  assert.deepEqual(sessions.idleCids(), []);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(sessions.session(cid)?.id, id, 'not ended while someone is in');

  media.people.set(cid, []);
  media.emit('participant_left', { callCid: cid, participant: ada });
  await new Promise((r) => setTimeout(r, 600));
  assert.equal(sessions.session(cid), null, 'ended after the timeout');
  assert.deepEqual(types(), [
    'call.session_started',
    'call.session_participant_joined',
    'call.session_participant_left',
    'call.session_participant_joined',
    'call.session_participant_left',
    'call.session_ended',
  ]);
  const ended = events.find((e) => e.type === 'call.session_ended')!;
  assert.equal(ended.session_id, id);
  assert.deepEqual(ended.call, { cid, marker: 'call' });
  assert.deepEqual(timeouts, [cid, cid]);
  assert.deepEqual(media.ended, [], 'nothing else is stopped');

  // A call's end ends its session at once.
  media.people.set(cid, [ada]);
  media.emit('participant_joined', { callCid: cid, participant: ada });
  const second = sessions.session(cid)?.id;
  assert.ok(second && second !== id, 'a new session');
  bus.publish({ type: 'call.ended', call_cid: cid });
  assert.equal(sessions.session(cid), null);
  await settle();
  assert.equal(events.filter((e) => e.type === 'call.session_ended').at(-1)?.session_id, second);
  sessions.close();
});
