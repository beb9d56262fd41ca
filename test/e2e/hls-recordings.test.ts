/**
 * HLS broadcasting and composite recordings of the complete service, driven through the official
 * node SDK with Node WHIP publishers of known colours:
 * - HLS: the playlist URL answers without headers, ffprobe reads it (codec, size), segments are
 *   2 s and the playlist grows; the watch page plays it in Debian's Chromium (currentTime
 *   advances, a participant's colour on screen); stop and call end remove it from `egress`, and
 *   the files go after the retention time.
 * - Recording: ~10 s of two participants, fetched through the listed `url` (no headers), probed
 *   and a frame checked at both tiles; deleted through the SDK.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { StreamClient } from '@stream-io/node-sdk';
import type { WireEvent } from '../../src/events/contract.js';
import { grabFrameRgb, pixelAt, probe } from '../support/ffprobe.js';
import { TestPublisher } from '../support/publisher.js';
import { startTestCallcast, type TestCallcast } from '../support/callcast.js';
import { enableOutputs, NO_LABELS } from '../support/outputs.js';
import { tileCentres } from '../support/layout-points.js';
import { sleep, waitFor } from '../support/wait.js';
import { launchChromium } from '../support/chromium.js';
import { buildWebPages } from '../web/harness.js';

type Rgb = [number, number, number];

/** The parts of the watch page's DOM the test reads (the test compiles without the DOM library). */
interface PageGlobals {
  document: {
    getElementById(id: string): { currentTime: number; videoWidth: number; videoHeight: number };
    createElement(tag: 'canvas'): {
      width: number;
      height: number;
      getContext(kind: '2d'): {
        drawImage(v: unknown, x: number, y: number): void;
        getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
      };
    };
  };
}
const RED: Rgb = [255, 0, 0];
const BLUE: Rgb = [0, 0, 255];
const near = (a: number[], b: number[], tol = 70) => a.every((v, i) => Math.abs(v - b[i]!) <= tol);

function parseVariant(text: string): { sequence: number; durations: number[] } {
  const seq = /#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text);
  return { sequence: seq ? Number(seq[1]) : 0, durations: [...text.matchAll(/#EXTINF:([\d.]+),/g)].map((m) => Number(m[1])) };
}

describe('HLS broadcasting and composite recordings through the node SDK', { timeout: 280_000 }, () => {
  let svc: TestCallcast;
  /** The SDK with a generous timeout: a busy machine may take seconds to start an encode. */
  let client: StreamClient;
  const events: WireEvent[] = [];
  const publishers: TestPublisher[] = [];
  const publish = async (whip: string, user: string, color: string, toneHz: number) => {
    const token = client.generateUserToken({ user_id: user, validity_in_seconds: 600 });
    const p = await TestPublisher.start({ url: whip, token, color, toneHz });
    publishers.push(p);
    return p;
  };

  before(async () => {
    await buildWebPages();
    svc = await startTestCallcast({ outputs: { hlsRetentionMs: 3000 } });
    client = new StreamClient(svc.apiKey, svc.apiSecret, { basePath: svc.url, timeout: 60_000 });
    svc.server.bus.subscribe((e) => events.push(e));
    await enableOutputs(client);
    await client.upsertUsers([
      { id: 'alice', role: 'user' },
      { id: 'bob', role: 'user' },
      { id: 'viewer', role: 'user' },
    ]);
  });
  after(async () => {
    await Promise.all(publishers.map((p) => p.close()));
    await svc?.close();
  });

  it('HLS: a playlist URL without headers, 2 s segments, the watch page plays it, stop and call end remove it', async (t) => {
    const call = client.video.call('default', 'hls-live');
    const created = await call.getOrCreate({ data: { created_by_id: 'alice', members: [{ user_id: 'alice' }, { user_id: 'viewer' }] } });
    const cid = 'default:hls-live';
    const alice = await publish(created.call.ingress.whip.address, 'alice', 'red', 440);
    await waitFor(() => svc.server.media.participants(cid).some((p) => p.hasVideo && p.videoSize), 'alice decoded', 60_000);

    const started = await call.startHLSBroadcasting();
    assert.match(started.playlist_url, /^http:\/\/127\.0\.0\.1:\d+\/hls\/[A-Za-z0-9_-]{32,}\/master\.m3u8$/);
    const ev = await waitFor(
      () => events.find((e) => e.type === 'call.hls_broadcasting_started' && e.call_cid === cid),
      'hls started',
      60_000,
    );
    assert.equal(ev.hls_playlist_url, started.playlist_url);
    assert.equal((ev.call as { cid: string }).cid, cid);
    const state = await call.get();
    assert.equal(state.call.egress.broadcasting, true);
    assert.deepEqual(state.call.egress.hls, { playlist_url: started.playlist_url, status: 'live' });
    assert.equal(svc.server.egress.encoderCount(), 1);

    // Without headers, as a player fetches it.
    const master = await fetch(started.playlist_url);
    assert.equal(master.status, 200);
    assert.equal(master.headers.get('content-type'), 'application/vnd.apple.mpegurl');
    assert.match(await master.text(), /RESOLUTION=640x360/);
    const p = await probe(started.playlist_url);
    assert.equal(p.video?.codec, 'h264');
    assert.equal(p.video?.width, 640);
    assert.equal(p.video?.height, 360);
    assert.equal(p.audio?.codec, 'aac');
    const variantUrl = started.playlist_url.replace('master.m3u8', '360p.m3u8');
    const first = parseVariant(await (await fetch(variantUrl)).text());
    await sleep(6000);
    const later = parseVariant(await (await fetch(variantUrl)).text());
    t.diagnostic(`variant playlist: ${JSON.stringify(first)} then ${JSON.stringify(later)}`);
    assert.ok(later.sequence + later.durations.length > first.sequence + first.durations.length, 'the playlist grows');
    for (const d of later.durations) assert.ok(Math.abs(d - 2) < 0.1, `a segment of ${d} s`);
    // A wrong token is not found.
    assert.equal((await fetch(started.playlist_url.replace(/\/hls\/[^/]+\//, `/hls/${'x'.repeat(32)}/`))).status, 404);

    // The watch page plays it in Chromium.
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ width: 960, height: 640 });
      const token = client.generateUserToken({ user_id: 'viewer', validity_in_seconds: 600 });
      await page.goto(`${svc.url}/watch/default/hls-live#token=${token}`);
      // Functions evaluated in the page (its CSP forbids string evaluation); `globalThis` is the page's window.
      const currentTime = () => (globalThis as unknown as PageGlobals).document.getElementById('player').currentTime;
      await page.waitForFunction(
        () => (globalThis as unknown as PageGlobals).document.getElementById('player').currentTime > 1,
        undefined,
        { timeout: 60_000 },
      );
      const t1 = await page.evaluate(currentTime);
      await sleep(2500);
      const t2 = await page.evaluate(currentTime);
      t.diagnostic(`watch page currentTime ${t1.toFixed(2)} -> ${t2.toFixed(2)}`);
      assert.ok(t2 > t1, 'playback advances');
      // The decoded picture's centre, read back through a canvas.
      const px = await page.evaluate(() => {
        const doc = (globalThis as unknown as PageGlobals).document;
        const v = doc.getElementById('player');
        const c = doc.createElement('canvas');
        c.width = v.videoWidth;
        c.height = v.videoHeight;
        const g = c.getContext('2d');
        g.drawImage(v, 0, 0);
        return Array.from(g.getImageData(Math.floor(c.width / 2), Math.floor(c.height / 2), 1, 1).data.slice(0, 3));
      });
      assert.ok(near(px, RED), `the participant's red at the centre, got ${px.join(',')}`);
      assert.deepEqual(
        browser.errorsOf(page).filter((e) => !/favicon/.test(e)),
        [],
      );
    } finally {
      await browser.close();
    }

    await call.stopHLSBroadcasting();
    await waitFor(() => events.find((e) => e.type === 'call.hls_broadcasting_stopped' && e.call_cid === cid), 'hls stopped', 20_000);
    const stopped = await call.get();
    assert.equal(stopped.call.egress.hls, undefined);
    assert.equal(stopped.call.egress.broadcasting, false);
    // Segments are removed after the retention time (3 s here).
    await waitFor(async () => (await fetch(started.playlist_url)).status === 404, 'the files removed', 30_000);
    assert.equal((await fetch(variantUrl)).status, 404);

    // goLive({ start_hls }) starts it again; ending the call stops it.
    const live = await call.goLive({ start_hls: true });
    assert.ok(live.call.egress.hls?.playlist_url, 'goLive answers with egress.hls');
    assert.notEqual(live.call.egress.hls?.playlist_url, started.playlist_url, 'a new unguessable path');
    assert.equal(live.call.egress.broadcasting, true);
    await call.end();
    const ended = await call.get();
    assert.equal(ended.call.egress.hls, undefined);
    assert.equal(ended.call.egress.broadcasting, false);
    assert.equal(events.filter((e) => e.type === 'call.hls_broadcasting_stopped' && e.call_cid === cid).length, 2);
    await waitFor(() => svc.server.egress.groupCount() === 0, 'no encode left', 20_000);
    await alice.unpublish();
    await waitFor(() => svc.server.media.participants(cid).length === 0, 'alice gone', 20_000);
  });

  it('recording: 10 s of two participants, fetched through its signed url, probed, a frame checked, deleted', async (t) => {
    const call = client.video.call('default', 'rec-two');
    const created = await call.getOrCreate({ data: { created_by_id: 'alice', members: [{ user_id: 'alice' }, { user_id: 'bob' }] } });
    const cid = 'default:rec-two';
    await publish(created.call.ingress.whip.address, 'alice', 'red', 440);
    await publish(created.call.ingress.whip.address, 'bob', 'blue', 880);
    await waitFor(() => svc.server.media.participants(cid).filter((p) => p.hasVideo && p.videoSize).length === 2, 'two decoded', 60_000);

    await call.startRecording({ recording_type: 'composite' });
    await waitFor(() => events.find((e) => e.type === 'call.recording_started' && e.call_cid === cid), 'recording started', 60_000);
    const running = await call.get();
    assert.equal(running.call.recording, true);
    // A second start is refused with Stream's error shape.
    await assert.rejects(call.startRecording({ recording_type: 'composite' }), /already running/);
    await assert.rejects(call.startRecording({ recording_type: 'raw' }), /not supported/);
    // Ten seconds of recording: 300 frames in the file (a busy machine encodes slower than the clock).
    const wallStart = Date.now();
    await waitFor(() => (svc.server.recordings.recordedSeconds(cid) ?? 0) >= 10, '10 s recorded', 120_000);
    t.diagnostic(`10 s recorded in ${((Date.now() - wallStart) / 1000).toFixed(1)} s of wall time`);
    await call.stopRecording({ recording_type: 'composite' });
    const ready = await waitFor(
      () => events.find((e) => e.type === 'call.recording_ready' && e.call_cid === cid),
      'recording ready',
      60_000,
    );
    assert.ok(events.some((e) => e.type === 'call.recording_stopped' && e.call_cid === cid));
    assert.equal((await call.get()).call.recording, false);

    const { recordings } = await call.listRecordings();
    assert.equal(recordings.length, 1);
    const rec = recordings[0]!;
    assert.equal((ready.call_recording as { filename: string }).filename, rec.filename);
    assert.match(rec.filename, /^rec_default_rec-two_360p_\d+\.mp4$/);
    assert.ok(rec.session_id.length > 0);
    assert.ok(rec.end_time > rec.start_time);
    const res = await fetch(rec.url);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'video/mp4');
    const bytes = Buffer.from(await res.arrayBuffer());
    const dir = mkdtempSync(join(tmpdir(), 'callcast-rec-'));
    try {
      const file = join(dir, rec.filename);
      writeFileSync(file, bytes);
      const pr = await probe(file);
      t.diagnostic(`recording: ${pr.format.duration} s, ${bytes.length} bytes`);
      assert.equal(pr.video?.codec, 'h264');
      assert.equal(pr.video?.width, 640);
      assert.equal(pr.video?.height, 360);
      assert.equal(pr.audio?.codec, 'aac');
      assert.ok(
        pr.format.duration >= 9.9 && pr.format.duration <= 20,
        `10 s recorded, plus what came before the stop took effect (${pr.format.duration} s)`,
      );
      assert.equal(bytes.subarray(4, 8).toString('latin1'), 'ftyp');
      assert.ok(bytes.indexOf('moov') < bytes.indexOf('mdat'), 'the index is at the front');
      const frame = await grabFrameRgb(file, pr.format.duration / 2, 640, 360);
      const seen = tileCentres('grid', { width: 640, height: 360 }, 2, NO_LABELS).map(([x, y]) => pixelAt(frame, 640, x, y));
      t.diagnostic(`tile centres: ${JSON.stringify(seen)}`);
      assert.ok(
        seen.some((px) => near(px, RED)) && seen.some((px) => near(px, BLUE)),
        `both participants on the frame: ${JSON.stringify(seen)}`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // A tampered link is not found; a range request gets a part.
    assert.equal((await fetch(rec.url.replace(/signature=[^&]+/, 'signature=AAAA'))).status, 404);
    const part = await fetch(rec.url, { headers: { range: 'bytes=0-99' } });
    assert.equal(part.status, 206);
    assert.equal((await part.arrayBuffer()).byteLength, 100);

    await call.deleteRecording({ session: rec.session_id, filename: rec.filename });
    assert.deepEqual((await call.listRecordings()).recordings, []);
    assert.equal((await fetch(rec.url)).status, 404);
    await assert.rejects(call.deleteRecording({ session: rec.session_id, filename: rec.filename }), /no recording/);
  });
});
