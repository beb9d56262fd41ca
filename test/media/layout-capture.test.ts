/**
 * The capture stack of a browser-rendered layout, without a browser: two Xvfb displays started at
 * once get displays of their own; x11grab of one delivers I420 frames of its size with the
 * display's cookie (into pool buffers, reused once given back) and is refused without it; a PulseAudio
 * server of its own takes a tone played into its sink by an ffmpeg client and the sound capture
 * hands back that tone as s16le 48 kHz stereo; stopping leaves no process and no runtime directory.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { FramePool } from '../../src/render/frame-pool.js';
import { i420Bytes } from '../../src/render/i420-frame.js';
import { PULSE_SINK, PulseServer } from '../../src/render/browser/pulse-server.js';
import { startAudioCapture, startVideoCapture } from '../../src/render/browser/screen-capture.js';
import { XvfbDisplay } from '../../src/render/browser/xvfb.js';
import { tonePower } from './helpers.js';
import { sleep, waitFor } from '../support/wait.js';

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('layout capture stack', { timeout: 120_000 }, () => {
  it('gives each display its own number and captures it as I420 of its size', async () => {
    const [a, b] = await Promise.all([XvfbDisplay.start({ width: 320, height: 180 }), XvfbDisplay.start({ width: 320, height: 180 })]);
    try {
      assert.notEqual(a.display, b.display);
      assert.match(a.display, /^:\d+$/);
      const frames: Buffer[] = [];
      // Without the display's cookie the capture is refused.
      let refusedFrames = 0;
      const pool = new FramePool(i420Bytes(320, 180));
      const refused = startVideoCapture({ display: a.display, width: 320, height: 180, fps: 30, pool, onFrame: () => refusedFrames++ });
      await refused.whenExited();
      assert.equal(refusedFrames, 0);
      assert.match(refused.stderr, /\S/, 'ffmpeg said why');
      const capture = startVideoCapture({
        display: a.display,
        xauthority: a.authFile,
        width: 320,
        height: 180,
        fps: 30,
        pool,
        onFrame: (f) => {
          // Keep the first five; give the rest back, so the capture draws into them again.
          if (frames.length < 5) frames.push(f);
          else pool.release(f);
        },
      });
      try {
        await waitFor(() => frames.length >= 5, 'five captured frames', 30_000, 50);
        for (const f of frames) assert.equal(f.length, i420Bytes(320, 180));
        const held = pool.allocated;
        const before = frames.length;
        await sleep(500);
        assert.ok(pool.allocated <= held + 1, `frames given back are reused (${pool.allocated} allocated after ${held})`);
        assert.equal(frames.length, before);
        assert.equal(new Set(frames).size, 5, 'the frames kept are never handed out again');
      } finally {
        await capture.stop();
      }
      assert.equal(alive(capture.pid), false);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    assert.equal(alive(a.process.pid) || alive(b.process.pid), false, 'both displays gone');
  });

  it("records what is played into its own PulseAudio server's sink", async () => {
    const pulse = await PulseServer.start();
    const socketPath = pulse.server.slice('unix:'.length);
    assert.ok(existsSync(socketPath));
    const chunks: Buffer[] = [];
    let bytes = 0;
    const capture = startAudioCapture({
      pulseServer: pulse.server,
      onPcm: (pcm) => {
        chunks.push(pcm);
        bytes += pcm.length;
      },
    });
    // A client playing 1760 Hz into the sink, as a page does.
    const player = spawn(
      'ffmpeg',
      [
        '-v',
        'error',
        '-nostdin',
        '-re',
        '-f',
        'lavfi',
        '-i',
        'sine=frequency=1760:sample_rate=48000',
        '-ac',
        '2',
        '-f',
        'pulse',
        '-device',
        PULSE_SINK,
        'tone',
      ],
      { stdio: 'ignore', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PULSE_SERVER: pulse.server } },
    );
    try {
      // Two seconds of sound after the tone has had time to start.
      await waitFor(() => bytes >= 48000 * 4 * 3, 'three seconds recorded', 60_000, 50);
      const pcm = Buffer.concat(chunks).subarray(-48000 * 4 * 2);
      const off = tonePower(pcm, 660);
      assert.ok(tonePower(pcm, 1760) > 100 * off, `1760 Hz: ${tonePower(pcm, 1760)} vs ${off}`);
    } finally {
      player.kill('SIGKILL');
      await capture.stop();
      await pulse.stop();
    }
    assert.equal(alive(pulse.process.pid), false, 'the sound server is gone');
    assert.equal(existsSync(socketPath), false, 'its runtime directory is removed');
  });
});
