/**
 * WHEP subscriptions against the complete service with real peers on 127.0.0.1: three Node
 * publishers (solid colours, distinct tones) publish over WHIP; Node subscribers (werift, decoding
 * with the media plane's ffmpeg pieces) subscribe to each other participant and check its colour
 * and tone; a late subscriber's time to picture is printed; a subscriber process frozen with
 * SIGSTOP does not starve another subscriber nor a broadcast received by nginx-rtmp; leaving and
 * ending the call close subscriptions; every refusal through raw HTTP; the WHIP resource id.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { postOffer, TestPublisher } from '../support/publisher.js';
import { startNginxIngest, type NginxIngest } from '../support/rtmp-ingest.js';
import { startTestCallcast, type TestCallcast } from '../support/callcast.js';
import { TestSubscriber } from '../support/subscriber.js';
import type { Rgb } from '../../src/layout/color.js';
import { sleep, waitFor as waitUntil } from '../support/wait.js';
import { dominantFrequency, i420PixelRgb, near } from './helpers.js';

/** (what, check, timeout) order, as these tests were written. */
const waitFor = <T>(what: string, check: () => T, timeoutMs: number) => waitUntil(check, what, timeoutMs);

const execFileP = promisify(execFile);

const PEOPLE: Record<string, { color: string; rgb: Rgb; tone: number }> = {
  alice: { color: 'red', rgb: { r: 255, g: 0, b: 0 }, tone: 440 },
  bob: { color: 'blue', rgb: { r: 0, g: 0, b: 255 }, tone: 880 },
  carol: { color: 'lime', rgb: { r: 0, g: 255, b: 0 }, tone: 1320 },
};
const NAMES = Object.keys(PEOPLE);

describe('WHEP subscriptions', { timeout: 290_000 }, () => {
  let svc: TestCallcast;
  let ingest: NginxIngest | undefined;
  const publishers = new Map<string, TestPublisher>();
  const subscribers: TestSubscriber[] = [];
  const children: ChildProcess[] = [];
  const TYPE = 'default';
  const ID = 'whep-call';
  const CID = `${TYPE}:${ID}`;
  let whip = '';
  const publishedAt = new Map<string, number>();
  // This one process runs the service, the publishers' and the subscribers' peers: its event-loop
  // delay, printed, tells a loaded machine apart (werift drops a peer whose consent checks go
  // unanswered for 30 s).
  const lag = monitorEventLoopDelay({ resolution: 20 });
  const lagText = () =>
    `event-loop delay p50 ${(lag.percentile(50) / 1e6).toFixed(0)} ms, p99 ${(lag.percentile(99) / 1e6).toFixed(0)} ms, max ${(lag.max / 1e6).toFixed(0)} ms`;

  const token = (user: string) => svc.client.generateUserToken({ user_id: user, validity_in_seconds: 900 });
  const sessionOf = (user: string, cid = CID) => svc.server.media.sessionParticipants(cid).find((p) => p.user.id === user)?.user_session_id;
  const whepUrl = (sessionId: string, type = TYPE, id = ID) => `${svc.url}/api/v2/video/call/${type}/${id}/participants/${sessionId}/whep`;
  const subscribe = async (viewer: string, user: string, extra: Partial<Parameters<typeof TestSubscriber.start>[0]> = {}) => {
    const s = await TestSubscriber.start({ url: whepUrl(sessionOf(user)!), token: token(viewer), ...extra });
    subscribers.push(s);
    return s;
  };
  const centre = (s: TestSubscriber) => i420PixelRgb(s.latestFrame!, s.size.width, s.size.height, s.size.width / 2, s.size.height / 2);
  const shows = (s: TestSubscriber, user: string) => s.latestFrame !== undefined && near(centre(s), PEOPLE[user]!.rgb, 60);

  before(async () => {
    lag.enable();
    svc = await startTestCallcast();
    await svc.client.upsertUsers([...NAMES, 'stranger'].map((id) => ({ id, role: 'user' })));
    const call = svc.client.video.call(TYPE, ID);
    const created = await call.getOrCreate({ data: { created_by_id: 'alice', members: NAMES.map((user_id) => ({ user_id })) } });
    whip = created.call.ingress.whip.address;
    for (const user of NAMES) {
      const p = PEOPLE[user]!;
      publishers.set(user, await TestPublisher.start({ url: whip, token: token(user), color: p.color, toneHz: p.tone }));
      publishedAt.set(user, Date.now());
    }
  });
  after(async () => {
    lag.disable();
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await Promise.all(subscribers.map((s) => s.close()));
    await Promise.all([...publishers.values()].map((p) => p.close()));
    await svc?.close();
    await ingest?.stop();
  });

  it('lists what each participant publishes, and gives WHIP sessions a resource id of their own', async () => {
    const call = svc.client.video.call(TYPE, ID);
    await waitFor(
      'all tracks received',
      () => svc.server.media.sessionParticipants(CID).filter((p) => p.published_tracks.length === 2).length === 3,
      30_000,
    );
    const { call: state } = await call.get();
    const listed = (state.session?.participants ?? []) as unknown as {
      user: { id: string };
      user_session_id: string;
      published_tracks: string[];
    }[];
    assert.deepEqual(listed.map((p) => p.user.id).sort(), NAMES);
    for (const p of listed) assert.deepEqual(p.published_tracks, ['audio', 'video']);

    const alice = publishers.get('alice')!;
    const aliceSession = sessionOf('alice')!;
    const resourceId = new URL(alice.location!).pathname.split('/').pop()!;
    assert.match(resourceId, /^[0-9a-f]{32}$/);
    assert.notEqual(resourceId, aliceSession);
    assert.ok(!JSON.stringify(state).includes(resourceId), 'the resource id is not in the call state');
    // What every reader of the call sees does not remove anyone.
    const res = await fetch(`${whip}/${aliceSession}`, { method: 'DELETE' });
    assert.equal(res.status, 404);
    const patch = await fetch(`${whip}/${aliceSession}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/trickle-ice-sdpfrag' },
      body: 'a=mid:0\r\na=candidate:1 1 udp 1 127.0.0.1 9 typ host\r\n',
    });
    assert.equal(patch.status, 404);
    assert.ok(sessionOf('alice'), 'alice is still in the call');
  });

  it('each participant sees and hears every other one, forwarded without decoding', async (t) => {
    const pairs = NAMES.flatMap((viewer) => NAMES.filter((u) => u !== viewer).map((user) => ({ viewer, user })));
    const subs = [];
    for (const { viewer, user } of pairs) subs.push({ viewer, user, s: await subscribe(viewer, user) });
    for (const { viewer, user, s } of subs) {
      await waitFor(`${viewer} sees ${user}`, () => shows(s, user), 60_000);
      await waitFor(`${viewer} hears ${user}`, () => s.stats.audioChunks > 150, 60_000);
      const f = dominantFrequency(s.recentPcm(1000));
      assert.ok(Math.abs(f - PEOPLE[user]!.tone) <= 10, `${viewer} hears ${f} Hz from ${user}`);
      t.diagnostic(
        `${viewer} <- ${user}: first frame ${s.stats.firstFrameAt! - s.stats.startedAt} ms after its POST, colour ${JSON.stringify(centre(s))}, ${f} Hz`,
      );
      // Checked: its decoders stop (less load on a small machine), its subscription stays.
      await s.stopDecoding();
    }
    // The subscriber's own payload types (98 VP8, 109 Opus), not the publishers' (96, 111).
    const subs0 = svc.server.media.forwarding.list(CID);
    assert.equal(subs0.length, 6);
    for (const info of subs0) {
      assert.deepEqual(info.legs.map((l) => [l.kind, l.codec.toLowerCase(), l.payloadType]).sort(), [
        ['audio', 'opus', 109],
        ['video', 'vp8', 98],
      ]);
      for (const l of info.legs) assert.ok(l.sent > 0);
    }
    t.diagnostic(lagText());
    for (const user of NAMES)
      t.diagnostic(`keyframe requests to ${user}: ${JSON.stringify(svc.server.media.forwarding.keyframeStats(CID, sessionOf(user)!))}`);
    // Audio levels and speaking still come from the decoded audio.
    for (const user of NAMES) assert.ok((svc.server.media.audioLevel(CID, sessionOf(user)!) ?? -Infinity) > -40);

    const first = subs[0]!.s;
    assert.equal(await first.unsubscribe(), 200);
    assert.equal(await first.unsubscribe(), 404);
    for (const { s } of subs.slice(1)) assert.equal(await s.unsubscribe(), 200);
    assert.equal(svc.server.media.forwarding.list(CID).length, 0);
    await Promise.all(subs.map(({ s }) => s.close()));
  });

  it('a subscriber joining late gets a picture (time printed)', async (t) => {
    const since = publishedAt.get('alice')!;
    await sleep(Math.max(0, since + 15_000 - Date.now()));
    const s = await subscribe('bob', 'alice');
    await waitFor('late picture', () => shows(s, 'alice'), 30_000);
    const st = s.stats;
    t.diagnostic(
      `late subscriber (alice publishing ${Math.round((st.startedAt - since) / 1000)} s): connected +${st.connectedAt! - st.startedAt} ms, ` +
        `first video packet +${st.firstVideoPacketAt! - st.startedAt} ms, first keyframe +${st.firstKeyframeAt! - st.startedAt} ms, ` +
        `first decoded frame +${st.firstFrameAt! - st.startedAt} ms (from the POST; the last includes starting the test's ffmpeg decoder)`,
    );

    // A NACK for a packet older than werift's own send history (128) is answered from the
    // forwarder's per-track cache (512): the packet arrives a second time, with the same number.
    await waitFor('300 video packets', () => s.stats.packets.video > 300, 60_000);
    // (One that arrived once: on a loaded machine others are lost and retransmitted meanwhile.)
    const recent = s.recentVideoSequence;
    const old = recent.slice(recent.length - 250, recent.length - 200).find((seq) => s.videoArrivals.get(seq) === 1)!;
    assert.notEqual(old, undefined);
    const legs = () =>
      svc.server.media.forwarding.list(CID).find((x) => x.resourceId === new URL(s.location!).pathname.split('/').pop())!.legs;
    const before = legs().find((l) => l.kind === 'video')!.retransmitted;
    await s.nackVideo([old]);
    await waitFor('retransmission', () => (s.videoArrivals.get(old) ?? 0) >= 2, 10_000);
    const after = legs().find((l) => l.kind === 'video')!.retransmitted;
    t.diagnostic(`retransmissions from the forwarder's cache on this leg: ${before} before the NACK, ${after} after`);
    assert.ok(after >= before + 1, 'answered from the forwarder cache');
    assert.equal(await s.unsubscribe(), 200);
  });

  it('a subscriber that stops reading does not slow another subscriber nor the broadcast', async (t) => {
    ingest = await startNginxIngest();
    const call = svc.client.video.call(TYPE, ID);
    await call.startRTMPBroadcasts({
      broadcasts: [{ name: 'frozen-check', stream_url: ingest.url(), stream_key: 'whep-frozen', quality: '360p' }],
    });
    const framesSent = () => svc.server.engine.stats(CID).find((s) => s.name === 'frozen-check')?.videoFramesSent ?? 0;
    await waitFor('broadcast live', () => framesSent() > 30, 60_000);

    const bob = sessionOf('bob')!;
    const watcher = await subscribe('alice', 'bob');
    await waitFor('watcher sees bob', () => shows(watcher, 'bob'), 60_000);

    const script = fileURLToPath(new URL('../support/subscriber.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script, whepUrl(bob), token('carol')], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '',
      err = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr!.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-2000);
    });
    const line = await waitFor(
      'frozen subscriber subscribed',
      () => out.split('\n').find((l) => l.startsWith('{')) ?? (child.exitCode !== null ? 'exited' : undefined),
      90_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}: ${err}`);
    });
    assert.notEqual(line, 'exited', `the subscriber process failed: ${err}`);
    const { location } = JSON.parse(line) as { location: string };
    const frozenId = new URL(location).pathname.split('/').pop()!;
    const legsOf = () => svc.server.media.forwarding.list(CID, bob).find((x) => x.resourceId === frozenId);
    await waitFor('packets to the frozen subscriber', () => (legsOf()?.legs.find((l) => l.kind === 'video')?.sent ?? 0) > 30, 30_000);

    // Bob's decoder in the service (what the compositor draws), by distinct decoded pictures.
    let decoded = 0,
      lastAt = 0;
    const poll = setInterval(() => {
      const at = svc.server.media.videoDecoder(CID, bob)?.latestFrame()?.at ?? 0;
      if (at !== lastAt) {
        decoded += 1;
        lastAt = at;
      }
    }, 10);
    const sample = () => ({
      watcher: watcher.stats.frames,
      broadcast: framesSent(),
      decoder: decoded,
      toFrozen: legsOf()?.legs.find((l) => l.kind === 'video')?.sent ?? 0,
    });
    try {
      const WINDOW = 6000;
      const a = sample();
      await sleep(WINDOW);
      const b = sample();
      process.kill(child.pid!, 'SIGSTOP');
      await sleep(WINDOW);
      const c = sample();
      const d = (x: typeof a, y: typeof a) => ({
        watcher: y.watcher - x.watcher,
        broadcast: y.broadcast - x.broadcast,
        decoder: y.decoder - x.decoder,
        toFrozen: y.toFrozen - x.toFrozen,
      });
      const reading = d(a, b),
        frozen = d(b, c);
      t.diagnostic(`over ${WINDOW} ms with the other subscriber reading: ${JSON.stringify(reading)}`);
      t.diagnostic(`over ${WINDOW} ms with it frozen (SIGSTOP):        ${JSON.stringify(frozen)}`);
      assert.ok(frozen.watcher > 0, 'the other subscriber keeps decoding frames');
      assert.ok(frozen.broadcast > 0, 'the broadcast keeps sending frames');
      assert.ok(frozen.decoder > 0, 'the broadcast decoder keeps decoding');
      assert.ok(frozen.toFrozen > 0, 'packets kept going to the frozen subscriber (dropped by its own socket)');
      assert.ok(shows(watcher, 'bob'));

      // What nginx-rtmp received in the same two windows (the encoder stamps 30 fps).
      await call.stopRTMPBroadcast({ name: 'frozen-check' });
      await waitFor('broadcast stopped', () => !svc.server.engine.stats(CID).some((s) => s.name === 'frozen-check'), 20_000);
      await sleep(500);
      const { stdout } = await execFileP(
        'ffprobe',
        [
          '-v',
          'error',
          '-select_streams',
          'v:0',
          '-show_entries',
          'packet=pts_time',
          '-of',
          'csv=p=0',
          ingest.recordingPath('whep-frozen'),
        ],
        { maxBuffer: 16 * 1024 * 1024 },
      );
      const pts = stdout
        .split('\n')
        .map(Number)
        .filter((x) => Number.isFinite(x) && x > 0);
      const inWindow = (from: number, to: number) => pts.filter((x) => x >= from / 30 && x < to / 30).length;
      const recorded = { reading: inWindow(a.broadcast, b.broadcast), frozen: inWindow(b.broadcast, c.broadcast) };
      t.diagnostic(`frames nginx-rtmp recorded in the two windows: ${JSON.stringify(recorded)}`);
      t.diagnostic(lagText());
      assert.ok(recorded.frozen > 0, 'nginx-rtmp kept receiving frames');
    } finally {
      clearInterval(poll);
      child.kill('SIGKILL');
    }
    // The server drops the subscription once it notices (consent expiry) or when bob leaves below.
  });

  it('closes subscriptions when their participant leaves and when the call ends', async () => {
    const closed: { resourceId: string; reason: string }[] = [];
    const onClosed = (e: (typeof closed)[number]) => closed.push(e);
    svc.server.media.forwarding.on('subscription_closed', onClosed);
    try {
      const toCarol = await subscribe('alice', 'carol');
      const toBob = await subscribe('alice', 'bob');
      await waitFor('both pictures', () => shows(toCarol, 'carol') && shows(toBob, 'bob'), 60_000);
      const carolId = new URL(toCarol.location!).pathname.split('/').pop()!;
      assert.equal(await publishers.get('carol')!.unpublish(), 200);
      await waitFor('carol gone', () => !sessionOf('carol'), 10_000);
      assert.equal(closed.find((e) => e.resourceId === carolId)?.reason, 'participant_left');
      assert.equal(await toCarol.unsubscribe(), 404);
      const stalled = toCarol.stats.packets.video;
      await sleep(1000);
      assert.equal(toCarol.stats.packets.video, stalled, 'nothing arrives any more');
      assert.ok(
        toBob.stats.packets.video > 0 &&
          svc.server.media.forwarding.list(CID).some((x) => x.resourceId === new URL(toBob.location!).pathname.split('/').pop()),
      );

      await svc.client.video.call(TYPE, ID).end();
      await waitFor('call ended', () => svc.server.media.sessionParticipants(CID).length === 0, 10_000);
      assert.equal(svc.server.media.forwarding.list(CID).length, 0);
      assert.ok(closed.filter((e) => e.reason === 'call_ended').length >= 1);
      assert.equal(await toBob.unsubscribe(), 404);
    } finally {
      svc.server.media.forwarding.off('subscription_closed', onClosed);
    }
  });

  it('a participant publishing only video: an offer of audio and video gets the video, its audio section inactive', async () => {
    const call = svc.client.video.call(TYPE, 'whep-video-only');
    const created = await call.getOrCreate({ data: { created_by_id: 'alice', members: [{ user_id: 'alice' }] } });
    const cid = `${TYPE}:whep-video-only`;
    const pub = await TestPublisher.start({ url: created.call.ingress.whip.address, token: token('alice'), color: 'red', audio: false });
    publishers.set('alice-video-only', pub);
    await waitFor('published', () => svc.server.media.sessionParticipants(cid)[0]?.published_tracks.length === 1, 30_000);
    const s = await TestSubscriber.start({ url: whepUrl(sessionOf('alice', cid)!, TYPE, 'whep-video-only'), token: token('bob') });
    subscribers.push(s);
    const audioSection = s.answer?.split(/\r?\n(?=m=)/).find((m) => m.startsWith('m=audio'));
    assert.ok(audioSection, 'the answer keeps the audio section');
    assert.match(audioSection, /a=inactive/);
    await waitFor('the video decoded', () => shows(s, 'alice'), 30_000);
    assert.equal(s.stats.packets.audio, 0);
  });

  it("refuses what it cannot serve, in Stream's error shape", async () => {
    // A fresh call with one publisher (the first one has ended).
    const call = svc.client.video.call(TYPE, 'whep-refusals');
    const created = await call.getOrCreate({ data: { created_by_id: 'alice', members: [{ user_id: 'alice' }] } });
    const cid = `${TYPE}:whep-refusals`;
    const pub = await TestPublisher.start({ url: created.call.ingress.whip.address, token: token('alice'), color: 'red' });
    publishers.set('alice2', pub);
    await waitFor('published', () => svc.server.media.sessionParticipants(cid)[0]?.published_tracks.length === 2, 30_000);
    const sid = sessionOf('alice', cid)!;
    const url = whepUrl(sid, TYPE, 'whep-refusals');
    const { subscriber: spare, offer } = await TestSubscriber.prepare({ url });
    await spare.close();
    const expectError = async (res: { status: number; body: string }, status: number, code: number, pattern: RegExp) => {
      assert.equal(res.status, status, res.body);
      const body = JSON.parse(res.body) as { code: number; message: string; StatusCode: number };
      assert.equal(body.code, code);
      assert.equal(body.StatusCode, status);
      assert.match(body.message, /^WhepSubscribe failed with error: "/);
      assert.match(body.message, pattern);
    };

    // 401: no token, a token signed with another secret, a wrong api_key.
    await expectError(await postOffer(url, offer), 401, 5, /Authorization header is missing/);
    const forged = await new SignJWT({ user_id: 'alice' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .sign(new TextEncoder().encode('not-the-secret'));
    await expectError(await postOffer(url, offer, forged), 401, 43, /signature/);
    await expectError(await postOffer(`${url}?api_key=wrong`, offer, token('stranger')), 401, 2, /api_key/);

    // 403: a call token for another call; a user whose roles cannot read the call.
    const otherCall = svc.client.generateCallToken({ user_id: 'stranger', call_cids: [`${TYPE}:elsewhere`], validity_in_seconds: 600 });
    await expectError(await postOffer(url, offer, otherCall), 403, 17, /other calls/);
    await svc.client.video.createCallType({ name: 'sealed', grants: { user: ['send-audio'] } });
    await svc.client.video.call('sealed', 'room').getOrCreate({ data: { created_by_id: 'alice' } });
    await expectError(await postOffer(whepUrl(sid, 'sealed', 'room'), offer, token('stranger')), 403, 17, /read-call/);

    // 404: an unknown participant session, an unknown call.
    await expectError(await postOffer(whepUrl('no-such-session', TYPE, 'whep-refusals'), offer, token('stranger')), 404, 16, /not in call/);
    await expectError(await postOffer(whepUrl(sid, TYPE, 'no-such-call'), offer, token('stranger')), 404, 16, /does not exist/);

    // 400: not SDP; an offer that receives nothing (a publisher's); a codec the publisher does not send.
    await expectError(await postOffer(url, 'hello', token('stranger')), 400, 4, /v=0/);
    const { publisher: sparePub, offer: sendOffer } = await TestPublisher.prepare({ url });
    await sparePub.close();
    await expectError(await postOffer(url, sendOffer, token('stranger')), 400, 4, /receives no audio or video/);
    const h264Only = offer.replace(/VP8\/90000/g, 'H264/90000').replace(/opus\/48000\/2/g, 'G722/8000');
    await expectError(
      await postOffer(url, h264Only, token('stranger')),
      400,
      4,
      /none of the codecs the participant sends \(video VP8, audio opus\)/,
    );
    const wrongType = await postOffer(url, '{}', token('stranger'), {}, 'application/json');
    assert.equal(wrongType.status, 415);

    // CORS: preflight and exposed headers, so a page on another origin can subscribe.
    const pre = await fetch(url, {
      method: 'OPTIONS',
      headers: { origin: 'https://elsewhere.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), '*');
    assert.match(pre.headers.get('accept-post') ?? '', /application\/sdp/);

    // Accepted: a server token, and a user with read-call through the app role (not a member),
    // also under /video without /api/v2.
    const serverToken = await new SignJWT({ server: true })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .sign(new TextEncoder().encode(svc.apiSecret));
    const ok = await postOffer(`${url}?api_key=${svc.apiKey}`, offer, serverToken);
    assert.equal(ok.status, 201, ok.body);
    assert.equal(ok.headers.get('content-type'), 'application/sdp');
    assert.match(ok.headers.get('etag') ?? '', /^"[0-9a-f]{16}"$/);
    assert.match(ok.headers.get('access-control-expose-headers') ?? '', /Location/);
    const location = ok.headers.get('location')!;
    assert.match(location, new RegExp(`^/api/v2/video/call/default/whep-refusals/participants/${sid}/whep/[0-9a-f]{32}$`));
    // Trickle on the resource, ICE restart refused, then DELETE.
    const patch = (body: string) =>
      fetch(new URL(location, svc.url), { method: 'PATCH', headers: { 'content-type': 'application/trickle-ice-sdpfrag' }, body });
    assert.equal((await patch('a=mid:0\r\na=candidate:9 1 udp 2122260223 127.0.0.1 40002 typ host\r\n')).status, 204);
    assert.equal(
      (await patch('a=ice-ufrag:other\r\na=ice-pwd:xxxxxxxxxxxxxxxxxxxxxxxx\r\na=mid:0\r\na=candidate:1 1 udp 1 127.0.0.1 9 typ host\r\n'))
        .status,
      422,
    );
    assert.equal((await fetch(new URL(location, svc.url), { method: 'DELETE' })).status, 200);
    const viaVideo = await postOffer(
      url.replace('/api/v2/video/', '/video/'),
      offer.replace(/a=ice-ufrag:\S+/g, 'a=ice-ufrag:zzzz'),
      token('stranger'),
    );
    assert.equal(viaVideo.status, 201, viaVideo.body);
    assert.match(viaVideo.headers.get('location') ?? '', /^\/video\/call\//);
    assert.equal((await fetch(new URL(viaVideo.headers.get('location')!, svc.url), { method: 'DELETE' })).status, 200);
  });
});
