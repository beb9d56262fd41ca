/**
 * Call media composed into the broadcast, end to end: participants publish known solid colours and
 * tones over WHIP (Node publishers) to the complete service; the node SDK starts spotlight, grid
 * and single-participant broadcasts to a real nginx-rtmp ingest; frames grabbed from what the
 * ingest recorded show each participant's colour where the layout engine put its tile, and the
 * recorded audio carries every participant's tone. A participant joining and leaving mid-broadcast
 * changes the picture without restarting the encoder or the RTMP session.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { StreamClient } from '@stream-io/node-sdk';
import { startCallcast, type Callcast } from '../../src/assembly.js';
import type { WireEvent } from '../../src/events/contract.js';
import type { LayoutParticipant } from '../../src/layout/participants.js';
import { composeScene } from '../../src/layout/scene.js';
import type { LayoutName } from '../../src/layout/settings.js';
import { grabFrameRgb, pixelAt, probe } from '../support/ffprobe.js';
import { TestPublisher } from '../support/publisher.js';
import { startNginxIngest, type NginxIngest } from '../support/rtmp-ingest.js';
import { waitFor } from '../support/server.js';
import { tonePower } from '../media/helpers.js';

const execFileP = promisify(execFile);
const W = 640;
const H = 360;

type Rgb = [number, number, number];
const COLOURS: Record<string, { ffmpeg: string; rgb: Rgb; tone: number }> = {
  alice: { ffmpeg: 'red', rgb: [255, 0, 0], tone: 440 },
  bob: { ffmpeg: 'blue', rgb: [0, 0, 255], tone: 880 },
  carol: { ffmpeg: 'lime', rgb: [0, 255, 0], tone: 1320 },
};

const near = (a: number[], b: number[], tol = 60) => a.every((v, i) => Math.abs(v - b[i]!) <= tol);

/** Tile centres of `layout` for `n` participants with video, as the layout engine places them. */
function tileCentres(layout: LayoutName, n: number): Array<[number, number]> {
  const participants: LayoutParticipant[] = Array.from({ length: n }, (_, i) => ({
    sessionId: `s${i}`,
    userId: `u${i}`,
    roles: ['user'],
    hasVideo: true,
    hasAudio: true,
    isSpeaking: false,
    isDominantSpeaker: false,
    joinedAt: i,
    videoSize: { width: 640, height: 360 },
  }));
  const scene = composeScene({
    canvas: { width: W, height: H },
    participants,
    layout: { name: layout, external_app_url: '', external_css_url: '', options: { 'participant_label.display': false } },
    nowMs: 0,
  });
  return scene.items
    .filter((i) => i.kind === 'tile')
    .map((i) => {
      const r = (i as { rect: { x: number; y: number; width: number; height: number } }).rect;
      return [Math.round(r.x + r.width / 2), Math.round(r.y + r.height / 2)];
    });
}

/** Which participants' colours are at the given points of a frame. */
function coloursAt(frame: Buffer, points: Array<[number, number]>): string[] {
  return points.map(([x, y]) => {
    const px = pixelAt(frame, W, x, y);
    const hit = Object.entries(COLOURS).find(([, c]) => near(px, c.rgb));
    return hit ? hit[0] : `rgb(${px.join(',')})`;
  });
}

async function decodePcm(path: string, fromS: number, durationS: number): Promise<Buffer> {
  const { stdout } = await execFileP(
    process.env.CALLCAST_FFMPEG || 'ffmpeg',
    ['-v', 'error', '-ss', String(fromS), '-t', String(durationS), '-i', path, '-vn', '-f', 's16le', '-ac', '2', '-ar', '48000', 'pipe:1'],
    { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024, timeout: 30_000 },
  );
  return stdout;
}

describe('participants composed into broadcasts at a real RTMP ingest', { timeout: 240_000 }, () => {
  let ingest: NginxIngest;
  let server: Callcast;
  let client: StreamClient;
  let dataDir: string;
  const events: WireEvent[] = [];
  const publishers = new Map<string, TestPublisher>();

  before(async () => {
    ingest = await startNginxIngest();
    dataDir = mkdtempSync(join(tmpdir(), 'callcast-e2e-'));
    const apiKey = `key-${randomBytes(4).toString('hex')}`;
    const apiSecret = randomBytes(24).toString('hex');
    server = await startCallcast({
      config: {
        port: 0,
        host: '127.0.0.1',
        apiKey,
        apiSecret,
        dataDir,
        logLevel: 'silent',
        ...(process.env.CALLCAST_TEST_DATABASE_URL ? { databaseUrl: process.env.CALLCAST_TEST_DATABASE_URL } : {}),
      },
      egress: { retry: { initialDelayMs: 200, maxDelayMs: 1000, giveUpAfterMs: 10_000 } },
    });
    server.bus.subscribe((e) => events.push(e));
    client = new StreamClient(apiKey, apiSecret, { basePath: server.url, timeout: 10_000 });
  });
  after(async () => {
    await Promise.all([...publishers.values()].map((p) => p.close()));
    await server?.close();
    await ingest?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const publish = async (whip: string, user: string) => {
    const c = COLOURS[user]!;
    const token = client.generateUserToken({ user_id: user, validity_in_seconds: 600 });
    const p = await TestPublisher.start({ url: whip, token, color: c.ffmpeg, toneHz: c.tone });
    publishers.set(user, p);
    return p;
  };

  it('shows each participant in the region its layout gives, mixes their tones, and follows joins and leaves live', async (t) => {
    await client.upsertUsers(Object.keys(COLOURS).map((id) => ({ id, name: id[0]!.toUpperCase() + id.slice(1), role: 'user' })));
    const call = client.video.call('default', 'composed');
    const created = await call.getOrCreate({ data: { created_by_id: 'alice', members: Object.keys(COLOURS).map((user_id) => ({ user_id })) } });
    const whip = created.call.ingress.whip.address;
    assert.match(whip, /\/api\/v2\/video\/call\/default\/composed\/whip$/);
    const cid = 'default:composed';

    await publish(whip, 'alice');
    await publish(whip, 'bob');
    await waitFor(() => server.media.participants(cid).filter((p) => p.hasVideo && p.videoSize).length === 2, 'two decoded publishers', 60_000);
    assert.ok(events.some((e) => e.type === 'call.session_participant_joined'));
    // The call's live session lists both, through the SDK.
    const live = await call.get();
    assert.ok(live.call.current_session_id.length > 0);
    assert.deepEqual(live.call.session?.participants.map((p) => p.user.id).sort(), ['alice', 'bob']);

    const layouts: LayoutName[] = ['spotlight', 'grid', 'single-participant'];
    for (const name of layouts) {
      await call.startRTMPBroadcasts({
        broadcasts: [{
          name,
          stream_url: ingest.url(),
          stream_key: `composed-${name}`,
          quality: '360p',
          layout: { name, options: { 'participant_label.display': false, 'layout.background_color': '#202020' } },
        }],
      });
    }
    await waitFor(() => layouts.every((n) => events.some((e) => e.type === 'call.rtmp_broadcast_started' && e.name === n)), 'all three live', 30_000);
    // Where each recording is now, in its own timeline: the encoder stamps frames at 30 fps, so a
    // destination's sent-frame count is its position (robust to a busy machine running slow).
    const position = () => Object.fromEntries(server.engine.stats(cid).map((s) => [s.name, s.videoFramesSent / 30]));
    const pidsBefore = server.egress.encoderPids();
    assert.equal(pidsBefore.length, 3, 'one encoder per layout');

    // Two participants for ~5 s, then Carol joins (until she is on screen, plus ~5 s), then leaves.
    await new Promise((r) => setTimeout(r, 5000));
    const withTwo = position();
    const carol = await publish(whip, 'carol');
    const gridWithThree = tileCentres('grid', 3);
    await waitFor(() => {
      const frame = server.previews.latestFrame(cid, '360p');
      return frame !== null && server.media.participants(cid).length === 3;
    }, 'Carol in the call', 60_000);
    // Carol is on screen once her colour shows in the composed output (the latest preview frame).
    const joinedAt = Date.now();
    const carolOnScreen = () => {
      const frame = server.previews.latestFrame(cid, '360p');
      if (!frame) return false;
      const ySize = frame.width * frame.height;
      const cw = frame.width >> 1;
      for (let y = 0; y < frame.height; y += 8) {
        for (let x = 0; x < frame.width; x += 8) {
          const Y = frame.data[y * frame.width + x]!;
          const U = frame.data[ySize + (y >> 1) * cw + (x >> 1)]!;
          const V = frame.data[ySize + (ySize >> 2) + (y >> 1) * cw + (x >> 1)]!;
          if (Y > 120 && Y < 170 && U < 70 && V < 70) return true; // lime in BT.601: Y 145, U 54, V 34
        }
      }
      return false;
    };
    await waitFor(() => carolOnScreen(), 'Carol on screen', 60_000);
    t.diagnostic(`Carol on screen ${Date.now() - joinedAt} ms after her publish was answered`);
    const carolVisible = position();
    await new Promise((r) => setTimeout(r, 5000));
    const carolLeaving = position();
    assert.equal(await carol.unpublish(), 200);
    await waitFor(() => server.media.participants(cid).length === 2, 'Carol gone', 20_000);
    await new Promise((r) => setTimeout(r, 3000));
    const afterLeave = position();
    await new Promise((r) => setTimeout(r, 1000));

    // Same encoders and the same RTMP sessions throughout.
    const stats = server.engine.stats(cid);
    assert.deepEqual(server.egress.encoderPids(), pidsBefore);
    for (const s of stats) assert.equal(s.reconnects, 0, `${s.name} reconnected`);
    await call.stopAllRTMPBroadcasts();
    await waitFor(() => layouts.every((n) => events.some((e) => e.type === 'call.rtmp_broadcast_stopped' && e.name === n)), 'all stopped', 20_000);
    await new Promise((r) => setTimeout(r, 500));

    const seen: Record<string, { two: string[]; three: string[]; again: string[] }> = {};
    for (const name of layouts) {
      const path = ingest.recordingPath(`composed-${name}`);
      const at = {
        two: withTwo[name]! - 1,
        three: (carolVisible[name]! + carolLeaving[name]!) / 2,
        again: afterLeave[name]!,
      };
      t.diagnostic(`${name}: recorded ${(await probe(path)).format.duration} s; frames grabbed at ${JSON.stringify(at)}`);
      const n3 = name === 'single-participant' ? 2 : 3;
      seen[name] = {
        two: coloursAt(await grabFrameRgb(path, at.two, W, H), tileCentres(name, 2)),
        three: coloursAt(await grabFrameRgb(path, at.three, W, H), tileCentres(name, n3)),
        again: coloursAt(await grabFrameRgb(path, at.again, W, H), tileCentres(name, 2)),
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
    const pcm = await decodePcm(gridPath, 1, withTwo.grid! - 2);
    const off = tonePower(pcm, 660);
    assert.ok(tonePower(pcm, 440) > 20 * off, `440 Hz: ${tonePower(pcm, 440)} vs ${off}`);
    assert.ok(tonePower(pcm, 880) > 20 * off, `880 Hz: ${tonePower(pcm, 880)} vs ${off}`);
    const pcm3 = await decodePcm(gridPath, (carolVisible.grid! + carolLeaving.grid!) / 2 - 1, 2);
    assert.ok(tonePower(pcm3, 1320) > 20 * tonePower(pcm3, 1100), `1320 Hz while Carol was there`);
  });
  it('detect_orientation starts a portrait broadcast for a portrait publisher', async () => {
    await client.upsertUsers([{ id: 'dora', name: 'Dora', role: 'user' }]);
    const call = client.video.call('default', 'portrait');
    const created = await call.getOrCreate({ data: { created_by_id: 'dora' } });
    const token = client.generateUserToken({ user_id: 'dora', validity_in_seconds: 600 });
    publishers.set('dora', await TestPublisher.start({ url: created.call.ingress.whip.address, token, color: 'red', size: { width: 360, height: 640 } }));
    await waitFor(() => server.media.participants('default:portrait')[0]?.videoSize?.height === 640, 'the portrait video size', 60_000);
    await call.startRTMPBroadcasts({
      broadcasts: [{ name: 'phone', stream_url: ingest.url(), stream_key: 'portrait-phone', quality: '720p', layout: { name: 'single-participant', detect_orientation: true } }],
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
