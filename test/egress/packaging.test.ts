/**
 * HLS and recording outputs attached to broadcast groups of the real egress engine (real
 * encoders, real ffmpeg packagers): they share the encode of an RTMP destination of the same
 * (call, quality, layout), HLS writes 2 s segments under a master playlist, a recording is a
 * faststart MP4, and a recording whose packager dies leaves a part that can be finished.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { PublishSession } from '../../src/egress/destination.js';
import { EgressEngine } from '../../src/egress/engine.js';
import {
  HlsOutput,
  MASTER_PLAYLIST,
  aacCodecString,
  avcCodecString,
  hlsOutputArgs,
  masterPlaylist,
  masterTrackOf,
} from '../../src/egress/hls.js';
import { RecordingOutput, faststartArgs, finishRecording, recordingPartArgs } from '../../src/egress/recording.js';
import type { FlvTag } from '../../src/flv/tag.js';
import { FlvDemuxer } from '../../src/flv/demuxer.js';
import { flvFileHeader, flvTagBytes } from '../../src/flv/writer.js';
import { LocalDirectoryStorage } from '../../src/storage/local-directory.js';
import { assertStorageKey } from '../../src/storage/storage.js';
import { grabFrameRgb, pixelAt, probe } from '../support/ffprobe.js';
import { sleep, waitFor } from '../support/wait.js';
import { RecordingLogger } from '../support/log.js';
import { RecordingListener, ffmpegChildren, layout } from './helpers.js';

class CountingSession implements PublishSession {
  frames = 0;
  bytesSent = 0;
  readonly backedUp = false;
  async connect(): Promise<void> {}
  sendTag(tag: FlvTag): boolean {
    if (tag.type === 'video' && !tag.sequenceHeader) this.frames += 1;
    this.bytesSent += tag.data.length;
    return true;
  }
  async close(): Promise<void> {}
  on(): this {
    return this;
  }
}

/** Segment durations (EXTINF) and media sequence of a variant playlist. */
function parseVariant(text: string): { sequence: number; durations: number[]; ended: boolean; targetDuration: number } {
  const seq = /#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text);
  const target = /#EXT-X-TARGETDURATION:(\d+)/.exec(text);
  const durations = [...text.matchAll(/#EXTINF:([\d.]+),/g)].map((m) => Number(m[1]));
  return {
    sequence: seq ? Number(seq[1]) : 0,
    durations,
    ended: text.includes('#EXT-X-ENDLIST'),
    targetDuration: target ? Number(target[1]) : 0,
  };
}

/** Index of a top-level MP4 box type in the file, or -1. */
async function topLevelBoxes(path: string): Promise<string[]> {
  const buf = await readFile(path);
  const types: string[] = [];
  let off = 0;
  while (off + 8 <= buf.length) {
    let size = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    if (size === 1) size = Number(buf.readBigUInt64BE(off + 8));
    if (size < 8) break;
    types.push(type);
    off += size;
  }
  return types;
}

describe('pure packaging pieces', () => {
  it('codec strings come from the FLV sequence headers', () => {
    // AVC sequence header: keyframe|AVC, packet 0, cts 0, config version 1, High (0x64), compat 0, level 3.1 (0x1f)
    assert.equal(avcCodecString(Buffer.from([0x17, 0x00, 0, 0, 0, 0x01, 0x64, 0x00, 0x1f, 0xff])), 'avc1.64001f');
    assert.equal(avcCodecString(Buffer.from([0x27, 0x01, 0, 0, 0])), null);
    // AAC sequence header: AAC|44k|16bit|stereo, packet 0, AudioSpecificConfig 0x11 0x90 (LC = 2)
    assert.equal(aacCodecString(Buffer.from([0xaf, 0x00, 0x11, 0x90])), 'mp4a.40.2');
    assert.equal(aacCodecString(Buffer.from([0xaf, 0x01, 0x11])), null);
  });

  it('the master playlist lists every track, highest bandwidth first', () => {
    const text = masterPlaylist([masterTrackOf('360p', ['avc1.64001e', 'mp4a.40.2']), masterTrackOf('720p', ['avc1.64001f', 'mp4a.40.2'])]);
    assert.equal(
      text,
      [
        '#EXTM3U',
        '#EXT-X-VERSION:3',
        '#EXT-X-INDEPENDENT-SEGMENTS',
        '#EXT-X-STREAM-INF:BANDWIDTH=3440800,RESOLUTION=1280x720,FRAME-RATE=30.000,CODECS="avc1.64001f,mp4a.40.2"',
        '720p.m3u8',
        '#EXT-X-STREAM-INF:BANDWIDTH=1020800,RESOLUTION=640x360,FRAME-RATE=30.000,CODECS="avc1.64001e,mp4a.40.2"',
        '360p.m3u8',
        '',
      ].join('\n'),
    );
  });

  it('command lines copy the streams (no second encode)', () => {
    const hls = hlsOutputArgs('/d', '720p');
    assert.ok(hls.includes('copy') && !hls.includes('libx264'));
    assert.equal(hls[hls.indexOf('-hls_time') + 1], '2');
    assert.match(hls[hls.indexOf('-hls_flags') + 1]!, /independent_segments/);
    assert.match(hls[hls.indexOf('-hls_flags') + 1]!, /delete_segments/);
    assert.equal(hls.at(-1), '/d/720p.m3u8');
    const part = recordingPartArgs('/r/x.part.mp4');
    assert.match(part[part.indexOf('-movflags') + 1]!, /frag_keyframe\+empty_moov/);
    const fin = faststartArgs('/r/x.part.mp4', '/r/x.mp4');
    assert.equal(fin[fin.indexOf('-movflags') + 1], '+faststart');
  });

  it('FLV tags written by the writer read back through the demuxer', () => {
    const tags: FlvTag[] = [
      { type: 'script', timestamp: 0, data: Buffer.from([2, 0, 1, 0x41]), keyframe: false, sequenceHeader: false },
      { type: 'video', timestamp: 0x1234567, data: Buffer.from([0x17, 1, 0, 0, 0, 9, 9]), keyframe: true, sequenceHeader: false },
      { type: 'audio', timestamp: 40, data: Buffer.from([0xaf, 1, 7]), keyframe: false, sequenceHeader: false },
    ];
    const bytes = Buffer.concat([flvFileHeader(), ...tags.map((t) => flvTagBytes(t, t.timestamp))]);
    const back = new FlvDemuxer().push(bytes);
    assert.deepEqual(
      back.map((t) => [t.type, t.timestamp, t.data.toString('hex'), t.keyframe]),
      tags.map((t) => [t.type, t.timestamp, t.data.toString('hex'), t.keyframe]),
    );
  });

  it('storage keys are relative paths of safe segments', () => {
    assertStorageKey('default/standup/s1/rec_1.mp4');
    for (const bad of ['../x', '/abs', 'a//b', 'a/../b', '.hidden', 'a/b c'])
      assert.throws(() => assertStorageKey(bad), /invalid storage key/);
  });
});

describe('HLS and recording outputs of a broadcast group (real encoders and packagers)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'callcast-packaging-'));
  const log = new RecordingLogger();
  const sessions: CountingSession[] = [];
  const engine = new EgressEngine({
    listener: new RecordingListener(),
    log,
    openTarget: () => ({
      describe: 'memory',
      createSession: () => {
        const s = new CountingSession();
        sessions.push(s);
        return s;
      },
    }),
  });
  after(async () => {
    await engine.close();
    assert.deepEqual(ffmpegChildren(), [], 'no ffmpeg left behind');
    await rm(dir, { recursive: true, force: true });
  });
  const red = layout({ 'layout.background_color': '#d02020' });

  it('HLS and a recording join a running RTMP encode of the same picture; HLS segments are 2 s and grow; the recording is a faststart MP4', async () => {
    const cid = 'default:pack';
    engine.start({ callCid: cid, name: 'rtmp', streamUrl: 'rtmp://memory/live', streamKey: 'k', quality: '360p', layout: red });
    await waitFor(() => (sessions[0]?.frames ?? 0) > 10, 'the RTMP destination receiving frames', 60_000);
    assert.equal(engine.encoderCount(), 1);

    const hlsDir = join(dir, 'hls');
    const hls = new HlsOutput({ engine, callCid: cid, layout: red, qualities: ['360p'], dir: hlsDir, log });
    const hlsStarted = new Promise<void>((resolve, reject) => {
      hls.once('started', resolve);
      hls.once('failed', (r) => reject(new Error(r)));
    });
    const t0 = Date.now();
    await hls.start();
    const rec = new RecordingOutput({
      engine,
      callCid: cid,
      quality: '360p',
      layout: red,
      partPath: join(dir, 'work', 'r1.part.mp4'),
      log,
    });
    const recStarted = new Promise<void>((resolve, reject) => {
      rec.once('started', resolve);
      rec.once('failed', (r) => reject(new Error(r)));
    });
    await rec.start();
    await hlsStarted;
    await recStarted;
    console.log(`HLS first segment and master after ${Date.now() - t0} ms`);
    // Still one encode for RTMP, HLS and the recording.
    assert.equal(engine.encoderCount(), 1);
    assert.equal(engine.groupCount(), 1);

    const master = await readFile(join(hlsDir, MASTER_PLAYLIST), 'utf8');
    assert.match(
      master,
      /#EXT-X-STREAM-INF:BANDWIDTH=\d+,RESOLUTION=640x360,FRAME-RATE=30\.000,CODECS="avc1\.64[0-9a-f]{4},mp4a\.40\.2"\n360p\.m3u8/,
    );
    const p = await probe(join(hlsDir, MASTER_PLAYLIST));
    assert.equal(p.video?.codec, 'h264');
    assert.equal(p.video?.width, 640);
    assert.equal(p.video?.height, 360);
    assert.equal(p.audio?.codec, 'aac');

    const first = parseVariant(await readFile(join(hlsDir, '360p.m3u8'), 'utf8'));
    await sleep(7000);
    const later = parseVariant(await readFile(join(hlsDir, '360p.m3u8'), 'utf8'));
    console.log(`segments: first ${JSON.stringify(first)}, 7 s later ${JSON.stringify(later)}`);
    assert.ok(later.sequence + later.durations.length > first.sequence + first.durations.length, 'the playlist grew');
    for (const d of later.durations) assert.ok(Math.abs(d - 2) < 0.1, `segment of ${d} s`);
    assert.equal(later.targetDuration, 2);

    await rec.stop();
    const finished = await finishRecording(rec.partPath, join(dir, 'out', 'r1.mp4'));
    const boxes = await topLevelBoxes(finished.path);
    assert.ok(boxes.indexOf('moov') >= 0 && boxes.indexOf('moov') < boxes.indexOf('mdat'), `index at the front: ${boxes.join(',')}`);
    const rp = await probe(finished.path);
    console.log(`recording: ${rp.format.duration} s, ${finished.bytes} bytes`);
    assert.equal(rp.video?.codec, 'h264');
    assert.equal(rp.audio?.codec, 'aac');
    assert.equal(rp.video?.width, 640);
    assert.ok(rp.format.duration > 5, `recording lasts ${rp.format.duration} s`);
    const frame = await grabFrameRgb(finished.path, 1, 64, 36);
    const [r, g, b] = pixelAt(frame, 64, 32, 18);
    assert.ok(r > 170 && g < 70 && b < 70, `recorded pixel ${r},${g},${b} is the layout's red`);
    await assert.rejects(stat(rec.partPath), 'the part is removed once finished');

    await hls.stop();
    const ended = parseVariant(await readFile(join(hlsDir, '360p.m3u8'), 'utf8'));
    assert.ok(ended.ended, 'the stopped playlist ends');
    const segments = (await readdir(hlsDir)).filter((f) => f.endsWith('.ts'));
    assert.ok(segments.length <= 6 + 3 + 1, `old segments are deleted (${segments.length} on disk)`);
    // The RTMP destination still runs on its encode.
    assert.equal(engine.encoderCount(), 1);
    await engine.stop(cid, 'rtmp');
    await waitFor(() => engine.groupCount() === 0, 'the group closing with its last output', 10_000);
  });

  it('a master playlist over two quality tracks, one encode each', async () => {
    const cid = 'default:tracks';
    const hlsDir = join(dir, 'hls2');
    const hls = new HlsOutput({ engine, callCid: cid, layout: red, qualities: ['360p', '480p'], dir: hlsDir, log });
    const started = new Promise<void>((resolve, reject) => {
      hls.once('started', resolve);
      hls.once('failed', (r) => reject(new Error(r)));
    });
    await hls.start();
    await started;
    assert.equal(engine.encoderCount(), 2);
    const master = await readFile(join(hlsDir, MASTER_PLAYLIST), 'utf8');
    assert.ok(master.indexOf('480p.m3u8') > 0 && master.indexOf('480p.m3u8') < master.indexOf('360p.m3u8'), master);
    assert.match(master, /RESOLUTION=854x480/);
    await hls.stop();
    await waitFor(() => engine.groupCount() === 0, 'the groups closing', 10_000);
  });

  it('a recording whose packager dies reports failed and leaves a part that finishes into a playable file', async () => {
    const cid = 'default:crash';
    const storage = new LocalDirectoryStorage(join(dir, 'store'));
    const rec = new RecordingOutput({
      engine,
      callCid: cid,
      quality: '360p',
      layout: red,
      partPath: join(dir, 'work', 'crash.part.mp4'),
      log,
    });
    const failed = new Promise<string>((resolve) => rec.once('failed', resolve));
    await rec.start();
    await new Promise<void>((resolve) => rec.once('started', resolve));
    await sleep(5000);
    const pid = rec.packagerPid;
    assert.ok(pid, 'a packager runs');
    process.kill(pid, 'SIGKILL');
    const reason = await failed;
    assert.match(reason, /packager/);
    await waitFor(() => engine.groupCount() === 0, 'the group closing after its only output failed', 10_000);
    const finished = await finishRecording(rec.partPath, join(dir, 'work', 'crash.mp4'));
    const stored = await storage.putFile('default/crash/s1/crash.mp4', finished.path);
    assert.deepEqual(
      (await storage.list('default/crash')).map((o) => o.key),
      ['default/crash/s1/crash.mp4'],
    );
    const p = await probe(join(storage.root, 'default', 'crash', 's1', 'crash.mp4'));
    console.log(`finished after a crash: ${p.format.duration} s, ${stored.bytes} bytes`);
    assert.equal(p.video?.codec, 'h264');
    assert.ok(p.format.duration > 1, `what was written before the crash is kept (${p.format.duration} s)`);
    assert.equal(await storage.delete('default/crash/s1/crash.mp4'), true);
    assert.equal(await storage.stat('default/crash/s1/crash.mp4'), null);
  });
});
