/**
 * Screen sharing end to end: Alice (red camera, 440 Hz) and Bob (blue camera, 880 Hz) publish over
 * WHIP; Alice then shares a screen (lime, 1320 Hz) as a WHIP session of its own
 * (`?track_type=screen_share`) while a spotlight and a single-participant broadcast run at 720p to
 * nginx-rtmp. Frames grabbed from what the ingest recorded show the share and the cameras where
 * each layout's share view puts them, and the normal views before and after; the share's tone is
 * in the mix; the encoders and RTMP sessions are the same throughout. Also: call.session lists the
 * share, the events announce it, a WHEP subscriber receives it, and a user without the
 * screenshare capability is refused.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { WireEvent } from '../../src/events/contract.js';
import { grabFrameRgb, pixelAt } from '../support/ffprobe.js';
import { postOffer, TestPublisher } from '../support/publisher.js';
import { startNginxIngest, type NginxIngest } from '../support/rtmp-ingest.js';
import { startTestCallcast, type TestCallcast } from '../support/callcast.js';
import { TestSubscriber } from '../support/subscriber.js';
import { sleep, waitFor } from '../support/wait.js';
import { i420PixelRgb, near, tonePower } from '../media/helpers.js';

const execFileP = promisify(execFile);
type Rgb = [number, number, number];
const RED: Rgb = [255, 0, 0];
const BLUE: Rgb = [0, 0, 255];
const LIME: Rgb = [0, 255, 0];
const W = 1280;
const H = 720;

function close(a: Rgb, b: Rgb): boolean {
  return Math.abs(a[0] - b[0]) + Math.abs(a[1] - b[1]) + Math.abs(a[2] - b[2]) < 120;
}

async function decodePcm(path: string, fromS: number, durationS: number): Promise<Buffer> {
  const { stdout } = await execFileP(
    process.env.CALLCAST_FFMPEG || 'ffmpeg',
    ['-v', 'error', '-ss', String(fromS), '-t', String(durationS), '-i', path, '-vn', '-f', 's16le', '-ac', '2', '-ar', '48000', 'pipe:1'],
    { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024, timeout: 30_000 },
  );
  return stdout;
}

/** Expected colours at points of the 720p canvas, per layout and view (layouts.md §12). */
const EXPECT = {
  spotlight: {
    // normal: Alice or Bob in the big tile (792x445.5 at (244, 48.3)), the other in the bar.
    share: [
      { what: 'share in the big tile', x: 640, y: 271, rgb: LIME },
      { what: 'presenter camera first in the bar', x: 500, y: 590, rgb: RED },
      { what: 'Bob second in the bar', x: 780, y: 590, rgb: BLUE },
    ],
  },
  'single-participant': {
    share: [
      { what: 'share box', x: 400, y: 500, rgb: LIME },
      { what: 'presenter picture-in-picture', x: 1150, y: 100, rgb: RED },
    ],
  },
} as const;

describe('screen sharing', { timeout: 290_000 }, () => {
  let ingest: NginxIngest;
  let svc: TestCallcast;
  const events: WireEvent[] = [];
  const closers: Array<{ close(): Promise<unknown> }> = [];

  before(async () => {
    ingest = await startNginxIngest();
    svc = await startTestCallcast({ egress: { retry: { initialDelayMs: 200, maxDelayMs: 1000, giveUpAfterMs: 10_000 } } });
    svc.server.bus.subscribe((e) => events.push(e));
  });
  after(async () => {
    await Promise.allSettled(closers.map((c) => c.close()));
    await svc?.close();
    await ingest?.stop();
  });

  const token = (user: string) => svc.client.generateUserToken({ user_id: user, validity_in_seconds: 900 });

  it('refuses a share without the screenshare capability (403, code 17)', async () => {
    await svc.client.video.createCallType({ name: 'noshare', grants: { user: ['read-call', 'join-call', 'send-audio', 'send-video'] } });
    await svc.client.upsertUsers([{ id: 'eve', role: 'user' }]);
    const call = svc.client.video.call('noshare', 'c1');
    const created = await call.getOrCreate({ data: { created_by_id: 'eve' } });
    const whip = created.call.ingress.whip.address;
    const { publisher, offer } = await TestPublisher.prepare({ url: whip, token: token('eve') });
    closers.push(publisher);
    const res = await postOffer(`${whip}?track_type=screen_share`, offer, token('eve'));
    assert.equal(res.status, 403);
    const body = JSON.parse(res.body) as { code: number; message: string };
    assert.equal(body.code, 17);
    assert.match(body.message, /screenshare/);
    assert.equal(svc.server.media.participants('noshare:c1').length, 0);
  });

  it('shows the share where each layout puts it, mixes its sound, and starts and stops it live', async (t) => {
    const client = svc.client;
    await client.upsertUsers([
      { id: 'alice', name: 'Alice', role: 'user' },
      { id: 'bob', name: 'Bob', role: 'user' },
    ]);
    const call = client.video.call('default', 'talk');
    const cid = 'default:talk';
    const created = await call.getOrCreate({ data: { created_by_id: 'alice', members: [{ user_id: 'alice' }, { user_id: 'bob' }] } });
    const whip = created.call.ingress.whip.address;
    const alice = await TestPublisher.start({ url: whip, token: token('alice'), color: 'red', toneHz: 440 });
    closers.push(alice);
    // The normal spotlight view features the dominant speaker: Alice, because she starts first
    // and Bob's tone is quieter (still above the speaking threshold). At equal levels the lead
    // would flip on noise and either could win.
    await waitFor(() => svc.server.media.participants(cid).some((p) => p.userId === 'alice' && p.videoSize), 'Alice decoded', 60_000);
    const bob = await TestPublisher.start({ url: whip, token: token('bob'), color: 'blue', toneHz: 880, toneVolume: 0.5 });
    closers.push(bob);
    await waitFor(() => svc.server.media.participants(cid).filter((p) => p.videoSize).length === 2, 'two decoded publishers', 60_000);

    const layouts = ['spotlight', 'single-participant'] as const;
    for (const name of layouts) {
      await call.startRTMPBroadcasts({
        broadcasts: [
          {
            name,
            stream_url: ingest.url(),
            stream_key: `share-${name}`,
            quality: '720p',
            layout: { name, options: { 'participant_label.display': false, 'layout.background_color': '#202020' } },
          },
        ],
      });
    }
    await waitFor(
      () => layouts.every((n) => events.some((e) => e.type === 'call.rtmp_broadcast_started' && e.name === n)),
      'both live',
      30_000,
    );
    // A destination's sent-frame count is its position in its recording (30 fps); waiting on it
    // rather than on the wall clock keeps the frame times right on a loaded machine.
    const position = () => Object.fromEntries(svc.server.engine.stats(cid).map((s) => [s.name, s.videoFramesSent / 30]));
    const advance = async (seconds: number) => {
      const from = position();
      await waitFor(() => layouts.every((n) => position()[n]! >= from[n]! + seconds), `${seconds} s more recorded`, 60_000);
    };
    await waitFor(() => Object.values(position()).every((p) => p >= 3), 'three seconds recorded', 90_000);
    const before = position();
    const pids = svc.server.egress.encoderPids();

    // Alice shares her screen.
    const startedAt = Date.now();
    const share = await TestPublisher.start({ url: `${whip}?track_type=screen_share`, token: token('alice'), color: 'lime', toneHz: 1320 });
    closers.push(share);
    await waitFor(
      () => svc.server.media.participants(cid).find((p) => p.userId === 'alice')?.screenShare?.videoSize,
      'the share decoded',
      60_000,
    );
    t.diagnostic(`share decoded ${Date.now() - startedAt} ms after its publish started`);
    const started = events.find((e) => e.type === 'call.screen_share_started') as
      | (WireEvent & { user_id?: string; participant?: { published_tracks: string[] } })
      | undefined;
    assert.equal(started?.user_id, 'alice');
    // call.session: the share is listed under Alice's camera session, not as another participant.
    const live = await call.get();
    const listed = live.call.session?.participants ?? [];
    t.diagnostic(
      `call.session.participants: ${JSON.stringify(listed.map((p) => [p.user.id, (p as unknown as { published_tracks: string[] }).published_tracks]))}`,
    );
    assert.equal(listed.length, 2);
    const aliceEntry = listed.find((p) => p.user.id === 'alice') as unknown as { user_session_id: string; published_tracks: string[] };
    await waitFor(
      async () => {
        const s = await call.get();
        const a = s.call.session?.participants.find((p) => p.user.id === 'alice') as unknown as { published_tracks: string[] } | undefined;
        return a?.published_tracks.includes('screen_share') && a.published_tracks.includes('screen_share_audio');
      },
      'published_tracks with screen_share',
      20_000,
    );

    // Bob watches the share over WHEP.
    const viewer = await TestSubscriber.start({
      url: `${svc.url}/api/v2/video/call/default/talk/participants/${aliceEntry.user_session_id}/whep?track_type=screen_share`,
      token: token('bob'),
    });
    closers.push(viewer);
    await waitFor(
      () =>
        viewer.latestFrame &&
        near(
          i420PixelRgb(viewer.latestFrame, viewer.size.width, viewer.size.height, viewer.size.width / 2, viewer.size.height / 2),
          { r: 0, g: 255, b: 0 },
          60,
        ),
      'the WHEP subscriber sees the share',
      60_000,
    );

    await advance(3);
    const during = position();
    const stoppingAt = Date.now();
    assert.equal(await share.unpublish(), 200);
    await waitFor(() => events.some((e) => e.type === 'call.screen_share_stopped'), 'call.screen_share_stopped', 20_000);
    await waitFor(() => !svc.server.media.participants(cid).some((p) => p.screenShare), 'the share gone', 20_000);
    t.diagnostic(`share gone from the layout ${Date.now() - stoppingAt} ms after the DELETE`);
    await advance(2.5);
    const afterStop = position();
    await advance(1);

    assert.deepEqual(svc.server.egress.encoderPids(), pids, 'the same encoders throughout');
    for (const s of svc.server.engine.stats(cid)) assert.equal(s.reconnects, 0, `${s.name} reconnected`);
    await call.stopAllRTMPBroadcasts();
    await waitFor(
      () => layouts.every((n) => events.some((e) => e.type === 'call.rtmp_broadcast_stopped' && e.name === n)),
      'both stopped',
      20_000,
    );
    await sleep(500);

    for (const name of layouts) {
      const path = ingest.recordingPath(`share-${name}`);
      const at = { before: before[name]! - 0.5, during: during[name]! - 1, after: afterStop[name]! - 0.5 };
      t.diagnostic(`${name}: frames at ${JSON.stringify(at)}`);
      const frame = async (s: number) => grabFrameRgb(path, s, W, H);
      const px = (f: Buffer, x: number, y: number) => pixelAt(f, W, x, y) as Rgb;
      const [fb, fd, fa] = [await frame(at.before), await frame(at.during), await frame(at.after)];
      for (const e of EXPECT[name].share) {
        const got = px(fd, e.x, e.y);
        t.diagnostic(`${name} during the share, ${e.what} at (${e.x}, ${e.y}): ${got.join(',')}`);
        assert.ok(close(got, e.rgb), `${name}: ${e.what} is ${got.join(',')}, expected ${e.rgb.join(',')}`);
      }
      // Before and after: no lime anywhere it was during the share; the normal view.
      for (const f of [fb, fa]) {
        for (const e of EXPECT[name].share) assert.ok(!close(px(f, e.x, e.y), LIME), `${name}: lime at (${e.x}, ${e.y}) outside the share`);
      }
      if (name === 'spotlight') {
        for (const f of [fb, fa]) {
          assert.ok(close(px(f, 640, 271), RED), `spotlight normal: Alice in the big tile (${px(f, 640, 271).join(',')})`);
          assert.ok(close(px(f, 640, 590), BLUE), `spotlight normal: Bob alone in the bar (${px(f, 640, 590).join(',')})`);
        }
      }
    }
    // The screen's sound is in the mix, beside the microphones'.
    const pcm = await decodePcm(ingest.recordingPath('share-spotlight'), during.spotlight! - 2.5, 2);
    const off = tonePower(pcm, 1100);
    t.diagnostic(
      `tone power 440 ${tonePower(pcm, 440).toFixed(0)}, 880 ${tonePower(pcm, 880).toFixed(0)}, 1320 ${tonePower(pcm, 1320).toFixed(0)}, 1100 ${off.toFixed(0)}`,
    );
    assert.ok(tonePower(pcm, 1320) > 10 * off, 'the share tone (1320 Hz)');
    assert.ok(tonePower(pcm, 440) > 10 * off, 'Alice (440 Hz)');
    const after = await decodePcm(ingest.recordingPath('share-spotlight'), afterStop.spotlight! - 2, 1.5);
    assert.ok(tonePower(after, 1320) < tonePower(after, 440) / 10, 'no share tone after the share stopped');
  });
});
