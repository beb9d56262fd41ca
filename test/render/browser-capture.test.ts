/** The pure parts of capturing a layout browser: the Xvfb, PulseAudio, ffmpeg and Chromium command lines, and cutting raw frames. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chromiumArgs } from '../../src/render/browser/chromium-process.js';
import { PULSE_SINK, pulseaudioArgs } from '../../src/render/browser/pulse-server.js';
import { FrameQueue, pulseCaptureArgs, x11grabArgs } from '../../src/render/browser/screen-capture.js';
import { parseDisplayNumber, xauthorityEntry, xvfbArgs } from '../../src/render/browser/xvfb.js';

describe('layout browser capture', () => {
  it('lets Xvfb pick its display and reads the number it writes back', () => {
    const args = xvfbArgs(1280, 720, '/tmp/x/Xauthority');
    assert.deepEqual(args.slice(0, 2), ['-displayfd', '3']);
    assert.ok(args.join(' ').includes('-screen 0 1280x720x24'));
    assert.ok(args.join(' ').includes('-nolisten tcp'));
    assert.ok(args.join(' ').includes('-auth /tmp/x/Xauthority'));
    assert.equal(parseDisplayNumber(''), undefined);
    assert.equal(parseDisplayNumber('4'), undefined, 'not until the line is complete');
    assert.equal(parseDisplayNumber('42\n'), 42);
  });

  it('writes one MIT-MAGIC-COOKIE-1 for any address and display in Xauthority format', () => {
    const cookie = Buffer.alloc(16, 0xab);
    const entry = xauthorityEntry(cookie);
    const name = Buffer.from('MIT-MAGIC-COOKIE-1');
    const expected = Buffer.concat([Buffer.from([0xff, 0xff, 0, 0, 0, 0, 0, name.length]), name, Buffer.from([0, 16]), cookie]);
    assert.deepEqual(entry, expected);
  });

  it('runs PulseAudio without configuration, with a null sink and a private socket', () => {
    const args = pulseaudioArgs('/tmp/x/native');
    for (const a of ['--daemonize=no', '-n', '--exit-idle-time=-1', '--use-pid-file=false', '--disable-shm=true'])
      assert.ok(args.includes(a), a);
    assert.ok(args.includes(`module-null-sink sink_name=${PULSE_SINK} rate=48000 channels=2 format=s16le`));
    assert.ok(args.includes('module-native-protocol-unix socket=/tmp/x/native auth-anonymous=1'));
  });

  it('captures the display as I420 at the frame rate and the sink monitor as s16le 48 kHz stereo', () => {
    const v = x11grabArgs(':7', 640, 360, 30).join(' ');
    assert.ok(v.includes('-f x11grab -draw_mouse 0 -framerate 30 -video_size 640x360 -i :7.0'), v);
    assert.ok(v.endsWith('-f rawvideo -pix_fmt yuv420p pipe:1'), v);
    const a = pulseCaptureArgs().join(' ');
    assert.ok(a.includes(`-f pulse -sample_rate 48000 -channels 2 -fragment_size 3840 -i ${PULSE_SINK}.monitor`), a);
    assert.ok(a.endsWith('-f s16le -ar 48000 -ac 2 pipe:1'), a);
  });

  it('shows Chromium in a kiosk window with sound, or headless and muted', () => {
    const shown = chromiumArgs('/tmp/p', 640, 360, { display: true, sound: true });
    assert.ok(shown.includes('--kiosk') && !shown.includes('--headless') && !shown.includes('--mute-audio'));
    assert.ok(shown.includes('--window-size=640,360') && shown.includes('--window-position=0,0'));
    assert.ok(shown.includes('--autoplay-policy=no-user-gesture-required'));
    const headless = chromiumArgs('/tmp/p', 640, 360);
    assert.ok(headless.includes('--headless') && headless.includes('--mute-audio') && !headless.includes('--kiosk'));
  });

  it('gives every captured frame a tick of its own, repeating the last when none waits, dropping beyond the bound', () => {
    const q = new FrameQueue(3);
    const f = (n: number) => Buffer.from([n]);
    assert.equal(q.next(), null);
    assert.equal(q.started, false);
    q.push(f(1));
    q.push(f(2));
    assert.equal(q.started, true);
    assert.deepEqual(q.next(), f(1), 'the oldest first');
    assert.deepEqual(q.next(), f(2));
    assert.deepEqual(q.next(), f(2), 'the last again when none waits');
    assert.equal(q.repeated, 1);
    for (let n = 3; n <= 7; n++) q.push(f(n));
    assert.equal(q.dropped, 2);
    assert.deepEqual([q.next(), q.next(), q.next(), q.next()], [f(5), f(6), f(7), f(7)]);
  });

  it('lets go of each frame it drops, replaces or clears, and of none it still shows', () => {
    const released: number[] = [];
    const q = new FrameQueue(2, (frame) => released.push(frame[0]!));
    const f = (n: number) => Buffer.from([n]);
    q.push(f(1));
    assert.deepEqual(q.next(), f(1));
    assert.deepEqual(q.next(), f(1));
    assert.deepEqual(released, [], 'the frame shown is kept while it is repeated');
    q.push(f(2));
    q.push(f(3));
    q.push(f(4));
    assert.deepEqual(released, [2], 'dropped beyond the bound');
    assert.deepEqual(q.next(), f(3));
    assert.deepEqual(released, [2, 1], 'replaced as the one shown');
    q.clear();
    assert.deepEqual(released.sort(), [1, 2, 3, 4]);
    assert.equal(q.next(), null);
  });
});
