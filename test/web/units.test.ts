/** Pure parts of the pages: formatting, credentials, roster and broadcast state, URLs. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { apiErrorMessage, callPath, withApiKey } from '../../web/src/lib/api.js';
import { applyBroadcastEvent, applyStats, dropInactive, markStopping, syncWithEgress } from '../../web/src/lib/broadcasts.js';
import { apiKeyFromUrl, readTokenClaims, tokenFromUrl } from '../../web/src/lib/credentials.js';
import { formatBitrate, formatBytes, formatShare, formatUptime, initials, nodeState, userIdFromName } from '../../web/src/lib/format.js';
import { applyRosterEvent, isShareOnly, rosterFromParticipants, sharesScreen } from '../../web/src/lib/roster.js';
import { callFromConsolePath, callFromJoinPath, resourceUrl } from '../../web/src/lib/urls.js';
import { mintUserToken } from '../../src/cli.js';
import { composeScene } from '../../src/layout/scene.js';
import { layoutFromConfig, sceneParticipant, SHARE_SUFFIX } from '../../web/src/layouts/scene-input.js';

test('formatting of bitrate, bytes, uptime, initials and user ids', () => {
  assert.equal(formatBitrate(0), '0 bit/s');
  assert.equal(formatBitrate(850_400), '850 kbit/s');
  assert.equal(formatBitrate(3_060_000), '3.1 Mbit/s');
  assert.equal(formatBitrate(Number.NaN), '0 bit/s');
  assert.equal(formatBytes(78), '78 B');
  assert.equal(formatBytes(456_000), '456 kB');
  assert.equal(formatBytes(12_345_678), '12.3 MB');
  assert.equal(formatBytes(2_500_000_000), '2.50 GB');
  const since = '2026-01-01T10:00:00.000Z';
  assert.equal(formatUptime(since, Date.parse(since) + 65_000), '1:05');
  assert.equal(formatUptime(since, Date.parse(since) + 3_725_000), '1:02:05');
  assert.equal(formatUptime(null, 0), '');
  assert.equal(formatUptime('not a date', 0), '');
  assert.equal(formatUptime(since, Date.parse(since) - 5000), '0:00');
  assert.equal(initials('Ada Lovelace'), 'AL');
  assert.equal(initials('  grace  '), 'G');
  assert.equal(initials(''), '?');
  assert.equal(userIdFromName('Zoë  O’Brien!', 'x1'), 'zoe-o-brien-x1');
  assert.equal(userIdFromName('   ', 'x1'), 'guest-x1');
});

test('credentials from the URL and the claims of a token', async () => {
  assert.equal(tokenFromUrl('#token=abc', ''), 'abc');
  assert.equal(tokenFromUrl('', '?name=x&token=def'), 'def');
  assert.equal(tokenFromUrl('#other=1', '?x=1'), null);
  assert.equal(apiKeyFromUrl('#token=a&api_key=k1', ''), 'k1');
  const token = await mintUserToken('secret', { userId: 'ada', ttlSeconds: 60 }, 1_700_000_000);
  assert.deepEqual(readTokenClaims(token), { userId: 'ada', server: false, exp: 1_700_000_059 });
  assert.equal(readTokenClaims('nope'), null);
  assert.equal(readTokenClaims('a.!!!.c'), null);
});

test('API helpers: paths, api_key, error messages as the API words them', () => {
  assert.equal(callPath('default', 'a b'), '/video/call/default/a%20b');
  assert.equal(withApiKey('/video/calls', 'k&1'), '/video/calls?api_key=k%261');
  assert.equal(withApiKey('/x?y=1', 'k'), '/x?y=1&api_key=k');
  assert.equal(
    apiErrorMessage(400, { code: 4, message: 'StartRTMPBroadcasts failed with error: "x"' }),
    'StartRTMPBroadcasts failed with error: "x"',
  );
  assert.equal(apiErrorMessage(502, 'Bad gateway'), 'request failed with HTTP 502');
});

test('URLs: call from page paths, WHIP resource on the page origin', () => {
  assert.deepEqual(callFromJoinPath('/join/default/my-call'), { type: 'default', id: 'my-call' });
  assert.deepEqual(callFromJoinPath('/join/default/my-call/'), { type: 'default', id: 'my-call' });
  assert.equal(callFromJoinPath('/join/default'), null);
  assert.equal(callFromJoinPath('/join/default/%E0%A4%A'), null);
  assert.deepEqual(callFromConsolePath('/console/calls/livestream/x1'), { type: 'livestream', id: 'x1' });
  assert.equal(callFromConsolePath('/console'), null);
  const endpoint = 'http://127.0.0.1:4000/video/call/default/a/whip';
  assert.equal(resourceUrl(endpoint, 'whip/s1', 'http://127.0.0.1:4000'), 'http://127.0.0.1:4000/video/call/default/a/whip/s1');
  assert.equal(
    resourceUrl(endpoint, '/video/call/default/a/whip/s1', 'http://127.0.0.1:4000'),
    'http://127.0.0.1:4000/video/call/default/a/whip/s1',
  );
  assert.equal(
    resourceUrl(endpoint, 'https://public.example/api/v2/video/call/default/a/whip/s1', 'http://127.0.0.1:4000'),
    'http://127.0.0.1:4000/api/v2/video/call/default/a/whip/s1',
  );
  assert.equal(resourceUrl(endpoint, null, 'http://127.0.0.1:4000'), null);
});

const ada = { user_session_id: 's1', user: { id: 'ada', name: 'Ada' }, role: 'user', joined_at: '2026-01-01T00:00:00Z' };
const grace = { user_session_id: 's2', user: { id: 'grace' }, role: 'user', joined_at: '2026-01-01T00:00:01Z' };

test('roster: joins, leaves, speakers, and the call state', () => {
  let r = rosterFromParticipants([ada, ada, { bogus: true }]);
  assert.deepEqual(
    r.map((p) => p.sessionId),
    ['s1'],
  );
  r = applyRosterEvent(r, { type: 'call.session_participant_joined', participant: grace });
  assert.deepEqual(
    r.map((p) => [p.sessionId, p.name]),
    [
      ['s1', 'Ada'],
      ['s2', 'grace'],
    ],
  );
  r = applyRosterEvent(r, { type: 'call.session_participant_joined', participant: grace });
  assert.equal(r.length, 2, 'a repeated join does not duplicate');
  r = applyRosterEvent(r, { type: 'call.speaking_changed', speaking_session_ids: ['s2'], dominant_speaker_session_id: 's2' });
  assert.deepEqual(
    r.map((p) => [p.speaking, p.dominant]),
    [
      [false, false],
      [true, true],
    ],
  );
  r = applyRosterEvent(r, { type: 'call.dominant_speaker_changed', user_session_id: 's1' });
  assert.deepEqual(
    r.map((p) => p.dominant),
    [true, false],
  );
  r = applyRosterEvent(r, { type: 'call.session_participant_left', participant: ada });
  assert.deepEqual(
    r.map((p) => p.sessionId),
    ['s2'],
  );
  r = applyRosterEvent(r, { type: 'call.updated', call: { session: { participants: [ada] } } });
  assert.deepEqual(
    r.map((p) => p.sessionId),
    ['s1'],
  );
  const same = applyRosterEvent(r, { type: 'call.updated', call: {} });
  assert.equal(same, r, 'a call without a session keeps the roster');
});

test('roster: a call.updated whose participants do not say who speaks keeps the speaking marks', () => {
  let r = rosterFromParticipants([ada, grace]);
  r = applyRosterEvent(r, { type: 'call.speaking_changed', speaking_session_ids: ['s2'], dominant_speaker_session_id: 's2' });
  r = applyRosterEvent(r, { type: 'call.updated', call: { session: { participants: [ada, grace] } } });
  assert.deepEqual(
    r.map((p) => [p.sessionId, p.speaking, p.dominant]),
    [
      ['s1', false, false],
      ['s2', true, true],
    ],
  );
  r = applyRosterEvent(r, {
    type: 'call.updated',
    call: { session: { participants: [{ ...grace, is_speaking: false, is_dominant_speaker: false }] } },
  });
  assert.deepEqual(
    r.map((p) => [p.sessionId, p.speaking, p.dominant]),
    [['s2', false, false]],
    'flags the participants carry win',
  );
});

test('roster: screen shares follow published_tracks and the share events', () => {
  const cam = { ...ada, published_tracks: ['audio', 'video'] };
  let r = rosterFromParticipants([cam, grace]);
  assert.deepEqual(r[0]?.publishedTracks, ['audio', 'video']);
  assert.equal(r[1]?.publishedTracks, null, 'a participant that does not say what it sends');
  assert.equal(sharesScreen(r[0]!), false);
  r = applyRosterEvent(r, { type: 'call.speaking_changed', speaking_session_ids: ['s1'], dominant_speaker_session_id: 's1' });
  // Ada shares: her camera entry lists the share.
  r = applyRosterEvent(r, {
    type: 'call.screen_share_started',
    user_id: 'ada',
    user_session_id: 's1',
    participant: { ...ada, published_tracks: ['audio', 'video', 'screen_share'] },
  });
  assert.deepEqual(
    r.map((p) => [p.sessionId, sharesScreen(p), isShareOnly(p), p.speaking]),
    [
      ['s1', true, false, true],
      ['s2', false, false, false],
    ],
    'the share is listed under the camera session, which keeps its speaking marks',
  );
  r = applyRosterEvent(r, { type: 'call.screen_share_stopped', user_id: 'ada', user_session_id: 's1', participant: cam });
  assert.deepEqual(
    r.map((p) => [p.sessionId, sharesScreen(p)]),
    [
      ['s1', false],
      ['s2', false],
    ],
  );
  // A user sharing without a camera session: the share is an entry of its own, gone with the share.
  const shareOnly = {
    user_session_id: 's3',
    user: { id: 'linus' },
    role: 'user',
    published_tracks: ['screen_share', 'screen_share_audio'],
  };
  r = applyRosterEvent(r, { type: 'call.screen_share_started', user_id: 'linus', user_session_id: 's3', participant: shareOnly });
  assert.deepEqual(
    r.map((p) => [p.sessionId, sharesScreen(p), isShareOnly(p)]),
    [
      ['s1', false, false],
      ['s2', false, false],
      ['s3', true, true],
    ],
  );
  r = applyRosterEvent(r, { type: 'call.screen_share_stopped', user_id: 'linus', user_session_id: 's3', participant: shareOnly });
  assert.deepEqual(
    r.map((p) => p.sessionId),
    ['s1', 's2'],
  );
  assert.equal(applyRosterEvent(r, { type: 'call.screen_share_started', participant: { bogus: true } }), r, 'an unusable entry is ignored');
});

test('broadcasts: egress list, stats, events, stopping', () => {
  const rtmp = { name: 'yt', stream_url: 'rtmps://x/live2', started_at: '2026-01-01T00:00:00Z' };
  let m = syncWithEgress(new Map(), [rtmp]);
  assert.equal(m.get('yt')?.status, 'connecting');
  assert.equal(m.get('yt')?.active, true);
  m = applyStats(m, {
    name: 'yt',
    state: 'live',
    bytesSent: 1000,
    bitrate: 800_000,
    reconnects: 1,
    lastError: 'reset',
    liveSince: '2026-01-01T00:00:01Z',
  });
  assert.deepEqual(
    [m.get('yt')?.status, m.get('yt')?.bytesSent, m.get('yt')?.reconnects, m.get('yt')?.lastError],
    ['live', 1000, 1, 'reset'],
  );
  m = applyStats(m, { name: 'other', state: 'live', bytesSent: 1, bitrate: 1, reconnects: 0, lastError: null, liveSince: null });
  assert.equal(m.has('other'), false, 'stats of unknown broadcasts are ignored');
  m = applyBroadcastEvent(m, { type: 'call.rtmp_broadcast_failed', name: 'yt', error: 'connection refused' });
  assert.deepEqual([m.get('yt')?.status, m.get('yt')?.active, m.get('yt')?.lastError], ['failed', false, 'connection refused']);
  m = syncWithEgress(m, []);
  assert.equal(m.get('yt')?.status, 'failed', 'a failed broadcast stays shown with its error');
  m = dropInactive(m, 'yt');
  assert.equal(m.size, 0);

  m = syncWithEgress(new Map(), [rtmp, { name: 'tw', stream_url: 'rtmp://y/app' }]);
  m = markStopping(m, 'yt');
  assert.deepEqual([m.get('yt')?.active, m.get('tw')?.active], [false, true]);
  m = syncWithEgress(m, [rtmp, { name: 'tw', stream_url: 'rtmp://y/app' }]);
  assert.equal(m.get('yt')?.active, false, 'a broadcast being stopped is not revived by a stale list');
  m = applyBroadcastEvent(m, { type: 'call.rtmp_broadcast_started', name: 'tw', created_at: '2026-01-01T00:00:05Z' });
  assert.deepEqual([m.get('tw')?.status, m.get('tw')?.liveSince], ['live', '2026-01-01T00:00:05Z']);
  m = syncWithEgress(m, [{ name: 'tw', stream_url: 'rtmp://y/app' }]);
  assert.equal(m.get('yt')?.status, 'stopped');
  m = applyBroadcastEvent(m, { type: 'call.rtmp_broadcast_stopped', name: 'tw' });
  assert.deepEqual([m.get('tw')?.status, m.get('tw')?.active], ['stopped', false]);
});

test('the built-in layouts page composes the native scene from the layout module participants', () => {
  const config = {
    base_url: 'http://127.0.0.1:1',
    api_key: 'k',
    token: 't',
    call_type: 'default',
    call_id: 'c',
    layout: 'grid',
    screenshare_layout: 'spotlight',
    options: { 'participant.border_radius': '20px' },
    ext_css: 'https://a.example/x.css',
  };
  const settings = layoutFromConfig(config);
  assert.deepEqual(settings, {
    name: 'grid',
    external_app_url: '',
    external_css_url: 'https://a.example/x.css',
    options: { 'participant.border_radius': '20px' },
    screenshare_layout: 'spotlight',
  });
  assert.equal(layoutFromConfig({ ...config, layout: 'nonsense' }).name, 'spotlight');
  const person = (id: string, joinedAt: number, tracks: string[], speaking = false) => ({
    sessionId: id,
    userId: `u-${id}`,
    role: 'user',
    joinedAt,
    publishedTracks: tracks,
    hasVideo: tracks.includes('video'),
    hasAudio: tracks.includes('audio'),
    hasScreenShare: tracks.includes('screen_share'),
    isSpeaking: speaking,
    isDominantSpeaker: speaking,
    stream: null,
    screenShareStream: null,
  });
  const sizes = new Map([
    ['a', { width: 640, height: 360 }],
    [`b${SHARE_SUFFIX}`, { width: 1280, height: 720 }],
  ]);
  const a = sceneParticipant(person('a', 1, ['audio', 'video'], true), sizes);
  assert.deepEqual(a, {
    sessionId: 'a',
    userId: 'u-a',
    roles: ['user'],
    hasVideo: true,
    hasAudio: true,
    isSpeaking: true,
    isDominantSpeaker: true,
    joinedAt: 1,
    videoSize: { width: 640, height: 360 },
  });
  // A share of a user without a camera: a participant of its own, as the media plane lists it.
  const b = sceneParticipant(person('b', 2, ['screen_share']), sizes);
  assert.deepEqual(b.screenShare, { sessionId: `b${SHARE_SUFFIX}`, hasVideo: true, startedAt: 2, videoSize: { width: 1280, height: 720 } });
  assert.equal(b.shareOnly, true);
  // Same participants, same scene as the native compositor's.
  const canvas = { width: 640, height: 360 };
  const fromPage = composeScene({ canvas, participants: [a], layout: settings, nowMs: 0 });
  const native = composeScene({ canvas, participants: [{ ...a }], layout: { ...settings, external_css_url: '' }, nowMs: 0 });
  assert.deepEqual(fromPage, native);
});

test("operations page: a node's CPU share and state", () => {
  assert.equal(formatShare(0.372), '37%');
  assert.equal(formatShare(0), '0%');
  assert.equal(formatShare(null), 'not measured yet');
  assert.equal(nodeState({ draining: false, full: null }), 'taking calls');
  assert.equal(nodeState({ draining: false, full: 'cpu 91% over the 85% limit' }), 'full: cpu 91% over the 85% limit');
  assert.equal(nodeState({ draining: true, full: 'x' }), 'draining: handing its calls over');
});
