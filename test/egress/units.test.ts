import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay } from '../../src/egress/backoff.js';
import { groupKey, layoutKey } from '../../src/egress/group-key.js';
import { isPermanentError } from '../../src/egress/destination.js';
import type { FlvTag } from '../../src/flv/tag.js';
import { classifySocketError, isCertificateError, type SocketErrorContext } from '../../src/rtmp/errors.js';
import { redactStreamName } from '../../src/rtmp/url.js';
import { BackgroundFrameSource, layoutBackgroundColor, solidI420Frame } from '../../src/egress/frame-source.js';
import { GopCache } from '../../src/egress/gop-cache.js';
import { Pacer, planTick, sampleFramesForTick, tickDueMs, type PacerTick } from '../../src/egress/pacer.js';
import { encoderArgs, i420FrameBytes, qualityProfile } from '../../src/egress/qualities.js';
import { TimestampMapper } from '../../src/egress/timestamps.js';
import { QUALITIES, type LayoutSettings } from '../../src/layout/settings.js';

const layout = (options?: Record<string, unknown>): LayoutSettings => ({
  name: 'spotlight',
  external_app_url: '',
  external_css_url: '',
  ...(options ? { options } : {}),
});

function argValue(args: string[], flag: string, occurrence = 0): string | undefined {
  let seen = 0;
  for (let i = 0; i < args.length - 1; i++) {
    if (args[i] === flag) {
      if (seen === occurrence) return args[i + 1];
      seen++;
    }
  }
  return undefined;
}

describe('qualities', () => {
  it('follows the output table', () => {
    const expected: Record<string, [number, number, number]> = {
      '360p': [640, 360, 800],
      'portrait-360x640': [360, 640, 800],
      '480p': [854, 480, 1200],
      'portrait-480x854': [480, 854, 1200],
      '720p': [1280, 720, 3000],
      'portrait-720x1280': [720, 1280, 3000],
      '1080p': [1920, 1080, 5000],
      'portrait-1080x1920': [1080, 1920, 5000],
      '1440p': [2560, 1440, 9000],
      'portrait-1440x2560': [1440, 2560, 9000],
    };
    for (const q of QUALITIES) {
      const p = qualityProfile(q);
      assert.deepEqual([p.width, p.height, p.videoKbps], expected[q], q);
      assert.equal(p.fps, 30);
      assert.equal(p.gopFrames, 60);
      assert.equal(p.audioKbps, 128);
      assert.equal(p.audioSampleRate, 48000);
      assert.equal(p.audioChannels, 2);
    }
  });

  it('builds the encoder command line', () => {
    const args = encoderArgs('720p');
    // Input 0: raw frames on stdin; input 1: PCM on fd 3.
    const inputs = args.flatMap((a, i) => (a === '-i' ? [args[i + 1]] : []));
    assert.deepEqual(inputs, ['pipe:0', 'pipe:3']);
    assert.equal(argValue(args, '-f', 0), 'rawvideo');
    assert.equal(argValue(args, '-pix_fmt', 0), 'yuv420p');
    assert.equal(argValue(args, '-s'), '1280x720');
    assert.equal(argValue(args, '-r', 0), '30');
    assert.equal(argValue(args, '-f', 1), 's16le');
    assert.equal(argValue(args, '-ar', 0), '48000');
    assert.equal(argValue(args, '-ac', 0), '2');
    assert.equal(argValue(args, '-c:v'), 'libx264');
    assert.equal(argValue(args, '-profile:v'), 'high');
    assert.equal(argValue(args, '-preset'), 'veryfast');
    assert.equal(argValue(args, '-tune'), 'zerolatency');
    assert.equal(argValue(args, '-b:v'), '3000k');
    assert.equal(argValue(args, '-maxrate'), '3000k');
    assert.ok(argValue(args, '-bufsize'));
    assert.equal(argValue(args, '-g'), '60');
    assert.equal(argValue(args, '-keyint_min'), '60');
    assert.equal(argValue(args, '-sc_threshold'), '0');
    assert.equal(argValue(args, '-bf'), '0');
    assert.match(argValue(args, '-x264-params') ?? '', /nal-hrd=cbr/);
    assert.equal(argValue(args, '-c:a'), 'aac');
    assert.equal(argValue(args, '-b:a'), '128k');
    assert.equal(argValue(args, '-f', 2), 'flv');
    assert.equal(args[args.length - 1], 'pipe:1');
    assert.equal(argValue(args, '-loglevel'), 'warning');
    assert.ok(args.includes('-nostats'));
    // Input options come before their -i.
    assert.ok(args.indexOf('rawvideo') < args.indexOf('pipe:0'));
    assert.ok(args.indexOf('s16le') < args.indexOf('pipe:3'));
    assert.ok(args.indexOf('pipe:3') < args.indexOf('libx264'));
  });

  it('sizes portrait frames and bitrates', () => {
    const args = encoderArgs('portrait-360x640', { threads: 2 });
    assert.equal(argValue(args, '-s'), '360x640');
    assert.equal(argValue(args, '-b:v'), '800k');
    assert.equal(argValue(args, '-threads'), '2');
    assert.equal(i420FrameBytes(640, 360), 640 * 360 * 1.5);
    assert.equal(i420FrameBytes(3, 3), 9 + 2 * 4);
  });
});

describe('pacer arithmetic', () => {
  it('gives each tick its exact share of samples', () => {
    for (let i = 0; i < 100; i++) assert.equal(sampleFramesForTick(i, 48000, 30), 1600);
    // A non-integer rate carries the remainder: 44100 / 29.97 etc.
    let sum = 0;
    for (let i = 0; i < 1000; i++) sum += sampleFramesForTick(i, 44100, 29.97);
    assert.equal(sum, Math.floor((1000 * 44100) / 29.97));
    let sum7 = 0;
    const shares = new Set<number>();
    for (let i = 0; i < 70; i++) {
      const n = sampleFramesForTick(i, 1000, 7);
      shares.add(n);
      sum7 += n;
    }
    assert.equal(sum7, 10000);
    assert.deepEqual([...shares].sort(), [142, 143]);
  });

  it('schedules from the start time', () => {
    assert.equal(tickDueMs(0, 30), 0);
    assert.equal(tickDueMs(30, 30), 1000);
    assert.equal(tickDueMs(3000, 30), 100000);
  });

  it('runs a due tick and waits for the next', () => {
    const p = planTick(0, 0, 30);
    assert.equal(p.run, 0);
    assert.equal(p.skipped, 0);
    assert.equal(p.nextIndex, 1);
    assert.ok(Math.abs(p.waitMs - 1000 / 30) < 1e-9);
    const early = planTick(1, 10, 30);
    assert.equal(early.run, null);
    assert.ok(Math.abs(early.waitMs - (1000 / 30 - 10)) < 1e-9);
  });

  it('does not drift when timers fire late by a little', () => {
    // Timers that always fire 5 ms late still produce every tick, and tick k is due at k*1000/30.
    let next = 0;
    const ran: number[] = [];
    let now = 0;
    while (ran.length < 300) {
      const plan = planTick(next, now, 30);
      next = plan.nextIndex;
      if (plan.run !== null) ran.push(plan.run);
      now += plan.waitMs + 5 * (plan.run !== null ? 1 : 0);
    }
    assert.deepEqual(
      ran,
      Array.from({ length: 300 }, (_, i) => i),
    );
  });

  it('skips rather than bursts after a stall', () => {
    const plan = planTick(10, 1000, 30); // 1 s in: tick 30 is due, 10..29 were missed
    assert.equal(plan.run, 30);
    assert.equal(plan.skipped, 20);
    assert.equal(plan.nextIndex, 31);
    const after = planTick(plan.nextIndex, 1001, 30);
    assert.equal(after.run, null);
  });
});

describe('pacer clock', () => {
  it("ticks in order with each tick's samples, and skips (does not burst) after a stall", async () => {
    const ticks: PacerTick[] = [];
    let stalled = false;
    await new Promise<void>((resolve) => {
      const pacer = new Pacer({
        fps: 30,
        sampleRate: 48000,
        // A stall longer than the catch-up allowance (3 ticks here, ~9 missed) is skipped.
        maxCatchUpTicks: 3,
        onTick: (t) => {
          ticks.push(t);
          if (t.index >= 5 && !stalled) {
            stalled = true;
            const until = performance.now() + 300; // block the event loop: ~9 ticks are missed
            while (performance.now() < until) {
              /* stall */
            }
          }
          if (ticks.length >= 15) {
            pacer.stop();
            resolve();
          }
        },
      });
      pacer.start();
    });
    for (let i = 1; i < ticks.length; i++) assert.ok(ticks[i]!.index > ticks[i - 1]!.index);
    for (const t of ticks) {
      assert.equal(t.sampleFrames, 1600);
      assert.equal(t.ptsMs, tickDueMs(t.index, 30));
    }
    const stallAt = ticks.findIndex((t) => t.index >= 5);
    const afterStall = ticks[stallAt + 1]!;
    assert.ok(afterStall.skipped >= 5, `skipped ${afterStall.skipped}`);
    assert.equal(afterStall.index, ticks[stallAt]!.index + afterStall.skipped + 1);
  });
});

describe('backoff', () => {
  it('grows exponentially from under a second to a cap, with jitter', () => {
    const opts = { initialDelayMs: 500, maxDelayMs: 8000, jitter: 0.2 };
    const mid = () => 0.5;
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 10].map((a) => backoffDelay(a, opts, mid)),
      [500, 1000, 2000, 4000, 8000, 8000, 8000],
    );
    assert.equal(
      backoffDelay(0, opts, () => 0),
      400,
    );
    assert.ok(backoffDelay(0, opts, () => 0.999) < 1000);
    assert.ok(backoffDelay(20, opts, () => 0.999) <= 8000);
    assert.ok(backoffDelay(20, opts, () => 0) >= 6400);
  });
});

describe('timestamp mapper', () => {
  it('starts at 0 and stays monotonic across rebases', () => {
    const m = new TimestampMapper();
    m.rebase(5000, 33);
    assert.equal(m.map(5000), 0);
    assert.equal(m.map(5033), 33);
    assert.equal(m.map(5020), 33, 'never goes back');
    m.invalidate();
    assert.ok(m.needsRebase);
    m.rebase(0, 500); // encoder restarted at 0
    assert.equal(m.map(0), 533);
    assert.equal(m.map(33), 566);
  });
});

const tag = (type: FlvTag['type'], timestamp: number, extra: Partial<FlvTag> = {}, size = 10): FlvTag => ({
  type,
  timestamp,
  data: Buffer.alloc(size),
  keyframe: false,
  sequenceHeader: false,
  ...extra,
});

describe('gop cache', () => {
  it('gives a joiner metadata, sequence headers and the GOP from its keyframe', () => {
    const c = new GopCache(1000);
    const meta = tag('script', 0);
    const avc = tag('video', 0, { sequenceHeader: true, keyframe: true });
    const aac = tag('audio', 0, { sequenceHeader: true });
    c.push(meta);
    c.push(avc);
    c.push(aac);
    c.push(tag('audio', 0)); // before any keyframe: not joinable
    assert.deepEqual(c.snapshotForJoin(), { metadata: meta, sequenceHeaders: [avc, aac], gop: [] });
    const k1 = tag('video', 0, { keyframe: true });
    const a1 = tag('audio', 21);
    const p1 = tag('video', 33);
    c.push(k1);
    c.push(a1);
    c.push(p1);
    assert.deepEqual(c.snapshotForJoin().gop, [k1, a1, p1]);
    const k2 = tag('video', 2000, { keyframe: true });
    c.push(k2);
    assert.deepEqual(c.snapshotForJoin().gop, [k2]);
  });

  it('is bounded in bytes: an oversized GOP is dropped until the next keyframe', () => {
    const c = new GopCache(100);
    c.push(tag('video', 0, { keyframe: true }, 60));
    c.push(tag('video', 33, {}, 30));
    assert.equal(c.bytes, 90);
    c.push(tag('video', 66, {}, 30));
    assert.equal(c.snapshotForJoin().gop.length, 0);
    c.push(tag('video', 100, {}, 5));
    assert.equal(c.snapshotForJoin().gop.length, 0);
    const k = tag('video', 2000, { keyframe: true }, 50);
    c.push(k);
    assert.deepEqual(c.snapshotForJoin().gop, [k]);
  });

  it('forgets everything on reset', () => {
    const c = new GopCache();
    c.push(tag('script', 0));
    c.push(tag('video', 0, { sequenceHeader: true }));
    c.push(tag('video', 0, { keyframe: true }));
    c.reset();
    assert.deepEqual(c.snapshotForJoin(), { metadata: null, sequenceHeaders: [], gop: [] });
  });
});

describe('frame source', () => {
  it('paints the layout background and plays silence', () => {
    assert.deepEqual(layoutBackgroundColor(layout()), { r: 0, g: 0, b: 0 });
    assert.deepEqual(layoutBackgroundColor(layout({ 'layout.background_color': '#123456' })), { r: 0x12, g: 0x34, b: 0x56 });
    const src = new BackgroundFrameSource('360p', layout({ 'layout.background_color': '#ff0000' }));
    const f = src.videoFrame(0);
    assert.equal(f.length, 640 * 360 * 1.5);
    assert.equal(f[0], 81);
    assert.equal(f[640 * 360], 90);
    assert.equal(f[640 * 360 + 320 * 180], 240);
    const pcm = src.audioSamples(0, 1600);
    assert.equal(pcm.length, 1600 * 4);
    assert.ok(pcm.every((b) => b === 0));
    assert.equal(solidI420Frame(4, 2, { r: 0, g: 0, b: 0 }).length, 12);
  });
});

describe('grouping and errors', () => {
  it('keys groups by call, quality and layout (key order does not matter)', () => {
    const a: LayoutSettings = { name: 'grid', external_app_url: '', external_css_url: '', options: { x: 1, y: 2 } };
    const b: LayoutSettings = { external_css_url: '', options: { y: 2, x: 1 }, name: 'grid', external_app_url: '' };
    assert.equal(layoutKey(a), layoutKey(b));
    assert.equal(groupKey('default:1', '360p', a), groupKey('default:1', '360p', b));
    assert.notEqual(groupKey('default:1', '360p', a), groupKey('default:1', '720p', a));
    assert.notEqual(groupKey('default:1', '360p', a), groupKey('default:2', '360p', a));
    assert.notEqual(groupKey('default:1', '360p', a), groupKey('default:1', '360p', { ...a, name: 'spotlight' }));
  });

  it('treats certificate errors as permanent and redacts secrets', () => {
    // Certificate errors are classified where the socket raises them (src/rtmp/errors.ts).
    const tls: SocketErrorContext = {
      where: 'rtmps://h:443/app',
      host: 'h',
      secure: true,
      connecting: true,
      tcpConnected: true,
      redact: (t) => t,
    };
    const classify = (err: Error, ctx: Partial<SocketErrorContext> = {}) => classifySocketError(err, { ...tls, ...ctx });
    const e = Object.assign(new Error('unable to verify the first certificate'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    assert.ok(isCertificateError(e));
    assert.ok(isPermanentError(classify(e)));
    const wrapped = new Error('wrapped', { cause: { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' } });
    assert.ok(isCertificateError(wrapped));
    assert.ok(isPermanentError(classify(wrapped)));
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    assert.ok(!isCertificateError(refused));
    assert.ok(!isPermanentError(refused));
    assert.ok(!isPermanentError(classify(refused, { tcpConnected: false })));
    assert.equal(redactStreamName({ streamName: 'sk-12345' }, 'rtmp://h/app/sk-12345 refused'), 'rtmp://h/app/*** refused');
    assert.equal(redactStreamName({ streamName: '' }, 'nothing'), 'nothing');
  });
});
