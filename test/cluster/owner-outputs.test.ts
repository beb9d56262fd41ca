/**
 * Cluster mode with real media: HLS and recordings compose the call's participants, who publish to
 * the call's owner, so they run there whichever node is asked. Two nodes in this process (each
 * with its own media plane) over one PostgreSQL schema and one Redis; a red participant publishes
 * to the owner (its WHIP POST to the other node is redirected). HLS started through the node
 * that does not own the call answers the owner's playlist, whose picture shows the participant;
 * it stops through that node too. A recording started and stopped through it is the owner's, and
 * its file shows the participant. Both show in the call as the other node answers it.
 * Needs PostgreSQL: skipped with a message elsewhere (the SQLite lane).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { clusterSkipReason, startTestCluster, type TestCluster, type TestNode } from '../support/cluster.js';
import { grabFrameRgb, grabLiveFrameRgb, pixelAt, probe } from '../support/ffprobe.js';
import { enableOutputs } from '../support/outputs.js';
import { i420PixelRgb } from '../media/helpers.js';
import { TestPublisher } from '../support/publisher.js';
import { waitFor } from '../support/wait.js';

const skip = clusterSkipReason();
const CID = 'default:out1';
const W = 320;
const H = 180;
const RED = [255, 0, 0];
const near = (a: number[], b: number[], tol = 60) => a.every((v, i) => Math.abs(v - b[i]!) <= tol);

function ownerOf(cluster: TestCluster, cid: string): TestNode | undefined {
  return cluster.nodes.find((n) => n.server.cluster?.node.ownedCalls().includes(cid));
}

describe("cluster mode: HLS and recordings run on the call's owner", { skip, timeout: 240_000 }, () => {
  let cluster: TestCluster;
  let publisher: TestPublisher | undefined;
  let owner: TestNode;
  let other: TestNode;

  before(async () => {
    cluster = await startTestCluster({ nodes: ['node-a', 'node-b'], egress: true });
    const [a, b] = cluster.nodes as [TestNode, TestNode];
    await enableOutputs(a.client);
    await a.client.upsertUsers([{ id: 'alice', name: 'Alice', role: 'user' }]);
    await a.client.video.call('default', 'out1').getOrCreate({ data: { created_by_id: 'alice' } });
    const token = a.client.generateUserToken({ user_id: 'alice', validity_in_seconds: 900 });
    // The publish places the call; posted to node B, it is redirected when node A gets the call.
    publisher = await TestPublisher.start({ url: `${b.url}/video/call/default/out1/whip`, token, color: 'red', audio: false });
    owner = ownerOf(cluster, CID)!;
    assert.ok(owner, 'the call has an owner');
    other = cluster.nodes.find((n) => n !== owner)!;
    assert.ok(publisher.location?.startsWith(`${owner.url}/`), `the session lives on the owner: ${publisher.location}`);
    await waitFor(() => owner.server.media.participants(CID).some((p) => p.hasVideo && p.videoSize), 'alice decoded', 60_000);
  });
  after(async () => {
    await publisher?.close();
    await cluster?.close();
  });

  it('starts HLS through the other node on the owner, with the participant in its picture, and stops it there', async () => {
    const call = other.client.video.call('default', 'out1');
    const started = await call.startHLSBroadcasting();
    assert.ok(started.playlist_url.startsWith(`${owner.url}/hls/`), `the owner's playlist: ${started.playlist_url}`);
    await waitFor(async () => (await fetch(started.playlist_url)).status === 200, 'the master playlist', 60_000, 200);
    const p = await probe(started.playlist_url);
    assert.equal(p.video?.codec, 'h264');
    // A player joining now starts near the live edge: once the participant's picture reaches the
    // segments, that is what it shows.
    let centre: number[] = [];
    await waitFor(
      async () => {
        // A player may miss a segment being replaced: try again.
        const frame = await grabLiveFrameRgb(started.playlist_url, W, H).catch(() => null);
        if (!frame) return false;
        centre = pixelAt(frame, W, W / 2, H / 2);
        return near(centre, RED);
      },
      'the participant at the centre of the HLS picture',
      90_000,
      1000,
    ).catch(() => assert.fail(`the participant at the centre of the HLS picture: ${centre.join(',')}`));
    // Every node shows it in the call (the other node from the store, while the owner is alive).
    await waitFor(
      async () => (await owner.client.video.call('default', 'out1').get()).call.egress.hls?.status === 'live',
      'HLS live on the owner',
      60_000,
      200,
    );
    const seen = await call.get();
    assert.deepEqual(seen.call.egress.hls, { playlist_url: started.playlist_url, status: 'live' });
    assert.equal(seen.call.egress.broadcasting, true);
    assert.equal(owner.server.egress!.encoderCount(), 1, 'the encode runs on the owner');
    assert.equal(other.server.egress!.encoderCount(), 0, 'and not on the node asked');
    await call.stopHLSBroadcasting();
    await waitFor(() => owner.server.egress!.encoderCount() === 0, "the owner's encode stopped", 30_000);
    assert.equal((await owner.client.video.call('default', 'out1').get()).call.egress.hls ?? null, null);
    assert.equal((await call.get()).call.egress.hls ?? null, null, 'nor through the other node');
  });

  it('records through the other node on the owner, and the file shows the participant', async () => {
    const call = other.client.video.call('default', 'out1');
    await call.startRecording({ recording_type: 'composite' });
    const recorded = () => owner.server.recordings.recordedSeconds(CID) ?? 0;
    // The participant's decoder went idle when HLS stopped; the recording shows them once it has
    // their next picture (the owner's composed frame says when), then two more seconds.
    await waitFor(
      () => {
        const f = owner.server.previews.latestFrame(CID, '360p');
        if (!f) return false;
        const c = i420PixelRgb(f.data, f.width, f.height, f.width / 2, f.height / 2);
        return near([c.r, c.g, c.b], RED);
      },
      "the participant in the owner's recording picture",
      60_000,
      100,
    );
    const shownFrom = recorded();
    await waitFor(() => recorded() >= shownFrom + 2, 'two more seconds recorded on the owner', 90_000, 200);
    assert.equal(other.server.egress!.encoderCount(), 0, 'nothing encoded on the node asked');
    assert.equal((await call.get()).call.recording, true, 'the other node shows the recording');
    await call.stopRecording({ recording_type: 'composite' });
    // The file is in the owner's storage: the owner lists it with its own URL.
    const rec = await waitFor(
      async () => (await owner.client.video.call('default', 'out1').listRecordings()).recordings[0],
      'the recording listed',
      60_000,
      200,
    );
    const res = await fetch(rec.url);
    assert.equal(res.status, 200);
    const dir = mkdtempSync(join(tmpdir(), 'callcast-cluster-rec-'));
    try {
      const file = join(dir, rec.filename);
      writeFileSync(file, Buffer.from(await res.arrayBuffer()));
      const pr = await probe(file);
      assert.equal(pr.video?.codec, 'h264');
      const frame = await grabFrameRgb(file, shownFrom + 1, W, H);
      const centre = pixelAt(frame, W, W / 2, H / 2);
      assert.ok(near(centre, RED), `the participant at the centre of the recording: ${centre.join(',')}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
