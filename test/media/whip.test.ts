/**
 * WHIP ingest against real peers: a werift publisher fed by ffmpeg (solid red VP8 + 440 Hz Opus)
 * publishes to the routes on 127.0.0.1; its tracks are decoded by the per-track ffmpeg decoders.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { postOffer, TestPublisher } from '../support/publisher.js';
import { waitFor } from '../support/wait.js';
import { RED, dominantFrequency, i420PixelRgb, near, startWhipApp, type WhipTestApp } from './helpers.js';

describe('WHIP ingest', { timeout: 170_000 }, () => {
  let t: WhipTestApp;
  let alice: TestPublisher | undefined;
  const CALL = 'default:whip-1';

  before(async () => {
    t = await startWhipApp({ connectTimeoutMs: 5000 });
  });
  after(async () => {
    await t?.close();
    await alice?.close();
  });

  it('publishes, decodes the colour and the tone, and leaves on DELETE', async () => {
    const joined: unknown[] = [];
    t.media.on('participant_joined', (e) => joined.push(e));
    alice = await TestPublisher.start({ url: t.whipUrl('default', 'whip-1'), token: 'alice', color: 'red', toneHz: 440 });
    assert.match(alice.location ?? '', /\/api\/v2\/video\/call\/default\/whip-1\/whip\/[0-9a-f]{32}$/);
    assert.match(alice.answer ?? '', /a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 /);
    assert.doesNotMatch(alice.answer ?? '', /a=candidate:\S+ 1 udp \d+ (?!127\.0\.0\.1 )/);

    const [p] = await waitFor(() => {
      const ps = t.media.participants(CALL);
      return ps.length === 1 && ps[0]!.hasVideo && ps[0]!.hasAudio ? ps : undefined;
    }, 'participant with tracks');
    assert.equal(p!.userId, 'alice');
    assert.equal(p!.name, 'Alice Red');
    assert.equal(joined.length, 1);
    const sp = t.media.sessionParticipants(CALL);
    assert.equal(sp.length, 1);
    assert.equal(sp[0]!.user.id, 'alice');
    assert.equal(sp[0]!.user_session_id, p!.sessionId);
    assert.ok(!alice.location!.endsWith(p!.sessionId), 'the WHIP resource is not the user_session_id');
    assert.match(sp[0]!.joined_at, /^\d{4}-\d\d-\d\dT/);

    const tracks = t.media.tracks(CALL, p!.sessionId);
    assert.deepEqual(tracks.map((x) => x.kind).sort(), ['audio', 'video']);

    // Video: decoded at the size asked, centre pixel is the published red.
    const decoder = await waitFor(() => t.media.videoDecoder(CALL, p!.sessionId), 'video decoder');
    decoder.setOutputSize(320, 180);
    const frame = await waitFor(() => decoder.latestFrame(), 'decoded frame');
    assert.equal(frame.width, 320);
    assert.equal(frame.height, 180);
    assert.ok(
      near(i420PixelRgb(frame.data, 320, 180, 160, 90), RED),
      `centre is ${JSON.stringify(i420PixelRgb(frame.data, 320, 180, 160, 90))}`,
    );
    await waitFor(() => t.media.participants(CALL)[0]?.videoSize?.width === 640, 'published size');
    assert.deepEqual(t.media.participants(CALL)[0]!.videoSize, { width: 640, height: 360 });

    // A size change: the new size arrives (bridged until the new decoder runs).
    decoder.setOutputSize(160, 90);
    const small = await waitFor(() => {
      const f = decoder.latestFrame();
      return f && f.width === 160 ? f : undefined;
    }, 'resized frame');
    assert.ok(near(i420PixelRgb(small.data, 160, 90, 80, 45), RED));

    // Audio: the decoded PCM carries the 440 Hz tone.
    const timeline = await waitFor(() => t.media.audioTimelines(CALL).get(p!.sessionId), 'audio timeline');
    await waitFor(() => timeline.writtenFrames > 48000 / 2, 'audio samples');
    const chunks: Buffer[] = [];
    for (let i = 0; i < 25; i++) {
      chunks.push(timeline.read('test', 960));
      await new Promise((r) => setTimeout(r, 20));
    }
    const pcm = Buffer.concat(chunks);
    assert.ok(Math.abs(dominantFrequency(pcm) - 440) <= 10, `dominant frequency ${dominantFrequency(pcm)}`);
    await waitFor(() => (t.media.audioLevel(CALL, p!.sessionId) ?? -Infinity) > -40, 'audio level');

    // DELETE leaves the call.
    const left: unknown[] = [];
    t.media.on('participant_left', (e) => left.push(e));
    assert.equal(await alice.unpublish(), 200);
    assert.equal(t.media.participants(CALL).length, 0);
    assert.equal(left.length, 1);
    const again = await fetch(alice.location!, { method: 'DELETE' });
    assert.equal(again.status, 404);
    await alice.close();
    alice = undefined;
  });

  it('refuses bad offers with clear errors while another participant keeps publishing', async () => {
    const url = t.whipUrl('default', 'whip-2');
    const cid = 'default:whip-2';
    alice = await TestPublisher.start({ url, token: 'alice', color: 'red' });
    const [p] = await waitFor(() => {
      const ps = t.media.participants(cid);
      return ps.length === 1 ? ps : undefined;
    }, 'participant');
    const decoder = await waitFor(() => t.media.videoDecoder(cid, p!.sessionId), 'video decoder');
    decoder.setOutputSize(64, 36);
    await waitFor(() => decoder.latestFrame(), 'frame');

    // Malformed SDP.
    let res = await postOffer(url, 'this is not sdp', 'bob');
    assert.equal(res.status, 400);
    let body = JSON.parse(res.body);
    assert.equal(body.code, 4);
    assert.match(body.message, /v=0/);

    // Wrong content type.
    res = await postOffer(url, '{}', 'bob', {}, 'application/json');
    assert.equal(res.status, 415);

    // A real offer whose codecs we cannot decode.
    const { publisher: spare, offer } = await TestPublisher.prepare({ url, token: 'bob' });
    await spare.close();
    const noCodec = offer.replace(/VP8\/90000/g, 'VP9/90000').replace(/opus\/48000\/2/g, 'G722/8000');
    res = await postOffer(url, noCodec, 'bob');
    assert.equal(res.status, 406);
    body = JSON.parse(res.body);
    assert.match(body.message, /no usable codec/);

    // A user who may send nothing.
    res = await postOffer(url, offer, 'viewer');
    assert.equal(res.status, 403);
    body = JSON.parse(res.body);
    assert.equal(body.code, 17);
    assert.match(body.message, /not allowed to send/);

    // Bad token, and a call that has ended (authorize throws): the API's error passes through.
    res = await postOffer(url, offer, 'nobody');
    assert.equal(res.status, 401);
    res = await postOffer(t.whipUrl('default', 'ended'), offer, 'bob');
    assert.equal(res.status, 400);
    assert.match(JSON.parse(res.body).message, /call has ended/);

    // A publisher that never connects is no participant (none until media flows), and its
    // session is dropped after the connect timeout.
    const joinedEvents: { participant: { user: { id: string } } }[] = [];
    const onJoined = (e: (typeof joinedEvents)[number]) => joinedEvents.push(e);
    t.media.on('participant_joined', onJoined);
    res = await postOffer(url, offer, 'bob');
    assert.equal(res.status, 201);
    assert.equal(t.media.sessionsOf('bob'), 1);
    assert.ok(!t.media.participants(cid).some((x) => x.userId === 'bob'));
    assert.ok(!t.media.sessionParticipants(cid).some((x) => x.user.id === 'bob'));
    await waitFor(() => t.media.sessionsOf('bob') === 0, 'ghost session dropped', 20_000);
    assert.ok(!joinedEvents.some((e) => e.participant.user.id === 'bob'));
    t.media.off('participant_joined', onJoined);

    // A user who may send audio only: the video m-line is refused, audio is taken.
    const audioOnly = await TestPublisher.start({ url, token: 'novideo', toneHz: 660 });
    try {
      assert.match(audioOnly.answer!, /m=video[\s\S]*a=inactive/);
      const q = await waitFor(() => t.media.participants(cid).find((x) => x.userId === 'novideo'), 'audio-only participant');
      assert.equal(q.hasVideo, false);
      await waitFor(() => t.media.participants(cid).find((x) => x.userId === 'novideo')?.hasAudio, 'audio track');
    } finally {
      await audioOnly.unpublish();
      await audioOnly.close();
    }

    // Trickle ICE on the resource: a candidate fragment is accepted, an ICE restart is not.
    const loc = alice.location!;
    const patch = (frag: string) =>
      fetch(loc, { method: 'PATCH', headers: { 'content-type': 'application/trickle-ice-sdpfrag' }, body: frag });

    assert.equal(
      (
        await patch(
          `a=ice-ufrag:other\r\na=ice-pwd:xxxxxxxxxxxxxxxxxxxxxxxx\r\na=mid:0\r\na=candidate:1 1 udp 2122260223 127.0.0.1 40000 typ host\r\n`,
        )
      ).status,
      422,
    );
    const ok = await patch(`a=mid:0\r\na=candidate:9 1 udp 2122260223 127.0.0.1 40002 typ host\r\n`);
    assert.equal(ok.status, 204);

    // Alice was not disturbed: still there, frames keep coming.
    assert.equal(t.media.participants(cid).filter((x) => x.userId === 'alice').length, 1);
    const before = decoder.latestFrame()!.at;
    await waitFor(() => (decoder.latestFrame()?.at ?? 0) > before, 'newer frame');
    assert.ok(near(i420PixelRgb(decoder.latestFrame()!.data, 64, 36, 32, 18), RED));
  });
});
