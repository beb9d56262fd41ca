/**
 * Call media composed into the broadcast, end to end: participants publish known solid colours and
 * tones over WHIP (Node publishers) to the complete service; the node SDK starts spotlight, grid
 * and single-participant broadcasts to a real nginx-rtmp ingest; frames grabbed from what the
 * ingest recorded show each participant's colour where the layout engine put its tile, and the
 * recorded audio carries every participant's tone. A participant joining and leaving mid-broadcast
 * changes the picture without restarting the encoder or the RTMP session.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { StreamClient } from '@stream-io/node-sdk';
import type { Callcast } from '../../src/app.js';
import type { WireEvent } from '../../src/events/contract.js';
import type { LayoutName } from '../../src/layout/settings.js';
import { decodePcm, grabFrameRgb, pixelAt, probe } from '../support/ffprobe.js';
import { tileCentres as layoutTileCentres } from '../support/layout-points.js';
import { TestPublisher } from '../support/publisher.js';
import { startNginxIngest, type NginxIngest } from '../support/rtmp-ingest.js';
import { startTestCallcast, type TestCallcast } from '../support/callcast.js';
import { waitFor } from '../support/wait.js';
import { i420PixelRgb, tonePower } from '../media/helpers.js';

/** Each layout broadcasts at its own quality, so each group's composed output can be watched apart. */
const GROUPS = {
  spotlight: { quality: '360p', w: 640, h: 360 },
  grid: { quality: '480p', w: 854, h: 480 },
  'single-participant': { quality: 'portrait-360x640', w: 360, h: 640 },
} as const;
type GroupName = keyof typeof GROUPS;

type Rgb = [number, number, number];
// Alice's tone is the loudest, so she is the dominant speaker throughout: which tile is large
// (spotlight) and who is featured (single-participant) never changes between two grabbed frames,
// however the machine's load delays one publisher's audio.
const COLOURS: Record<string, { ffmpeg: string; rgb: Rgb; tone: number; volume: number }> = {
  alice: { ffmpeg: 'red', rgb: [255, 0, 0], tone: 440, volume: 2 },
  bob: { ffmpeg: 'blue', rgb: [0, 0, 255], tone: 880, volume: 1 },
  carol: { ffmpeg: 'lime', rgb: [0, 255, 0], tone: 1320, volume: 1 },
};

const near = (a: number[], b: number[], tol = 60) => a.every((v, i) => Math.abs(v - b[i]!) <= tol);

/** Tile centres of `layout` for `n` participants with video, as the layout engine places them. */
function tileCentres(layout: GroupName, n: number): Array<[number, number]> {
  const { w: width, h: height } = GROUPS[layout];
  return layoutTileCentres(layout as LayoutName, { width, height }, n);
}

function whoIs(px: number[]): string {
  const hit = Object.entries(COLOURS).find(([, c]) => near(px, c.rgb));
  return hit ? hit[0] : `rgb(${px.join(',')})`;
}

/** Which participants' colours are at the given points of an RGB frame (from the recording). */
function coloursAt(frame: Buffer, width: number, points: Array<[number, number]>): string[] {
  return points.map(([x, y]) => whoIs(pixelAt(frame, width, x, y)));
}

/** The same on an I420 frame (the group's latest composed output). */
function coloursInI420(frame: { data: Buffer; width: number; height: number }, points: Array<[number, number]>): string[] {
  return points.map(([x, y]) => {
    const c = i420PixelRgb(frame.data, frame.width, frame.height, x, y);
    return whoIs([c.r, c.g, c.b]);
  });
}

describe('participants composed into broadcasts at a real RTMP ingest', { timeout: 240_000 }, () => {
  let ingest: NginxIngest;
  let server: Callcast;
  let client: StreamClient;
  let svc: TestCallcast;
  const events: WireEvent[] = [];
  const publishers = new Map<string, TestPublisher>();

  before(async () => {
    ingest = await startNginxIngest();
    svc = await startTestCallcast({ egress: { retry: { initialDelayMs: 200, maxDelayMs: 1000, giveUpAfterMs: 10_000 } } });
    server = svc.server;
    client = svc.client;
    server.bus.subscribe((e) => events.push(e));
  });
  after(async () => {
    await Promise.all([...publishers.values()].map((p) => p.close()));
    await svc?.close();
    await ingest?.stop();
  });

  const publish = async (whip: string, user: string) => {
    const c = COLOURS[user]!;
    const token = client.generateUserToken({ user_id: user, validity_in_seconds: 600 });
    const p = await TestPublisher.start({ url: whip, token, color: c.ffmpeg, toneHz: c.tone, toneVolume: c.volume });
    publishers.set(user, p);
    return p;
  };

  it('shows each participant in the region its layout gives, mixes their tones, and follows joins and leaves live', async (t) => {
    await client.upsertUsers(Object.keys(COLOURS).map((id) => ({ id, name: id[0]!.toUpperCase() + id.slice(1), role: 'user' })));
    const call = client.video.call('default', 'composed');
    const created = await call.getOrCreate({
      data: { created_by_id: 'alice', members: Object.keys(COLOURS).map((user_id) => ({ user_id })) },
    });
    const whip = created.call.ingress.whip.address;
    assert.match(whip, /\/api\/v2\/video\/call\/default\/composed\/whip$/);
    const cid = 'default:composed';

    await publish(whip, 'alice');
    await publish(whip, 'bob');
    await waitFor(
      () => server.media.participants(cid).filter((p) => p.hasVideo && p.videoSize).length === 2,
      'two decoded publishers',
      60_000,
    );
    assert.ok(events.some((e) => e.type === 'call.session_participant_joined'));
    // The call's live session lists both, through the SDK.
    const live = await call.get();
    assert.ok(live.call.current_session_id.length > 0);
    assert.deepEqual(live.call.session?.participants.map((p) => p.user.id).sort(), ['alice', 'bob']);

    const layouts = Object.keys(GROUPS) as GroupName[];
    for (const name of layouts) {
      await call.startRTMPBroadcasts({
        broadcasts: [
          {
            name,
            stream_url: ingest.url(),
            stream_key: `composed-${name}`,
            quality: GROUPS[name].quality,
            layout: { name, options: { 'participant_label.display': false, 'layout.background_color': '#202020' } },
          },
        ],
      });
    }
    await waitFor(
      () => layouts.every((n) => events.some((e) => e.type === 'call.rtmp_broadcast_started' && e.name === n)),
      'all three live',
      30_000,
    );
    // Where each recording is now, in its own timeline: the encoder stamps frames at 30 fps, so a
    // destination's sent-frame count is its position (robust to a busy machine running slow).
    const position = () => Object.fromEntries(server.engine.stats(cid).map((s) => [s.name, s.videoFramesSent / 30]));
    // What each group's composed output shows right now at the tile centres of `n` participants.
    const showing = (name: GroupName, n: number) => {
      const frame = server.previews.latestFrame(cid, GROUPS[name].quality);
      return frame ? coloursInI420(frame, tileCentres(name, n)).sort() : [];
    };
    const shows = (name: GroupName, who: string[]) => JSON.stringify(showing(name, who.length)) === JSON.stringify([...who].sort());
    const pidsBefore = server.egress.encoderPids();
    assert.equal(pidsBefore.length, 3, 'one encoder per layout');

    // Alice and Bob, until every group shows them (and a second more); then Carol joins until
    // she is on screen (plus a few seconds), then leaves.
    await waitFor(
      () =>
        shows('spotlight', ['alice', 'bob']) &&
        shows('grid', ['alice', 'bob']) &&
        ['alice', 'bob'].includes(showing('single-participant', 1)[0]!),
      'both on screen everywhere',
      60_000,
    );
    await new Promise((r) => setTimeout(r, 1000));
    // ...and until every recording is 3 s long, so that the tone check below has its two seconds.
    await waitFor(() => Object.values(position()).every((p) => p >= 3), 'three seconds recorded', 30_000);
    const withTwo = position();
    const joinedAt = Date.now();
    const carol = await publish(whip, 'carol');
    await waitFor(
      () => shows('spotlight', ['alice', 'bob', 'carol']) && shows('grid', ['alice', 'bob', 'carol']),
      'Carol on screen',
      60_000,
    );
    t.diagnostic(`Carol on screen ${Date.now() - joinedAt} ms after her publish started`);
    const carolVisible = position();
    await new Promise((r) => setTimeout(r, 3000));
    const carolLeaving = position();
    assert.equal(await carol.unpublish(), 200);
    await waitFor(() => server.media.participants(cid).length === 2, 'Carol gone', 20_000);
    await waitFor(() => shows('spotlight', ['alice', 'bob']) && shows('grid', ['alice', 'bob']), 'two again', 30_000);
    await new Promise((r) => setTimeout(r, 1000));
    const afterLeave = position();
    await new Promise((r) => setTimeout(r, 1000));

    // Same encoders and the same RTMP sessions throughout.
    const stats = server.engine.stats(cid);
    assert.deepEqual(server.egress.encoderPids(), pidsBefore);
    for (const s of stats) assert.equal(s.reconnects, 0, `${s.name} reconnected`);
    await call.stopAllRTMPBroadcasts();
    await waitFor(
      () => layouts.every((n) => events.some((e) => e.type === 'call.rtmp_broadcast_stopped' && e.name === n)),
      'all stopped',
      20_000,
    );
    await new Promise((r) => setTimeout(r, 500));

    const seen: Record<string, { two: string[]; three: string[]; again: string[] }> = {};
    for (const name of layouts) {
      const path = ingest.recordingPath(`composed-${name}`);
      const at = {
        two: withTwo[name]! - 0.5,
        three: (carolVisible[name]! + carolLeaving[name]!) / 2,
        again: afterLeave[name]! - 0.5,
      };
      const { w, h } = GROUPS[name];
      t.diagnostic(`${name}: recorded ${(await probe(path)).format.duration} s; frames grabbed at ${JSON.stringify(at)}`);
      const n3 = name === 'single-participant' ? 2 : 3;
      seen[name] = {
        two: coloursAt(await grabFrameRgb(path, at.two, w, h), w, tileCentres(name, 2)),
        three: coloursAt(await grabFrameRgb(path, at.three, w, h), w, tileCentres(name, n3)),
        again: coloursAt(await grabFrameRgb(path, at.again, w, h), w, tileCentres(name, 2)),
      };
      t.diagnostic(`${name}: ${JSON.stringify(seen[name])}`);
    }
    // With Alice and Bob: both colours where the layout puts two tiles (in either order); the
    // single-participant layout features one of them.
    assert.deepEqual([...seen.spotlight!.two].sort(), ['alice', 'bob']);
    assert.deepEqual([...seen.grid!.two].sort(), ['alice', 'bob']);
    assert.ok(['alice', 'bob'].includes(seen['single-participant']!.two[0]!), `single: ${seen['single-participant']!.two[0]}`);
    // With Carol too, in the middle of her stay.
    assert.deepEqual([...seen.grid!.three].sort(), ['alice', 'bob', 'carol']);
    assert.deepEqual([...seen.spotlight!.three].sort(), ['alice', 'bob', 'carol']);
    // After she left: two again.
    assert.deepEqual([...seen.grid!.again].sort(), ['alice', 'bob']);
    assert.deepEqual([...seen.spotlight!.again].sort(), ['alice', 'bob']);

    // Everyone is heard: the grid recording's audio carries both tones (and Carol's while she was there).
    const gridPath = ingest.recordingPath('composed-grid');
    // The two seconds before Carol joined, when both were on screen everywhere.
    const pcm = await decodePcm(gridPath, withTwo.grid! - 2.5, 2);
    const off = tonePower(pcm, 660);
    assert.ok(tonePower(pcm, 440) > 10 * off, `440 Hz: ${tonePower(pcm, 440)} vs ${off}`);
    assert.ok(tonePower(pcm, 880) > 10 * off, `880 Hz: ${tonePower(pcm, 880)} vs ${off}`);
    const pcm3 = await decodePcm(gridPath, (carolVisible.grid! + carolLeaving.grid!) / 2 - 1, 2);
    assert.ok(tonePower(pcm3, 1320) > 10 * tonePower(pcm3, 1100), `1320 Hz while Carol was there`);
  });
  it('detect_orientation starts a portrait broadcast for a portrait publisher', async () => {
    await client.upsertUsers([{ id: 'dora', name: 'Dora', role: 'user' }]);
    const call = client.video.call('default', 'portrait');
    const created = await call.getOrCreate({ data: { created_by_id: 'dora' } });
    const token = client.generateUserToken({ user_id: 'dora', validity_in_seconds: 600 });
    publishers.set(
      'dora',
      await TestPublisher.start({ url: created.call.ingress.whip.address, token, color: 'red', size: { width: 360, height: 640 } }),
    );
    await waitFor(() => server.media.participants('default:portrait')[0]?.videoSize?.height === 640, 'the portrait video size', 60_000);
    await call.startRTMPBroadcasts({
      broadcasts: [
        {
          name: 'phone',
          stream_url: ingest.url(),
          stream_key: 'portrait-phone',
          quality: '720p',
          layout: { name: 'single-participant', detect_orientation: true },
        },
      ],
    });
    await waitFor(() => events.some((e) => e.type === 'call.rtmp_broadcast_started' && e.name === 'phone'), 'phone live', 30_000);
    await waitFor(() => (server.engine.stats('default:portrait')[0]?.videoFramesSent ?? 0) > 60, '2 s of video', 30_000);
    await call.stopRTMPBroadcast({ name: 'phone' });
    await waitFor(() => events.some((e) => e.type === 'call.rtmp_broadcast_stopped' && e.name === 'phone'), 'phone stopped', 20_000);
    const info = await probe(ingest.recordingPath('portrait-phone'));
    assert.equal(info.video?.width, 720);
    assert.equal(info.video?.height, 1280);
  });
});
