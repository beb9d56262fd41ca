/**
 * Call limits against the complete service, with WHIP publishers and the node SDK:
 * `limits.max_participants` refuses a user over the limit at WHIP publish (403, code 17) while a
 * screen share of an admitted participant is not counted; `session.inactivity_timeout_seconds`
 * ends a session nobody is in for that long (call.session_ended), a join within it continues
 * the session, and ending it stops nothing else (the call and its broadcast go on).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { WireEvent } from '../../src/events/contract.js';
import { startTestCallcast, type TestCallcast } from '../support/callcast.js';
import { postOffer, TestPublisher } from '../support/publisher.js';
import { waitFor } from '../support/wait.js';

describe('call limits', { timeout: 240_000 }, () => {
  let cc: TestCallcast;
  const publishers: TestPublisher[] = [];
  const events: WireEvent[] = [];
  before(async () => {
    cc = await startTestCallcast();
    cc.server.bus.subscribe((e) => events.push(e));
  });
  after(async () => {
    for (const p of publishers) await p.close();
    await cc?.close();
  });
  const whip = (id: string) => `${cc.url}/api/v2/video/call/default/${id}/whip`;
  const token = (user: string) => cc.client.generateUserToken({ user_id: user });

  it('refuses a participant over max_participants; a screen share is not a participant', async () => {
    const call = cc.client.video.call('default', 'full');
    await call.getOrCreate({ data: { created_by_id: 'owner' } });
    await call.update({ settings_override: { limits: { max_participants: 2 } } as never });

    const alice = await TestPublisher.start({ url: whip('full'), token: token('alice'), color: 'red' });
    publishers.push(alice);
    const share = await TestPublisher.start({ url: `${whip('full')}?track_type=screen_share`, token: token('alice'), color: 'lime' });
    publishers.push(share);
    await waitFor(
      async () =>
        (await call.get()).call.session?.participants.find(
          (p) => p.user.id === 'alice' && (p as { published_tracks?: string[] }).published_tracks?.includes('screen_share'),
        ),
      'alice and her share in the session',
      30_000,
    );

    // Bob is the second participant (a session that is still connecting counts).
    const { publisher: bobPeer, offer } = await TestPublisher.prepare({ url: whip('full'), token: token('bob') });
    publishers.push(bobPeer);
    const bob = await postOffer(whip('full'), offer, token('bob'));
    assert.equal(bob.status, 201, bob.body);
    const carol = await postOffer(whip('full'), offer, token('carol'));
    assert.equal(carol.status, 403);
    const body = JSON.parse(carol.body);
    assert.equal(body.code, 17);
    assert.equal(body.StatusCode, 403);
    assert.match(
      body.message,
      /call default:full is full: it has 2 participants and its limit is 2 \(settings\.limits\.max_participants\)/,
    );
    // A user already in may open another session (a reconnect).
    const again = await postOffer(whip('full'), offer, token('bob'));
    assert.equal(again.status, 201, again.body);
    // Raising the limit lets Carol in.
    await call.update({ settings_override: { limits: { max_participants: 3 } } as never });
    assert.equal((await postOffer(whip('full'), offer, token('carol'))).status, 201);
  });

  it('ends a session nobody is in after session.inactivity_timeout_seconds, and nothing else', async (t) => {
    const call = cc.client.video.call('default', 'idle');
    await call.getOrCreate({ data: { created_by_id: 'owner' } });
    await call.update({ settings_override: { session: { inactivity_timeout_seconds: 12 } } as never });
    const ofCall = () => events.filter((e) => e.call_cid === 'default:idle');

    const dave = await TestPublisher.start({ url: whip('idle'), token: token('dave'), color: 'blue' });
    publishers.push(dave);
    const started = await waitFor(() => ofCall().find((e) => e.type === 'call.session_started'), 'call.session_started', 30_000);
    const sessionId = started.session_id as string;
    assert.equal((started.call as { cid?: string } | undefined)?.cid, 'default:idle', 'the event carries the call');
    await waitFor(async () => (await call.get()).call.session?.participants.some((p) => p.user.id === 'dave'), 'dave in', 30_000);
    // A broadcast runs on (to an ingest that is not there: it keeps reconnecting).
    await call.startRTMPBroadcasts({
      broadcasts: [{ name: 'on', stream_url: 'rtmp://127.0.0.1:9/live', stream_key: 'k', quality: '360p' } as never],
    });

    assert.equal(await dave.unpublish(), 200);
    const leftAt = Date.now();
    await waitFor(() => ofCall().some((e) => e.type === 'call.session_participant_left'), 'dave left', 30_000);
    const empty = (await call.get()).call.session;
    assert.equal(empty?.id, sessionId, 'the empty session lives on');
    assert.deepEqual(empty?.participants, []);

    // Eve joins within the timeout (12 s: room for a loaded machine): the same session goes on.
    const eve = await TestPublisher.start({ url: whip('idle'), token: token('eve'), color: 'green' });
    publishers.push(eve);
    await waitFor(async () => (await call.get()).call.session?.participants.some((p) => p.user.id === 'eve'), 'eve in', 30_000);
    assert.equal((await call.get()).call.session?.id, sessionId);
    assert.ok(!ofCall().some((e) => e.type === 'call.session_ended'), 'not ended while someone came back');
    t.diagnostic(`eve joined ${Date.now() - leftAt} ms after dave left`);

    assert.equal(await eve.unpublish(), 200);
    const emptyAt = Date.now();
    const ended = await waitFor(() => ofCall().find((e) => e.type === 'call.session_ended'), 'call.session_ended', 60_000);
    t.diagnostic(`call.session_ended ${Date.now() - emptyAt} ms after the last participant left (timeout 12 s)`);
    assert.equal(ended.session_id, sessionId);
    assert.equal((ended.call as { cid?: string } | undefined)?.cid, 'default:idle');
    assert.equal(ofCall().filter((e) => e.type === 'call.session_started').length, 1);

    const { call: state } = await call.get();
    assert.ok(!state.session, 'no session');
    assert.ok(!state.ended_at, 'the call has not ended');
    assert.ok(!ofCall().some((e) => e.type === 'call.ended'));
    assert.deepEqual(
      state.egress.rtmps.map((r) => r.name),
      ['on'],
      'the broadcast goes on',
    );
    await call.stopAllRTMPBroadcasts();
  });
});
