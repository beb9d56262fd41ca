/**
 * Publisher hygiene against the complete service over raw HTTP (WHIP) and the SDK: a publisher
 * that goes away without DELETE is removed for its silence; a session is a participant only once
 * its media flows; WHIP sessions per user are bounded (429, Stream's shape).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ParticipantLeftEvent } from '../../src/media/call-media.js';
import { startTestCallcast, type TestCallcast } from '../support/callcast.js';
import { postOffer, TestPublisher } from '../support/publisher.js';
import { waitFor } from '../support/wait.js';

describe('publishers', () => {
  let cc: TestCallcast;
  const publishers: TestPublisher[] = [];
  before(async () => {
    cc = await startTestCallcast();
    await cc.client.video.call('default', 'pub').getOrCreate({ data: { created_by_id: 'owner' } });
  });
  after(async () => {
    for (const p of publishers) await p.close();
    await cc?.close();
  });
  const whipUrl = `/api/v2/video/call/default/pub/whip`;

  it('removes a publisher that goes away without DELETE for its silence', async (t) => {
    const left: ParticipantLeftEvent[] = [];
    cc.server.media.on('participant_left', (e) => left.push(e));
    const token = cc.client.generateUserToken({ user_id: 'ghost' });
    const pub = await TestPublisher.start({ url: `${cc.url}${whipUrl}`, token, color: 'blue' });
    publishers.push(pub);
    await waitFor(() => cc.server.media.participants('default:pub').some((p) => p.userId === 'ghost'), 'ghost joined', 30_000);
    const session = await waitFor(
      async () => (await cc.client.video.call('default', 'pub').get()).call.session?.participants.find((p) => p.user.id === 'ghost'),
      'in the call session',
    );
    assert.ok(session);

    const vanishedAt = Date.now();
    await pub.vanish();
    const gone = await waitFor(() => left.find((e) => e.participant.user.id === 'ghost'), 'ghost removed', 60_000);
    t.diagnostic(`ghost removed ${Date.now() - vanishedAt} ms after its media stopped`);
    assert.equal(gone.reason, 'media_timeout');
    assert.ok(!cc.server.media.participants('default:pub').some((p) => p.userId === 'ghost'));
    const after = await cc.client.video.call('default', 'pub').get();
    assert.ok(!(after.call.session?.participants ?? []).some((p) => p.user.id === 'ghost'));
  });

  it('offers that never connect are no participants, and are bounded per user', async () => {
    const token = cc.client.generateUserToken({ user_id: 'spammer' });
    const { publisher, offer } = await TestPublisher.prepare({ url: `${cc.url}${whipUrl}`, token });
    publishers.push(publisher);
    const statuses: number[] = [];
    let refused: { status: number; body: string } | null = null;
    for (let i = 0; i < 6; i++) {
      const res = await postOffer(`${cc.url}${whipUrl}`, offer, token);
      statuses.push(res.status);
      if (res.status !== 201) refused ??= res;
    }
    assert.deepEqual(statuses, [201, 201, 201, 201, 429, 429]);
    const body = JSON.parse(refused!.body);
    assert.equal(body.code, 9);
    assert.equal(body.StatusCode, 429);
    assert.match(body.message, /WHIP sessions/);
    assert.equal(cc.server.media.participants('default:pub').filter((p) => p.userId === 'spammer').length, 0);
    const call = await cc.client.video.call('default', 'pub').get();
    assert.ok(!(call.call.session?.participants ?? []).some((p) => p.user.id === 'spammer'));
    // Another user is not affected by the spammer's limit.
    const other = await postOffer(`${cc.url}${whipUrl}`, offer, cc.client.generateUserToken({ user_id: 'other' }));
    assert.equal(other.status, 201);
  });
});
