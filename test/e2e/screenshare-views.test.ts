/**
 * The share views the main screen-share test does not cover, checked at the ingest: Alice (red
 * camera) and Bob (blue camera) publish, Alice shares a screen (lime); then, in the same call,
 * three broadcasts run to nginx-rtmp while the share is on:
 * - grid (no share view of its own) at 360p: spotlight's share view;
 * - mobile at portrait-720x1280: the share in the centred W x min(H, W*3/4) box, the presenter's
 *   camera as the 240x180 picture-in-picture at (W-250, 10);
 * - single-participant at 360p with `layout.single-participant.presenter_visible: false`: the share
 *   alone, no picture-in-picture.
 * The expected boxes come from composeScene for the participants as the media plane has them; a
 * frame grabbed from each recording shows every box in its publisher's colour.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { WireEvent } from '../../src/events/contract.js';
import type { LayoutParticipant } from '../../src/layout/participants.js';
import { composeScene, type Rect, type Scene } from '../../src/layout/scene.js';
import { canvasFor, type LayoutSettings, type Quality } from '../../src/layout/settings.js';
import { startTestCallcast, type TestCallcast } from '../support/callcast.js';
import { grabFrameRgb, pixelAt } from '../support/ffprobe.js';
import { TestPublisher } from '../support/publisher.js';
import { startNginxIngest, type NginxIngest } from '../support/rtmp-ingest.js';
import { sleep, waitFor } from '../support/wait.js';

type Rgb = [number, number, number];
const RED: Rgb = [255, 0, 0];
const BLUE: Rgb = [0, 0, 255];
const LIME: Rgb = [0, 255, 0];
const CID = 'default:share-views';

function close(a: Rgb, b: Rgb): boolean {
  return Math.abs(a[0] - b[0]) + Math.abs(a[1] - b[1]) + Math.abs(a[2] - b[2]) < 120;
}

interface Case {
  name: string;
  quality: Quality;
  layout: LayoutSettings;
  /** What the scene must be, beyond the colours of its boxes. */
  check(scene: Scene, ids: { share: string; alice: string; bob: string }): void;
}

const OPTIONS = { 'participant_label.display': false, 'layout.background_color': '#202020' };
const layout = (name: LayoutSettings['name'], options: Record<string, unknown> = {}): LayoutSettings => ({
  name,
  external_app_url: '',
  external_css_url: '',
  options: { ...OPTIONS, ...options },
});

const tilesOf = (scene: Scene) => scene.items.flatMap((i) => (i.kind === 'tile' ? [i] : []));

const CASES: Case[] = [
  {
    name: 'grid',
    quality: '360p',
    layout: layout('grid'),
    check(scene, ids) {
      assert.equal(scene.layout, 'spotlight', 'grid shows the spotlight share view');
      assert.equal(scene.screenShare, true);
      const t = tilesOf(scene);
      assert.deepEqual(
        t.map((x) => x.sessionId),
        [ids.share, ids.alice, ids.bob],
        'the share big, the presenter first in the bar, then Bob',
      );
      assert.ok(t[0]!.rect.width > t[1]!.rect.width * 1.3, 'the share is the big tile');
    },
  },
  {
    name: 'mobile',
    quality: 'portrait-720x1280',
    layout: layout('mobile'),
    check(scene, ids) {
      assert.equal(scene.layout, 'single-participant');
      assert.equal(scene.screenShare, true);
      const t = tilesOf(scene);
      assert.deepEqual(
        t.map((x) => x.sessionId),
        [ids.share, ids.alice],
      );
      assert.deepEqual(t[0]!.rect, { x: 0, y: (1280 - 540) / 2, width: 720, height: 540 }, 'the share box');
      assert.deepEqual(t[1]!.rect, { x: 720 - 250, y: 10, width: 240, height: 180 }, 'the presenter picture-in-picture');
    },
  },
  {
    name: 'single-nopip',
    quality: '360p',
    layout: layout('single-participant', { 'layout.single-participant.presenter_visible': false }),
    check(scene, ids) {
      assert.equal(scene.screenShare, true);
      assert.deepEqual(
        tilesOf(scene).map((x) => x.sessionId),
        [ids.share],
        'the share alone: no picture-in-picture',
      );
    },
  },
];

/** A point of `rect` on the canvas that no box drawn after it covers (its centre when possible). */
function visiblePoint(scene: Scene, index: number, rect: Rect): [number, number] | null {
  // Boxes of other pictures drawn on top (outlines and labels are thin or off here).
  const later = scene.items.slice(index + 1).flatMap((i) => (i.kind === 'tile' || i.kind === 'placeholder' ? [i.rect] : []));
  const x0 = Math.max(0, rect.x);
  const y0 = Math.max(0, rect.y);
  const x1 = Math.min(scene.width, rect.x + rect.width);
  const y1 = Math.min(scene.height, rect.y + rect.height);
  const candidates: Array<[number, number]> = [
    [(x0 + x1) / 2, (y0 + y1) / 2],
    [x0 + (x1 - x0) * 0.25, (y0 + y1) / 2],
    [x0 + (x1 - x0) * 0.75, (y0 + y1) / 2],
  ];
  for (const [fx, fy] of candidates) {
    const [x, y] = [Math.round(fx), Math.round(fy)];
    const covered = later.some((r) => x >= r.x - 4 && x <= r.x + r.width + 4 && y >= r.y - 4 && y <= r.y + r.height + 4);
    if (!covered && x > 2 && y > 2 && x < scene.width - 2 && y < scene.height - 2) return [x, y];
  }
  return null;
}

describe('screen-share views at the ingest', { timeout: 240_000 }, () => {
  let ingest: NginxIngest;
  let svc: TestCallcast;
  const events: WireEvent[] = [];
  const closers: Array<{ close(): Promise<unknown> }> = [];

  before(async () => {
    [ingest, svc] = await Promise.all([
      startNginxIngest(),
      startTestCallcast({ egress: { retry: { initialDelayMs: 200, maxDelayMs: 1000, giveUpAfterMs: 10_000 } } }),
    ]);
    svc.server.bus.subscribe((e) => events.push(e));
  });
  after(async () => {
    await Promise.allSettled(closers.map((c) => c.close()));
    await svc?.close();
    await ingest?.stop();
  });

  it('grid falls back to spotlight, mobile in portrait, single-participant without the presenter', async (t) => {
    const started = Date.now();
    const client = svc.client;
    const token = (user: string) => client.generateUserToken({ user_id: user, validity_in_seconds: 900 });
    await client.upsertUsers([
      { id: 'alice', name: 'Alice', role: 'user' },
      { id: 'bob', name: 'Bob', role: 'user' },
    ]);
    const call = client.video.call('default', 'share-views');
    const created = await call.getOrCreate({ data: { created_by_id: 'alice' } });
    const whip = created.call.ingress.whip.address;
    const alice = await TestPublisher.start({ url: whip, token: token('alice'), color: 'red', toneHz: 440 });
    closers.push(alice);
    // Bob's tone is quieter, so Alice is the dominant speaker throughout: the scene computed below
    // is the one the grabbed frame shows, however load delays one publisher's audio.
    const bob = await TestPublisher.start({ url: whip, token: token('bob'), color: 'blue', toneHz: 880, toneVolume: 1 });
    closers.push(bob);
    const share = await TestPublisher.start({ url: `${whip}?track_type=screen_share`, token: token('alice'), color: 'lime', toneHz: 1320 });
    closers.push(share);
    const participants = () => svc.server.media.participants(CID) as LayoutParticipant[];
    await waitFor(
      () => {
        const ps = participants();
        return ps.length === 2 && ps.every((p) => p.videoSize) && ps.find((p) => p.userId === 'alice')?.screenShare?.videoSize;
      },
      'both cameras and the share decoded',
      60_000,
    );
    t.diagnostic(`cameras and share decoded ${Date.now() - started} ms after the first publish`);

    for (const c of CASES) {
      await call.startRTMPBroadcasts({
        broadcasts: [{ name: c.name, stream_url: ingest.url(), stream_key: `views-${c.name}`, quality: c.quality, layout: c.layout }],
      });
    }
    await waitFor(
      () => CASES.every((c) => events.some((e) => e.type === 'call.rtmp_broadcast_started' && e.name === c.name)),
      'all live',
      60_000,
    );
    // A destination's sent-frame count is its position in its recording (30 fps).
    const position = () => Object.fromEntries(svc.server.engine.stats(CID).map((s) => [s.name, s.videoFramesSent / 30]));
    await waitFor(() => CASES.every((c) => (position()[c.name] ?? 0) >= 4), 'four seconds recorded of each', 90_000);
    const at = position();
    // The scenes the broadcasts draw now (the participants do not change from here on).
    const ps = participants();
    const aliceP = ps.find((p) => p.userId === 'alice')!;
    const ids = { share: aliceP.screenShare!.sessionId, alice: aliceP.sessionId, bob: ps.find((p) => p.userId === 'bob')!.sessionId };
    const colourOf = new Map<string, Rgb>([
      [ids.share, LIME],
      [ids.alice, RED],
      [ids.bob, BLUE],
    ]);
    await call.stopAllRTMPBroadcasts();
    await waitFor(
      () => CASES.every((c) => events.some((e) => e.type === 'call.rtmp_broadcast_stopped' && e.name === c.name)),
      'all stopped',
      20_000,
    );
    await sleep(500);

    for (const c of CASES) {
      const canvas = canvasFor(c.quality);
      const scene = composeScene({ canvas, participants: ps, layout: c.layout, nowMs: Date.now() });
      c.check(scene, ids);
      const frame = await grabFrameRgb(ingest.recordingPath(`views-${c.name}`), at[c.name]! - 1, canvas.width, canvas.height);
      scene.items.forEach((item, index) => {
        if (item.kind !== 'tile') return;
        const expected = colourOf.get(item.sessionId);
        assert.ok(expected, `${c.name}: a tile of an unknown session ${item.sessionId}`);
        const point = visiblePoint(scene, index, item.rect);
        assert.ok(point, `${c.name}: a visible point of ${item.sessionId}'s tile`);
        const got = pixelAt(frame, canvas.width, point[0], point[1]) as Rgb;
        t.diagnostic(`${c.name} (${canvas.width}x${canvas.height}): ${item.sessionId} at (${point.join(', ')}): ${got.join(',')}`);
        assert.ok(
          close(got, expected),
          `${c.name}: ${item.sessionId} at (${point.join(', ')}) is ${got.join(',')}, expected ${expected.join(',')}`,
        );
      });
      if (c.name === 'single-nopip') {
        // Where the picture-in-picture would be, the share shows.
        const pip = pixelAt(frame, canvas.width, canvas.width - 130, 100) as Rgb;
        assert.ok(close(pip, LIME), `single-nopip: the share where the picture-in-picture would be (${pip.join(',')})`);
      }
    }
    t.diagnostic(`test ran ${Date.now() - started} ms`);
  });
});
