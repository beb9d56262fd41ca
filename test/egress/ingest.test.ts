/**
 * The engine publishing to real ingest servers (nginx-rtmp, RTMPS through a TLS proxy), checked
 * with ffprobe on what the ingest recorded.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import { promisify } from 'node:util';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { EgressEngine } from '../../src/egress/engine.js';
import type { Quality } from '../../src/layout/settings.js';
import { grabFrameRgb, keyframeTimes, pixelAt, probe } from '../support/ffprobe.js';
import { startFfmpegListenIngest, startNginxIngest, type NginxIngest } from '../support/rtmp-ingest.js';
import { sleep, waitFor } from '../support/wait.js';
import { RecordingLogger } from '../support/log.js';
import { RecordingListener, ffmpegChildren, layout } from './helpers.js';

/** Packet timestamps (ms) per stream, in file order. */
async function packetTimes(path: string): Promise<Map<string, number[]>> {
  const { stdout } = await promisify(execFile)(
    'ffprobe',
    ['-v', 'error', '-show_entries', 'packet=codec_type,dts_time', '-of', 'csv=p=0', path],
    { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
  );
  const out = new Map<string, number[]>();
  for (const line of stdout.split('\n')) {
    const [type, t] = line.trim().split(',');
    if (!type || !t || !Number.isFinite(Number(t))) continue;
    const list = out.get(type) ?? [];
    list.push(Math.round(Number(t) * 1000));
    out.set(type, list);
  }
  return out;
}

const fileSize = (p: string): number => {
  try {
    return statSync(p).size;
  } catch {
    return 0;
  }
};

function assertColorNear(actual: number[], expected: number[], what: string): void {
  for (let i = 0; i < 3; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= 16, `${what}: got rgb(${actual.join(',')}), want rgb(${expected.join(',')})`);
  }
}

/** A loopback TCP server that accepts connections and then either says nothing or sends garbage. */
async function startBadServer(mode: 'silent' | 'garbage'): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    if (mode === 'garbage') {
      s.once('data', () => s.write(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'.repeat(200))));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

describe('egress to real ingests', () => {
  let ingest: NginxIngest;
  let second: NginxIngest;
  const listener = new RecordingListener();
  const log = new RecordingLogger();
  let engine: EgressEngine;

  before(async () => {
    ingest = await startNginxIngest({
      allowedKeys: ['q360', 'qportrait', 'q480', 'steady', 'flaky', 'gone', 'killed', 'healthy', 'early', 'late'],
    });
    second = await startNginxIngest();
    engine = new EgressEngine({
      listener,
      log,
      tls: { ca: ingest.caCertPem },
      retry: { initialDelayMs: 200, maxDelayMs: 1000, giveUpAfterMs: 4000 },
      rtmp: { connectTimeoutMs: 3000, handshakeTimeoutMs: 3000, publishTimeoutMs: 3000 },
    });
  });
  after(async () => {
    await engine?.close();
    await ingest?.stop();
    await second?.stop();
    assert.deepEqual(ffmpegChildren(), [], 'no encoder left behind');
  });

  it('broadcasts each quality at its size, ~30 fps, keyframes every 2 s, in the background colour', async (t) => {
    const cases: Array<{ name: string; quality: Quality; color: string; rgb: number[]; w: number; h: number }> = [
      { name: 'q360', quality: '360p', color: '#ff0000', rgb: [255, 0, 0], w: 640, h: 360 },
      { name: 'qportrait', quality: 'portrait-360x640', color: '#2040c0', rgb: [0x20, 0x40, 0xc0], w: 360, h: 640 },
      { name: 'q480', quality: '480p', color: '#00ff00', rgb: [0, 255, 0], w: 854, h: 480 },
    ];
    const secure = new Set(['qportrait']);
    for (const c of cases) {
      engine.start({
        callCid: 'default:qualities',
        name: c.name,
        // One of them over RTMPS through the TLS proxy.
        streamUrl: secure.has(c.name) ? ingest.secureUrl() : ingest.url(),
        streamKey: c.name,
        quality: c.quality,
        layout: layout({ 'layout.background_color': c.color }),
      });
    }
    for (const c of cases) await listener.waitFor('started', c.name);
    assert.equal(engine.encoderCount(), 3);
    await waitFor(
      () => cases.every((c) => (engine.stats('default:qualities').find((s) => s.name === c.name)?.videoFramesSent ?? 0) >= 200),
      '~6 s of video each',
      60_000,
    );
    for (const c of cases) await engine.stop('default:qualities', c.name);
    for (const c of cases) assert.ok(listener.find('stopped', c.name));
    await sleep(500);

    for (const c of cases) {
      const path = ingest.recordingPath(c.name);
      const info = await probe(path);
      assert.equal(info.video?.codec, 'h264', c.name);
      assert.equal(info.video?.width, c.w);
      assert.equal(info.video?.height, c.h);
      assert.ok(Math.abs(info.video!.fps - 30) < 1, `${c.name} fps ${info.video!.fps}`);
      assert.equal(info.audio?.codec, 'aac');
      assert.equal(info.audio?.sampleRate, 48000);
      assert.equal(info.audio?.channels, 2);
      assert.ok(info.format.duration >= 5, `${c.name} duration ${info.format.duration}`);
      // Constant bitrate: the recording carries the quality's video bitrate even for a still picture.
      const kbps = (statSync(path).size * 8) / info.format.duration / 1000;
      const target = { q360: 800, qportrait: 800, q480: 1200 }[c.name]!;
      assert.ok(kbps > target * 0.7 && kbps < (target + 128) * 1.4, `${c.name}: ${kbps} kbit/s for a ${target} kbit/s target`);
      const keys = await keyframeTimes(path);
      assert.ok(keys.length >= 3, `${c.name} keyframes ${keys.join(',')}`);
      for (let i = 1; i < keys.length; i++) {
        const gap = keys[i]! - keys[i - 1]!;
        assert.ok(Math.abs(gap - 2) < 0.1, `${c.name} keyframe gap ${gap}`);
      }
      // Audio and video advance together (one clock): they end within a few frames of each other.
      const packets = await packetTimes(path);
      const lastVideo = packets.get('video')!.at(-1)!;
      const lastAudio = packets.get('audio')!.at(-1)!;
      assert.ok(Math.abs(lastVideo - lastAudio) < 150, `${c.name}: video ends at ${lastVideo} ms, audio at ${lastAudio} ms`);
      t.diagnostic(`${c.name}: ${JSON.stringify(info)} keyframes ${keys.join(',')}; last video ${lastVideo} ms, audio ${lastAudio} ms`);
      const frame = await grabFrameRgb(path, 2, c.w, c.h);
      for (const [x, y] of [
        [c.w / 2, c.h / 2],
        [10, 10],
        [c.w - 10, c.h - 10],
      ] as const) {
        assertColorNear(pixelAt(frame, c.w, Math.floor(x), Math.floor(y)), c.rgb, `${c.name} at ${x},${y}`);
      }
    }
  });

  it('reconnects a destination whose ingest restarts; its group sibling on another ingest is unaffected', async (t) => {
    const cid = 'default:restart';
    engine.start({ callCid: cid, name: 'steady', streamUrl: ingest.url(), streamKey: 'steady', quality: '360p', layout: layout() });
    engine.start({ callCid: cid, name: 'flaky', streamUrl: second.url(), streamKey: 'flaky', quality: '360p', layout: layout() });
    await listener.waitFor('started', 'steady');
    await listener.waitFor('started', 'flaky');
    // One encode for both.
    assert.equal(engine.encoderCount(), 1);
    assert.equal(ffmpegChildren().length, 1);
    const t0 = Date.now();
    await sleep(3000);

    await second.stop();
    await waitFor(() => engine.stats(cid).find((s) => s.name === 'flaky')?.state === 'reconnecting', 'flaky to notice', 15_000);
    const beforeRestart = await probe(second.recordingPath('flaky'));
    await sleep(1000);
    await second.restart();
    await waitFor(() => engine.stats(cid).find((s) => s.name === 'flaky')?.state === 'live', 'flaky to reconnect', 20_000);
    const flakyStats = engine.stats(cid).find((s) => s.name === 'flaky')!;
    assert.ok(flakyStats.reconnects >= 1);
    const framesAtReconnect = flakyStats.videoFramesSent;
    await waitFor(
      () => (engine.stats(cid).find((s) => s.name === 'flaky')?.videoFramesSent ?? 0) > framesAtReconnect + 90,
      '3 s more of flaky',
      30_000,
    );
    const steadyStats = engine.stats(cid).find((s) => s.name === 'steady')!;
    assert.equal(steadyStats.reconnects, 0);
    assert.equal(steadyStats.state, 'live');
    assert.ok(steadyStats.bitrate > 0, 'bitrate measured');
    assert.ok(steadyStats.bytesSent > 0 && steadyStats.audioFramesSent > 0);
    const elapsedS = (Date.now() - t0) / 1000;

    await engine.stop(cid, 'steady');
    await engine.stop(cid, 'flaky');
    await sleep(500);
    const flakyAfter = await probe(second.recordingPath('flaky'));
    assert.ok(
      flakyAfter.format.duration > beforeRestart.format.duration + 2,
      `the recording continued: ${beforeRestart.format.duration} -> ${flakyAfter.format.duration}`,
    );
    const flakyPackets = await packetTimes(second.recordingPath('flaky'));
    for (const [type, ts] of flakyPackets) {
      for (let i = 1; i < ts.length; i++) assert.ok(ts[i]! >= ts[i - 1]!, `flaky ${type} dts went back at ${i}: ${ts[i - 1]} -> ${ts[i]}`);
    }
    const steady = await probe(ingest.recordingPath('steady'));
    t.diagnostic(
      `flaky ${beforeRestart.format.duration} s before the restart, ${flakyAfter.format.duration} s after; steady ${steady.format.duration} s over ${elapsedS} s`,
    );
    // The steady destination's recording spans the whole broadcast, outage included.
    assert.ok(
      steady.format.duration > flakyAfter.format.duration - 1,
      `steady ${steady.format.duration}, flaky ${flakyAfter.format.duration}`,
    );
    assert.ok(steady.format.duration >= elapsedS * 0.5, `steady ${steady.format.duration} s of ${elapsedS} s`);
    assert.equal(listener.find('failed', 'flaky'), undefined);
  });

  it('fails a destination whose ingest never comes back, and only that one', async (t) => {
    const cid = 'default:gone';
    const doomed = await startNginxIngest();
    let doomedStopped = false;
    try {
      engine.start({ callCid: cid, name: 'healthy', streamUrl: ingest.url(), streamKey: 'healthy', quality: '360p', layout: layout() });
      engine.start({ callCid: cid, name: 'gone', streamUrl: doomed.url(), streamKey: 'gone', quality: '360p', layout: layout() });
      await listener.waitFor('started', 'healthy');
      await listener.waitFor('started', 'gone');
      await sleep(1000);
      await doomed.stop();
      doomedStopped = true;
      const failed = await listener.waitFor('failed', 'gone', 30_000);
      assert.ok(failed.reason && failed.reason.length > 0);
      t.diagnostic(`gone: ${failed.reason}`);
      assert.deepEqual(
        engine.stats(cid).map((s) => s.name),
        ['healthy'],
      );
      const h = engine.stats(cid)[0]!;
      assert.equal(h.state, 'live');
      assert.equal(h.reconnects, 0);
      assert.equal(engine.encoderCount(), 1);
      await engine.stop(cid, 'healthy');
    } finally {
      if (!doomedStopped) await doomed.stop();
    }
  });

  it('keeps the RTMP session through an encoder crash; the recording keeps growing', async (t) => {
    const cid = 'default:crash';
    engine.start({ callCid: cid, name: 'killed', streamUrl: ingest.url(), streamKey: 'killed', quality: '360p', layout: layout() });
    await listener.waitFor('started', 'killed');
    await sleep(3000);
    const group = engine.groupOf(cid, 'killed')!;
    const pid = group.encoderPid!;
    assert.ok(pid);
    const sizeBefore = fileSize(ingest.recordingPath('killed'));
    const framesBefore = engine.stats(cid)[0]!.videoFramesSent;
    process.kill(pid, 'SIGKILL');
    await waitFor(() => group.encoderPid !== undefined && group.encoderPid !== pid, 'encoder restart', 15_000);
    await waitFor(() => engine.stats(cid)[0]!.videoFramesSent > framesBefore + 90, '3 s after the restart', 30_000);
    const st = engine.stats(cid)[0]!;
    assert.equal(st.reconnects, 0, 'same RTMP connection');
    assert.equal(st.state, 'live');
    await engine.stop(cid, 'killed');
    await sleep(500);
    const path = ingest.recordingPath('killed');
    assert.ok(fileSize(path) > sizeBefore, 'the recording grew after the crash');
    const info = await probe(path);
    assert.ok(info.format.duration >= 5, `duration ${info.format.duration}`);
    const keys = await keyframeTimes(path);
    t.diagnostic(`crash: ${info.format.duration} s, keyframes ${keys.join(',')}`);
    assert.ok(keys.at(-1)! > 3, 'keyframes after the crash');
    // Timestamps never go back, across the restart, in either stream.
    const packets = await packetTimes(path);
    for (const type of ['video', 'audio']) {
      const ts = packets.get(type) ?? [];
      assert.ok(ts.length > 100, `${type} packets: ${ts.length}`);
      for (let i = 1; i < ts.length; i++) assert.ok(ts[i]! >= ts[i - 1]!, `${type} dts went back at ${i}: ${ts[i - 1]} -> ${ts[i]}`);
    }
    assert.equal(listener.find('failed', 'killed'), undefined);
  });

  it('fails refused, untrusted, garbage and silent targets with a clear reason, disturbing nothing else', async (t) => {
    const cid = 'default:bad';
    const silent = await startBadServer('silent');
    const garbage = await startBadServer('garbage');
    try {
      engine.start({ callCid: cid, name: 'healthy', streamUrl: ingest.url(), streamKey: 'healthy', quality: '360p', layout: layout() });
      await listener.waitFor('started', 'healthy');
      const untrusting = new EgressEngine({
        listener,
        log,
        retry: { giveUpAfterMs: 4000 },
        rtmp: { connectTimeoutMs: 3000, handshakeTimeoutMs: 3000, publishTimeoutMs: 3000 },
      });
      try {
        engine.start({
          callCid: cid,
          name: 'refused',
          streamUrl: ingest.url(),
          streamKey: 'not-allowed-key',
          quality: '360p',
          layout: layout(),
        });
        engine.start({
          callCid: cid,
          name: 'garbage',
          streamUrl: `rtmp://127.0.0.1:${garbage.port}/live`,
          streamKey: 'g',
          quality: '360p',
          layout: layout(),
        });
        engine.start({
          callCid: cid,
          name: 'silent',
          streamUrl: `rtmp://127.0.0.1:${silent.port}/live`,
          streamKey: 's',
          quality: '360p',
          layout: layout(),
        });
        // This engine does not trust the ingest's CA.
        untrusting.start({
          callCid: cid,
          name: 'untrusted',
          streamUrl: ingest.secureUrl(),
          streamKey: 'healthy',
          quality: '360p',
          layout: layout(),
        });

        const reasons: Record<string, string> = {};
        for (const name of ['refused', 'garbage', 'silent', 'untrusted']) {
          reasons[name] = (await listener.waitFor('failed', name, 60_000)).reason!;
        }
        t.diagnostic(JSON.stringify(reasons, null, 1));
        assert.ok(!reasons.refused!.includes('not-allowed-key'), reasons.refused);
        for (const [name, reason] of Object.entries(reasons)) {
          assert.ok(reason.length > 10, `${name}: ${reason}`);
          assert.ok(!listener.find('started', name), `${name} never started`);
        }
        assert.match(reasons.untrusted!, /certificate|TLS|verify/i);
        assert.ok(!log.text().includes('not-allowed-key'), 'stream key never logged');
        const h = engine.stats(cid);
        assert.deepEqual(
          h.map((s) => s.name),
          ['healthy'],
        );
        assert.equal(h[0]!.state, 'live');
        assert.equal(h[0]!.reconnects, 0);
      } finally {
        await untrusting.close();
      }
      await engine.stop(cid, 'healthy');
    } finally {
      await silent.close();
      await garbage.close();
    }
  });
  it('publishes to another RTMP server implementation (ffmpeg -listen)', async () => {
    const cid = 'default:ffmpeg';
    const server = await startFfmpegListenIngest({ app: 'live', stream: 'ff' });
    try {
      engine.start({
        callCid: cid,
        name: 'ff',
        streamUrl: server.appUrl,
        streamKey: server.streamName,
        quality: 'portrait-360x640',
        layout: layout({ 'layout.background_color': '#ffffff' }),
      });
      await listener.waitFor('started', 'ff');
      await waitFor(() => (engine.stats(cid)[0]?.videoFramesSent ?? 0) >= 120, '4 s of video', 30_000);
      await engine.stop(cid, 'ff');
      await server.stop();
      const info = await probe(server.outputPath);
      assert.equal(info.video?.codec, 'h264');
      assert.equal(info.video?.width, 360);
      assert.equal(info.video?.height, 640);
      assert.equal(info.audio?.codec, 'aac');
      assert.ok(info.format.duration >= 3, `duration ${info.format.duration}`);
      const frame = await grabFrameRgb(server.outputPath, 1, 360, 640);
      assertColorNear(pixelAt(frame, 360, 180, 320), [255, 255, 255], 'centre');
    } finally {
      await server.stop();
    }
  });
  it('joins a late destination to the running encode at a keyframe, with sequence headers', async () => {
    const cid = 'default:late';
    engine.start({ callCid: cid, name: 'early', streamUrl: ingest.url(), streamKey: 'early', quality: '360p', layout: layout() });
    await listener.waitFor('started', 'early');
    const pid = engine.groupOf(cid, 'early')!.encoderPid;
    await sleep(3000);
    engine.start({ callCid: cid, name: 'late', streamUrl: ingest.secureUrl(), streamKey: 'late', quality: '360p', layout: layout() });
    await listener.waitFor('started', 'late');
    assert.equal(engine.groupOf(cid, 'late')!.encoderPid, pid, 'the same encoder process');
    assert.equal(engine.encoderCount(), 1);
    const early = engine.stats(cid).find((s) => s.name === 'early')!;
    await waitFor(() => (engine.stats(cid).find((s) => s.name === 'late')?.videoFramesSent ?? 0) >= 120, '4 s of the late one', 30_000);
    assert.equal(engine.stats(cid).find((s) => s.name === 'early')!.reconnects, 0);
    assert.ok(engine.stats(cid).find((s) => s.name === 'early')!.videoFramesSent > early.videoFramesSent);
    await engine.stop(cid, 'late');
    await engine.stop(cid, 'early');
    await sleep(500);
    const info = await probe(ingest.recordingPath('late'));
    assert.equal(info.video?.codec, 'h264');
    assert.equal(info.video?.width, 640);
    assert.equal(info.audio?.codec, 'aac');
    const keys = await keyframeTimes(ingest.recordingPath('late'));
    assert.ok(keys.length >= 2);
    assert.ok(keys[0]! < 0.05, `starts at a keyframe (first keyframe at ${keys[0]})`);
  });
});
