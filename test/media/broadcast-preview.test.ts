/**
 * Live WebRTC previews of a broadcast against the complete service with real peers on 127.0.0.1:
 * a Node publisher (a red picture, a 440 Hz tone) is broadcast to nginx-rtmp at 360p; a werift
 * subscriber offering H.264 Constrained Baseline (as Chromium does) and Opus receives the group's
 * own High-profile H.264 and the mixed sound as Opus, decodes them with ffmpeg and finds the
 * participant's colour and tone. Refusals through raw HTTP; the subscription closes when its
 * broadcast stops; the sound encoder runs only while someone previews.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { postOffer, TestPublisher } from '../support/publisher.js';
import { startNginxIngest, type NginxIngest } from '../support/rtmp-ingest.js';
import { startTestCallcast, type TestCallcast } from '../support/callcast.js';
import { TestSubscriber } from '../support/subscriber.js';
import { sleep, waitFor as waitUntil } from '../support/wait.js';
import { dominantFrequency, i420PixelRgb, near, RED } from './helpers.js';

const waitFor = <T>(what: string, check: () => T, timeoutMs: number) => waitUntil(check, what, timeoutMs);

describe('broadcast previews over WHEP', { timeout: 290_000 }, () => {
  let svc: TestCallcast;
  let ingest: NginxIngest;
  let publisher: TestPublisher | undefined;
  const subscribers: TestSubscriber[] = [];
  const TYPE = 'default';
  const ID = 'preview-call';
  const CID = `${TYPE}:${ID}`;
  const NAME = 'preview-main';

  const token = (user: string) => svc.client.generateUserToken({ user_id: user, validity_in_seconds: 900 });
  const serverToken = () =>
    new SignJWT({ server: true }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(svc.apiSecret));
  const previewUrl = (name = NAME, id = ID) =>
    `${svc.url}/api/v2/video/call/${TYPE}/${id}/rtmp_broadcasts/${encodeURIComponent(name)}/whep`;
  const subscribe = async (tok: string, extra: Partial<Parameters<typeof TestSubscriber.start>[0]> = {}) => {
    const s = await TestSubscriber.start({ url: previewUrl(), token: tok, videoCodec: 'H264', size: { width: 160, height: 90 }, ...extra });
    subscribers.push(s);
    return s;
  };
  const framesSent = (name = NAME) => svc.server.engine.stats(CID).find((s) => s.name === name)?.videoFramesSent ?? 0;

  before(async () => {
    svc = await startTestCallcast();
    ingest = await startNginxIngest();
    await svc.client.upsertUsers([
      { id: 'alice', role: 'user' },
      { id: 'viewer', role: 'user' },
      { id: 'operator', role: 'admin' },
    ]);
    const call = svc.client.video.call(TYPE, ID);
    const created = await call.getOrCreate({ data: { created_by_id: 'alice', members: [{ user_id: 'alice' }, { user_id: 'viewer' }] } });
    publisher = await TestPublisher.start({ url: created.call.ingress.whip.address, token: token('alice'), color: 'red', toneHz: 440 });
    await waitFor('alice publishes', () => svc.server.media.sessionParticipants(CID).some((p) => p.published_tracks.length === 2), 30_000);
    await call.startRTMPBroadcasts({
      broadcasts: [{ name: NAME, stream_url: ingest.url(), stream_key: 'preview-main', quality: '360p' }],
    });
    await waitFor('broadcast live', () => framesSent() > 30, 60_000);
  });
  after(async () => {
    await Promise.all(subscribers.map((s) => s.close()));
    await publisher?.close();
    await svc?.close();
    await ingest?.stop();
  });

  it('refuses who may not preview, unknown broadcasts and unusable offers, in Stream error shape', async () => {
    const { subscriber, offer } = await TestSubscriber.prepare({ url: previewUrl(), videoCodec: 'H264' });
    await subscriber.close();
    const vp8Only = await TestSubscriber.prepare({ url: previewUrl(), audio: false });
    await vp8Only.subscriber.close();

    const noToken = await postOffer(previewUrl(), offer);
    assert.equal(noToken.status, 401, noToken.body);

    // A member with read-call and join-call but without start-broadcast-call.
    const viewer = await postOffer(previewUrl(), offer, token('viewer'));
    assert.equal(viewer.status, 403, viewer.body);
    const body = JSON.parse(viewer.body) as { code: number; message: string; StatusCode: number; duration: string };
    assert.equal(body.StatusCode, 403);
    assert.equal(body.code, 17);
    assert.match(body.message, /start-broadcast-call/);
    assert.ok(typeof body.duration === 'string');

    // A call token for another call.
    const otherCall = await new SignJWT({ user_id: 'operator', call_cids: ['default:elsewhere'] })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .sign(new TextEncoder().encode(svc.apiSecret));
    assert.equal((await postOffer(previewUrl(), offer, otherCall)).status, 403);

    const unknown = await postOffer(previewUrl('no-such-broadcast'), offer, token('operator'));
    assert.equal(unknown.status, 404, unknown.body);
    assert.equal((JSON.parse(unknown.body) as { code: number }).code, 16);
    assert.equal((await postOffer(previewUrl(NAME, 'no-such-call'), offer, token('operator'))).status, 404);

    const garbage = await postOffer(previewUrl(), 'hello', token('operator'));
    assert.equal(garbage.status, 400, garbage.body);
    const noCodec = await postOffer(previewUrl(), vp8Only.offer, token('operator'));
    assert.equal(noCodec.status, 400, noCodec.body);
    assert.match(noCodec.body, /H\.264/);
    assert.equal((await postOffer(previewUrl(), offer, token('operator'), {}, 'text/plain')).status, 415);

    const preflight = await fetch(previewUrl(), { method: 'OPTIONS' });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
    assert.match(preflight.headers.get('accept-post') ?? '', /application\/sdp/);
    assert.equal(svc.server.broadcastPreviews.list(CID).length, 0);
  });

  it("plays the group's H.264 (answered as Constrained Baseline) and its mixed sound as Opus", async (t) => {
    const startedAt = Date.now();
    const s = await subscribe(token('operator'));
    assert.match(s.answer!, /a=rtpmap:\d+ H264\/90000/);
    assert.match(s.answer!, /profile-level-id=42e01f/);
    assert.match(s.answer!, /a=rtpmap:\d+ opus\/48000\/2/);
    const resourceOptions = await fetch(s.location!, { method: 'OPTIONS' });
    assert.equal(resourceOptions.status, 204);
    await waitFor('a decoded picture', () => s.stats.frames > 10, 60_000);
    const centre = () => i420PixelRgb(s.latestFrame!, s.size.width, s.size.height, s.size.width / 2, s.size.height / 2);
    await waitFor('the participant in the picture', () => near(centre(), RED, 60), 30_000);
    await waitFor('sound', () => s.stats.audioChunks > 100, 30_000);
    const freq = dominantFrequency(s.recentPcm(1000));
    const info = svc.server.broadcastPreviews.list(CID)[0]!;
    t.diagnostic(
      `connected after ${s.stats.connectedAt! - startedAt} ms; first keyframe ${s.stats.firstKeyframeAt! - s.stats.connectedAt!} ms after connecting ` +
        `(server: waited ${info.keyframeWaitMs} ms for the group's next keyframe); first decoded frame after ${s.stats.firstFrameAt! - startedAt} ms; ` +
        `centre ${JSON.stringify(centre())}; dominant frequency ${freq.toFixed(0)} Hz; legs ${JSON.stringify(info.legs)}`,
    );
    assert.ok(Math.abs(freq - 440) < 30, `the tone (got ${freq} Hz)`);
    assert.equal(svc.server.broadcastPreviews.soundEncoderPids().length, 1, 'one Opus encoder while previewing');
    const video = info.legs.find((l) => l.kind === 'video')!;
    assert.equal(video.codec, 'H264');
    assert.ok(video.sent > 0);

    // Trickle with a bad fragment, then DELETE.
    const patch = await fetch(s.location!, {
      method: 'PATCH',
      headers: { 'content-type': 'application/trickle-ice-sdpfrag', authorization: `Bearer ${token('operator')}` },
      body: 'a=mid:0\r\n',
    });
    assert.equal(patch.status, 204);
    assert.equal(await s.unsubscribe(), 200);
    assert.equal(await s.unsubscribe(), 404);
    assert.equal(svc.server.broadcastPreviews.list(CID).length, 0);
    await waitFor('the Opus encoder stopped', () => svc.server.broadcastPreviews.soundEncoderPids().length === 0, 10_000);
  });

  it("keeps playing across a restart of the group's encoder", async (t) => {
    const s = await subscribe(token('operator'), { audio: false });
    await waitFor('a decoded picture', () => s.stats.frames > 5, 60_000);
    const group = svc.server.egress!.groupOf(CID, NAME)!;
    const starts = group.encoderStarts;
    group.killEncoder();
    await waitFor('the encoder restarted', () => group.encoderStarts > starts && group.encoderRunning, 30_000);
    const framesAtRestart = s.stats.frames;
    const restartedAt = Date.now();
    await waitFor('pictures from the new encoder', () => s.stats.frames > framesAtRestart + 30, 60_000);
    t.diagnostic(`30 more frames ${Date.now() - restartedAt} ms after the new encoder started`);
    const c = i420PixelRgb(s.latestFrame!, s.size.width, s.size.height, s.size.width / 2, s.size.height / 2);
    assert.ok(near(c, RED, 60), `the participant after the restart (${JSON.stringify(c)})`);
    assert.equal(await s.unsubscribe(), 200);
  });

  it('a server token may preview; the subscription closes when its broadcast stops', async () => {
    const closed: { resourceId: string; reason: string }[] = [];
    const onClosed = (e: (typeof closed)[number]) => closed.push(e);
    svc.server.broadcastPreviews.on('subscription_closed', onClosed);
    try {
      const s = await subscribe(await serverToken(), { audio: false });
      await waitFor('a decoded picture', () => s.stats.frames > 5, 60_000);
      const id = new URL(s.location!).pathname.split('/').pop()!;
      await svc.client.video.call(TYPE, ID).stopRTMPBroadcast({ name: NAME });
      await waitFor('preview closed', () => closed.some((e) => e.resourceId === id), 15_000);
      assert.equal(closed.find((e) => e.resourceId === id)?.reason, 'broadcast_stopped');
      assert.equal(svc.server.broadcastPreviews.list(CID).length, 0);
      const stalled = s.stats.packets.video;
      await sleep(1000);
      assert.equal(s.stats.packets.video, stalled, 'nothing arrives any more');
      assert.equal(await s.unsubscribe(), 404);
      assert.equal(svc.server.broadcastPreviews.soundEncoderPids().length, 0);
    } finally {
      svc.server.broadcastPreviews.off('subscription_closed', onClosed);
    }
  });
});
