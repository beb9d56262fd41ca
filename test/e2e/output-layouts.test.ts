/**
 * HLS and recordings follow their layout settings while they run, as RTMP broadcasts do: a red
 * participant over WHIP, HLS at 360p (spotlight on dark grey) and a recording at 480p (grid),
 * then `call.update` sets single-participant with a green inset for both. The composed pictures,
 * a player joining the same playlist later and the one recorded file show the new layout (green
 * around the participant); the encodes of the old layouts stop.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { i420PixelRgb } from '../media/helpers.js';
import { startTestCallcast, type TestCallcast } from '../support/callcast.js';
import { grabFrameRgb, grabLiveFrameRgb, pixelAt, probe } from '../support/ffprobe.js';
import { enableOutputs, NO_LABELS } from '../support/outputs.js';
import { TestPublisher } from '../support/publisher.js';
import { waitFor } from '../support/wait.js';

const CID = 'default:out-layouts';
const RED = [255, 0, 0];
const GREEN = [0, 255, 0];
const near = (a: number[], b: number[], tol = 60) => a.every((v, i) => Math.abs(v - b[i]!) <= tol);
/** Single-participant inset on green: the participant in the middle, green at the left edge. */
const INSET = {
  name: 'single-participant',
  options: { ...NO_LABELS, 'layout.background_color': '#00ff00', 'layout.single-participant.padding_inline': '15%' },
};
/** What a picture shows at its centre and at its left edge. */
const reading = (pixel: (x: number, y: number) => number[], w: number, h: number) => ({
  centre: pixel(Math.round(w / 2), Math.round(h / 2)),
  edge: pixel(8, Math.round(h / 2)),
});
const showsInset = (r: { centre: number[]; edge: number[] }) => near(r.centre, RED) && near(r.edge, GREEN);

describe('HLS and recordings that change layout while live', { timeout: 240_000 }, () => {
  let svc: TestCallcast;
  let publisher: TestPublisher | undefined;

  before(async () => {
    svc = await startTestCallcast({});
  });
  after(async () => {
    await publisher?.close();
    await svc?.close();
  });

  it('moves HLS and the recording to the layout call.update gives, in the same playlist and file', async (t) => {
    const { client, server } = svc;
    await enableOutputs(client);
    await client.upsertUsers([{ id: 'alice', name: 'Alice', role: 'user' }]);
    const call = client.video.call('default', 'out-layouts');
    const created = await call.getOrCreate({
      data: { created_by_id: 'alice', settings_override: { recording: { quality: '480p' } } as never },
    });
    const token = client.generateUserToken({ user_id: 'alice', validity_in_seconds: 600 });
    publisher = await TestPublisher.start({ url: created.call.ingress.whip.address, token, color: 'red', audio: false });
    await waitFor(() => server.media.participants(CID).some((p) => p.hasVideo && p.videoSize), 'alice decoded', 60_000);

    const hls = await call.startHLSBroadcasting();
    await call.startRecording({ recording_type: 'composite' });
    const composed = (quality: '360p' | '480p') => {
      const f = server.previews.latestFrame(CID, quality);
      if (!f) return null;
      return reading(
        (x, y) => {
          const c = i420PixelRgb(f.data, f.width, f.height, x, y);
          return [c.r, c.g, c.b];
        },
        f.width,
        f.height,
      );
    };
    await waitFor(() => near(composed('360p')?.centre ?? [], RED) && near(composed('480p')?.centre ?? [], RED), 'alice in both', 60_000);
    assert.ok(!showsInset(composed('360p')!) && !showsInset(composed('480p')!), 'not the inset yet');
    assert.equal(server.egress!.encoderCount(), 2);

    const changedAt = Date.now();
    await call.update({ settings_override: { broadcasting: { hls: { layout: INSET } }, recording: { layout: INSET } } as never });
    await waitFor(() => showsInset(composed('360p')!) && showsInset(composed('480p')!), 'the inset in both pictures', 30_000, 50);
    t.diagnostic(`both pictures changed ${Date.now() - changedAt} ms after the update`);
    const recorded = () => server.recordings.recordedSeconds(CID) ?? 0;
    const insetFrom = recorded();
    await waitFor(() => server.egress!.encoderCount() === 2, 'the encodes of the old layouts stopped', 30_000);

    // A player joining now (near the live edge of the same playlist) sees the inset.
    let seen = { centre: [] as number[], edge: [] as number[] };
    let lastError = '';
    await waitFor(
      async () => {
        const frame = await grabLiveFrameRgb(hls.playlist_url, 640, 360).catch((err: unknown) => {
          lastError = String(err).slice(0, 300);
          return null;
        });
        if (!frame) return false;
        seen = reading((x, y) => pixelAt(frame, 640, x, y), 640, 360);
        return showsInset(seen);
      },
      'the inset in the HLS stream',
      90_000,
      1000,
    ).catch(async () => {
      const variant = await (await fetch(hls.playlist_url.replace('master.m3u8', '360p.m3u8'))).text();
      assert.fail(`HLS after the change: ${JSON.stringify(seen)} ${lastError}; the playlist: ${variant}`);
    });

    // The recording goes on in the same file: before the change its old layout, after it the inset.
    await waitFor(() => recorded() >= insetFrom + 2, 'two seconds of the inset recorded', 60_000, 200);
    await call.stopRecording({ recording_type: 'composite' });
    await call.stopHLSBroadcasting();
    const rec = await waitFor(async () => (await call.listRecordings()).recordings[0], 'the recording listed', 60_000, 200);
    const dir = mkdtempSync(join(tmpdir(), 'callcast-output-layouts-'));
    try {
      const file = join(dir, rec.filename);
      writeFileSync(file, Buffer.from(await (await fetch(rec.url)).arrayBuffer()));
      const pr = await probe(file);
      assert.equal(pr.video?.width, 854);
      assert.equal(pr.video?.height, 480);
      const frame = await grabFrameRgb(file, insetFrom + 1, 854, 480);
      const after = reading((x, y) => pixelAt(frame, 854, x, y), 854, 480);
      t.diagnostic(`recording at ${(insetFrom + 1).toFixed(2)} s of ${pr.format.duration} s: ${JSON.stringify(after)}`);
      assert.ok(showsInset(after), `the recording after the change: ${JSON.stringify(after)}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.equal((await call.listRecordings()).recordings.length, 1, 'one file');
  });
});
