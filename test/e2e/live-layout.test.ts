/**
 * Layouts that change while a broadcast is live, end to end: two publishers of known colours over
 * WHIP, a 480p broadcast to a real nginx-rtmp ingest started without a layout of its own (grid,
 * from the call's settings). The call's settings then switch to spotlight with another background
 * colour (node SDK `call.update`), and the PATCH of the broadcast sets single-participant with a
 * third one. Frames grabbed from what the ingest recorded show each layout's tiles (centres as
 * the layout engine computes them) and its background colour outside them; the ingest got one
 * RTMP session throughout (one recording, one publish) and the destination never reconnected. A
 * quality change and an unknown name are refused in Stream's error shape.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import type { WireEvent } from '../../src/events/contract.js';
import { composeScene } from '../../src/layout/scene.js';
import type { LayoutSettings } from '../../src/layout/settings.js';
import { i420PixelRgb } from '../media/helpers.js';
import { startTestCallcast, type TestCallcast } from '../support/callcast.js';
import { grabFrameRgb, pixelAt, probe } from '../support/ffprobe.js';
import { videoParticipants } from '../support/layout-points.js';
import { TestPublisher } from '../support/publisher.js';
import { startNginxIngest, type NginxIngest } from '../support/rtmp-ingest.js';
import { rawRequest } from '../support/server.js';
import { sleep, waitFor } from '../support/wait.js';

const W = 854;
const H = 480;
type Rgb = [number, number, number];
const PEOPLE: Record<string, { ffmpeg: string; rgb: Rgb }> = {
  alice: { ffmpeg: 'red', rgb: [255, 0, 0] },
  bob: { ffmpeg: 'blue', rgb: [0, 0, 255] },
};
const near = (a: number[], b: number[], tol = 60) => a.every((v, i) => Math.abs(v - b[i]!) <= tol);
const noLabels = { 'participant_label.display': false };

/** The three pictures of the test: the layout, its background colour. */
const STAGES = {
  grid: { layout: { name: 'grid', options: { ...noLabels, 'layout.background_color': '#202020' } }, bg: [32, 32, 32] as Rgb },
  spotlight: { layout: { name: 'spotlight', options: { ...noLabels, 'layout.background_color': '#ffff00' } }, bg: [255, 255, 0] as Rgb },
  single: {
    // Inset (padding), so that the background shows around the one tile.
    layout: {
      name: 'single-participant',
      options: { ...noLabels, 'layout.background_color': '#00ff00', 'layout.single-participant.padding_inline': '10%' },
    },
    bg: [0, 255, 0] as Rgb,
  },
} as const;
type Stage = keyof typeof STAGES;

/** Tile centres of the stage's layout with both publishers, and a point of the canvas outside every tile. */
function geometry(stage: Stage): { centres: Array<[number, number]>; outside: [number, number] } {
  const participants = videoParticipants(2);
  const l = STAGES[stage].layout;
  const layout: LayoutSettings = { name: l.name, external_app_url: '', external_css_url: '', options: l.options };
  const scene = composeScene({ canvas: { width: W, height: H }, participants, layout, nowMs: 0 });
  const rects = scene.items.flatMap((i) => ('rect' in i && i.rect ? [i.rect] : []));
  const tiles = scene.items.flatMap((i) => (i.kind === 'tile' ? [i.rect] : []));
  const centres = tiles.map((r) => [Math.round(r.x + r.width / 2), Math.round(r.y + r.height / 2)] as [number, number]);
  const margin = 12;
  let outside: [number, number] | null = null;
  for (let y = margin; y < H - margin && !outside; y += 4) {
    for (let x = margin; x < W - margin && !outside; x += 4) {
      const clear = rects.every((r) => x < r.x - margin || x > r.x + r.width + margin || y < r.y - margin || y > r.y + r.height + margin);
      if (clear) outside = [x, y];
    }
  }
  assert.ok(outside, `${stage}: no background point outside the tiles`);
  return { centres, outside };
}

function whoIs(px: number[]): string {
  const hit = Object.entries(PEOPLE).find(([, c]) => near(px, c.rgb));
  return hit ? hit[0] : `rgb(${px.join(',')})`;
}

/** What a frame shows: who is at the stage's tile centres (sorted), and the colour outside them. */
function reading(stage: Stage, pixel: (x: number, y: number) => number[]): { tiles: string[]; background: number[] } {
  const g = geometry(stage);
  return { tiles: g.centres.map(([x, y]) => whoIs(pixel(x, y))).sort(), background: pixel(...g.outside) };
}

/** The frame shows the stage: its tiles where its layout puts them, its background colour outside them. */
function shows(stage: Stage, r: { tiles: string[]; background: number[] }): boolean {
  const expected = stage === 'single' ? r.tiles.length === 1 && ['alice', 'bob'].includes(r.tiles[0]!) : r.tiles.join() === 'alice,bob';
  return expected && near(r.background, STAGES[stage].bg, 40);
}

describe('layouts that change while a broadcast is live', { timeout: 180_000 }, () => {
  let ingest: NginxIngest;
  let svc: TestCallcast;
  const events: WireEvent[] = [];
  const publishers: TestPublisher[] = [];

  before(async () => {
    ingest = await startNginxIngest();
    svc = await startTestCallcast({ egress: { retry: { initialDelayMs: 200, maxDelayMs: 1000, giveUpAfterMs: 10_000 } } });
    svc.server.bus.subscribe((e) => events.push(e));
  });
  after(async () => {
    await Promise.all(publishers.map((p) => p.close()));
    await svc?.close();
    await ingest?.stop();
  });

  it('follows call.update and the PATCH in later frames, under one RTMP session', async (t) => {
    const started = Date.now();
    const { client, server } = svc;
    const cid = 'default:live-layout';
    await client.upsertUsers(Object.keys(PEOPLE).map((id) => ({ id, name: id, role: 'user' })));
    const call = client.video.call('default', 'live-layout');
    const created = await call.getOrCreate({
      data: {
        created_by_id: 'alice',
        settings_override: { broadcasting: { rtmp: { quality: '480p', layout: STAGES.grid.layout } } } as never,
      },
    });
    for (const [user, c] of Object.entries(PEOPLE)) {
      const token = client.generateUserToken({ user_id: user, validity_in_seconds: 600 });
      // Only Alice is heard, so she is the dominant speaker throughout and the featured tile never
      // changes under a grabbed frame (equal tones let load decide who leads).
      publishers.push(
        await TestPublisher.start({ url: created.call.ingress.whip.address, token, color: c.ffmpeg, audio: user === 'alice' }),
      );
    }
    await waitFor(
      () => server.media.participants(cid).filter((p) => p.hasVideo && p.videoSize).length === 2,
      'two decoded publishers',
      60_000,
    );

    // No layout (nor quality) of its own: grid at 480p from the call's settings.
    await call.startRTMPBroadcasts({ broadcasts: [{ name: 'live', stream_url: ingest.url(), stream_key: 'live-layout' }] });
    await waitFor(() => events.some((e) => e.type === 'call.rtmp_broadcast_started' && e.name === 'live'), 'broadcast live', 30_000);
    // Where the recording is now: the encoder stamps frames at 30 fps, so the destination's sent
    // frame count is its position (robust to a slow machine).
    const position = () => (server.engine.stats(cid)[0]?.videoFramesSent ?? 0) / 30;
    const composed = (stage: Stage) => {
      const frame = server.previews.latestFrame(cid, '480p');
      if (!frame) return false;
      return shows(
        stage,
        reading(stage, (x, y) => {
          const c = i420PixelRgb(frame.data, frame.width, frame.height, x, y);
          return [c.r, c.g, c.b];
        }),
      );
    };
    const at: Partial<Record<Stage, number>> = {};
    const settle = async (stage: Stage, since: number) => {
      // The destination streams the encode of the stage's layout (the move happens at that
      // encode's keyframe), which composes the stage's picture.
      await waitFor(
        () => server.egress.groupOf(cid, 'live')?.health().layout === STAGES[stage].layout.name,
        `the broadcast to stream the ${stage} encode`,
        60_000,
      );
      t.diagnostic(`${stage}: the destination switched ${Date.now() - since} ms after the change was asked for`);
      await waitFor(() => composed(stage), `the composed picture to show ${stage}`, 30_000);
      t.diagnostic(`${stage}: composed ${Date.now() - since} ms after the change was asked for`);
      // A second of recording from here on (counted in frames sent: robust to a slow machine).
      const from = position();
      await waitFor(() => position() >= from + 1.2, `a second of ${stage} recorded`, 60_000);
      at[stage] = from + 0.6;
      const groups = server.egress.groupStats().filter((g) => g.callCid === cid);
      t.diagnostic(
        `${stage}: at ${at[stage]!.toFixed(2)} s of the recording after ${Date.now() - started} ms; groups ${JSON.stringify(
          groups.map((g) => ({
            layout: g.layout,
            ticks: g.ticks,
            skipped: g.skippedTicks,
            dropped: g.droppedFrames,
            ratio: g.realtimeRatio,
          })),
        )}`,
      );
    };
    await settle('grid', Date.now());
    const broadcastGroups = () => server.egress.groupStats().filter((g) => g.callCid === cid);
    assert.equal(broadcastGroups().length, 1);

    // The call's settings: spotlight with a yellow background.
    const beforeUpdate = events.length;
    const updateAt = Date.now();
    await call.update({ settings_override: { broadcasting: { rtmp: { layout: STAGES.spotlight.layout } } } as never });
    const updated = await waitFor(() => events.slice(beforeUpdate).find((e) => e.type === 'call.updated'), 'call.updated');
    assert.equal(
      (updated.call as { settings: { broadcasting: { rtmp: { layout: { name: string } } } } }).settings.broadcasting.rtmp.layout.name,
      'spotlight',
    );
    await settle('spotlight', updateAt);
    await waitFor(() => broadcastGroups().length === 1, 'the grid group to stop', 10_000);
    assert.equal(broadcastGroups()[0]!.layout, 'spotlight');

    // The PATCH of the broadcast: single-participant on green.
    const patchAt = Date.now();
    const patched = await patchAsServer(svc, STAGES.single.layout);
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.equal(patched.body.broadcast.layout.name, 'single-participant');
    await settle('single', patchAt);
    await waitFor(() => broadcastGroups().length === 1, 'the spotlight group to stop', 10_000);

    // Refusals in Stream's error shape: another quality, an unknown name.
    const quality = await patchAsServer(svc, STAGES.grid.layout, '720p');
    assert.equal(quality.status, 400);
    assert.equal(quality.body.code, 4);
    assert.equal(quality.body.StatusCode, 400);
    assert.match(quality.body.message, /UpdateRTMPBroadcast failed with error: .*quality of a running broadcast cannot change/);
    const unknown = await patchAsServer(svc, STAGES.grid.layout, undefined, 'nobody');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, 16);

    // One session throughout: no reconnect, one recording, one publish at the ingest.
    const stats = server.engine.stats(cid);
    assert.equal(stats.length, 1);
    assert.equal(stats[0]!.reconnects, 0);
    assert.equal(stats[0]!.state, 'live');
    await call.stopRTMPBroadcast({ name: 'live' });
    await waitFor(() => events.some((e) => e.type === 'call.rtmp_broadcast_stopped' && e.name === 'live'), 'stopped', 20_000);
    await sleep(500);
    assert.deepEqual(
      readdirSync(ingest.recordDir).filter((f) => f.startsWith('live-layout')),
      ['live-layout.flv'],
    );
    const nginxLog = readFileSync(join(ingest.recordDir, '..', 'logs', 'error.log'), 'utf8');
    const publishes = nginxLog.split('\n').filter((l) => /publish: name='live-layout'/.test(l)).length;
    t.diagnostic(`publishes of live-layout in the nginx log: ${publishes}`);
    assert.equal(publishes, 1, 'one RTMP publish');

    // Later frames of the recording show each stage.
    const path = ingest.recordingPath('live-layout');
    t.diagnostic(`recorded ${(await probe(path)).format.duration} s; frames grabbed at ${JSON.stringify(at)}`);
    for (const stage of Object.keys(STAGES) as Stage[]) {
      const frame = await grabFrameRgb(path, at[stage]!, W, H);
      const seen = reading(stage, (x, y) => pixelAt(frame, W, x, y));
      t.diagnostic(`${stage} at ${at[stage]!.toFixed(2)} s: ${JSON.stringify(seen)}`);
      assert.ok(shows(stage, seen), `${stage}: ${JSON.stringify(seen)}`);
    }
    t.diagnostic(`test body took ${Date.now() - started} ms`);
  });
});

/** PATCH of a broadcast of the test's call with a server token. */
async function patchAsServer(svc: TestCallcast, layout: unknown, quality?: string, name = 'live') {
  const token = await new SignJWT({ server: true })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(svc.apiSecret));
  return rawRequest(svc, 'PATCH', `/api/v2/video/call/default/live-layout/rtmp_broadcasts/${name}`, {
    token,
    body: { layout, ...(quality ? { quality } : {}) },
  });
}
