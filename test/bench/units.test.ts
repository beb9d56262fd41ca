/**
 * The benchmark suite's pure parts: /proc parsing, FLV tag reading, the baseline command line,
 * flash matching, the capacity search steps, statistics and the BENCHMARKS.md splice.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encoderArgs } from '../../src/egress/qualities.js';
import { baselineArgs } from '../../bench/lib/baseline.js';
import { floorArgs } from '../../bench/lib/encode-floor.js';
import { oneLoop, rewrite } from '../../bench/lib/rtp-replay.js';
import { benchParticipants, compositionArgs, spotlightScene } from '../../bench/lib/ffmpeg-composition.js';
import { matchFlashes, centreLuma } from '../../bench/lib/flash-observer.js';
import { FlvTagReader } from '../../bench/lib/flv.js';
import { cpuBetween, parseProcStat, parseVmRss, processLabel, type TreeSample } from '../../bench/lib/proc.js';
import { RESULTS_END, RESULTS_START, spliceResults } from '../../bench/lib/report.js';
import { nextCount } from '../../bench/figures/capacity.js';
import { median, pairedRatios, percentile, summarize } from '../../bench/lib/stats.js';

describe('proc parsing', () => {
  it('reads CPU ticks after a command name holding spaces and parentheses', () => {
    const line = '4242 (ffmpeg (enc) x) S 1 4242 4242 0 -1 4194304 100 0 0 0 250 50 7 3 20 0 3 0 1000 1000000 500 18446744073709551615';
    const s = parseProcStat(line);
    assert.equal(s.pid, 4242);
    assert.equal(s.comm, 'ffmpeg (enc) x');
    assert.equal(s.ticks, 300);
    assert.equal(s.childTicks, 10);
  });
  it('reads VmRSS in bytes', () => {
    assert.equal(parseVmRss('Name:\tnode\nVmRSS:\t  2048 kB\nThreads: 7\n'), 2048 * 1024);
    assert.equal(parseVmRss('Name:\tzombie\n'), 0);
  });
  it('counts the growth of surviving processes and the whole use of new ones', () => {
    const a: TreeSample = {
      at: 0,
      cpuByPid: new Map([
        [1, 10],
        [2, 5],
      ]),
      commByPid: new Map(),
      rssBytes: 0,
    };
    const b: TreeSample = {
      at: 1000,
      cpuByPid: new Map([
        [1, 11.5],
        [3, 0.25],
      ]),
      commByPid: new Map(),
      rssBytes: 0,
    };
    assert.equal(cpuBetween(a, b), 1.75);
  });
});

describe('FLV tag reader', () => {
  const tag = (type: number, ts: number, data: number[]) => {
    const h = Buffer.alloc(11);
    h[0] = type;
    h.writeUIntBE(data.length, 1, 3);
    h.writeUIntBE(ts & 0xffffff, 4, 3);
    h[7] = ts >>> 24;
    const prev = Buffer.alloc(4);
    prev.writeUInt32BE(11 + data.length);
    return Buffer.concat([h, Buffer.from(data), prev]);
  };
  const header = Buffer.from([0x46, 0x4c, 0x56, 1, 5, 0, 0, 0, 9, 0, 0, 0, 0]);

  it('tells AVC frames from sequence headers and audio, across arbitrary chunk boundaries', () => {
    const bytes = Buffer.concat([
      header,
      tag(9, 0, [0x17, 0, 0, 0, 0, 1, 2]), // AVC sequence header
      tag(8, 0, [0xaf, 1, 9]), // AAC
      tag(9, 0, [0x17, 1, 0, 0, 0, 5]), // keyframe
      tag(9, 33, [0x27, 1, 0, 0, 0, 6]), // inter frame
    ]);
    const reader = new FlvTagReader();
    const tags = [];
    for (let i = 0; i < bytes.length; i += 5) tags.push(...reader.push(bytes.subarray(i, i + 5)));
    assert.deepEqual(
      tags.map((t) => [t.type, t.isFrame, t.keyframe, t.timestamp]),
      [
        [9, false, true, 0],
        [8, false, false, 0],
        [9, true, true, 0],
        [9, true, false, 33],
      ],
    );
  });
});

describe('baseline command line', () => {
  it('keeps every encoder setting of the egress and replaces only inputs and output', () => {
    const args = baselineArgs('720p', 'rtmp://127.0.0.1:1935/live/x');
    const egress = encoderArgs('720p');
    const encode = egress.slice(egress.indexOf('-map'), egress.indexOf('-flvflags'));
    assert.ok(args.join(' ').includes(encode.join(' ')));
    assert.ok(args.join(' ').includes('-f lavfi -i testsrc2=size=1280x720:rate=30'));
    assert.ok(args.join(' ').includes('sine=frequency=440:sample_rate=48000'));
    assert.ok(!args.includes('pipe:0') && !args.includes('pipe:3') && !args.includes('pipe:1'));
    assert.deepEqual(args.slice(-3), ['-f', 'flv', 'rtmp://127.0.0.1:1935/live/x']);
    assert.deepEqual(baselineArgs('1080p', 'null', 5).slice(-5), ['-t', '5', '-f', 'null', '-']);
  });
});

describe('encode floor and ffmpeg composition command lines', () => {
  const egress = encoderArgs('720p');
  const encode = egress.slice(egress.indexOf('-c:v'), egress.indexOf('-flvflags'));
  it('the floor loops the raw clip at real time through every encoder setting of the egress', () => {
    const args = floorArgs('720p', { video: '/m/v.yuv', audio: '/m/a.pcm' }, 'rtmp://127.0.0.1:1935/live/f');
    const line = args.join(' ');
    assert.ok(line.includes(encode.join(' ')));
    assert.ok(
      line.includes(
        '-re -stream_loop -1 -probesize 32 -analyzeduration 0 -thread_queue_size 64 -f rawvideo -pix_fmt yuv420p -s 1280x720 -r 30 -i /m/v.yuv',
      ),
    );
    assert.ok(line.includes('-f s16le -ar 48000 -ac 2 -ch_layout stereo -i /m/a.pcm'));
    assert.ok(!args.some((a) => a.startsWith('pipe:')));
    assert.deepEqual(args.slice(-3), ['-f', 'flv', 'rtmp://127.0.0.1:1935/live/f']);
  });
  it("the composition draws every tile of the service's spotlight scene and mixes every participant", () => {
    const ps = benchParticipants(['a', 'b', 'c', 'd']);
    const scene = spotlightScene('720p', ps);
    const clips = ps.map((p, i) => ({ sessionId: p.sessionId, path: `/m/p${i}.webm` }));
    const args = compositionArgs('720p', scene, clips, 'null');
    const graph = args[args.indexOf('-filter_complex') + 1]!;
    const tiles = scene.items.filter((i) => i.kind === 'tile');
    assert.equal(tiles.length, 4);
    for (const tile of tiles) {
      if (tile.kind !== 'tile') continue;
      assert.ok(
        graph.includes(`overlay=x=${Math.round(tile.rect.x)}:y=${Math.round(tile.rect.y)}`),
        `tile at ${tile.rect.x},${tile.rect.y}`,
      );
    }
    assert.equal(graph.match(/drawtext=/g)?.length, 4);
    assert.ok(graph.includes('[0:a][1:a][2:a][3:a]amix=inputs=4'));
    assert.ok(graph.startsWith('color=c=0x'));
    assert.ok(args.join(' ').includes(encode.join(' ')));
    assert.equal(args.filter((a) => a === '-stream_loop').length, 4);
    assert.deepEqual(args.slice(-3), ['-f', 'null', '-']);
  });
});

describe('RTP replay', () => {
  const rtp = (seq: number, ts: number) => {
    const b = Buffer.alloc(16);
    b[0] = 0x80;
    b.writeUInt16BE(seq, 2);
    b.writeUInt32BE(ts >>> 0, 4);
    return b;
  };
  it('keeps one loop of packets, scheduled by their timestamps (across the 32-bit wrap)', () => {
    const start = 0xffffffff - 2999;
    const captured = [rtp(65534, start), rtp(65535, start + 3000), rtp(0, start + 6000), rtp(1, start + 9000)];
    const loop = oneLoop(captured, 90_000, 9000);
    assert.deepEqual(
      loop.map((r) => Math.round(r.at)),
      [0, 33, 67],
    );
  });
  it('carries sequence numbers and timestamps on from loop to loop', () => {
    const captured = [rtp(65534, 100), rtp(65535, 3100), rtp(0, 6100)];
    const loop = oneLoop(captured, 90_000, 9000);
    const second = loop.map((r) => rewrite(r, loop[0]!.packet, 1, loop.length, 9000));
    assert.deepEqual(
      second.map((b) => [b.readUInt16BE(2), b.readUInt32BE(4)]),
      [
        [1, 9100],
        [2, 12100],
        [3, 15100],
      ],
    );
    assert.equal(captured[0]!.readUInt16BE(2), 65534, 'the recording is not changed');
  });
});

describe('flash matching', () => {
  it('pairs each flash with the first bright edge after it, within its period', () => {
    assert.deepEqual(matchFlashes([1000, 2000, 3000], [1150, 1900, 2210, 3990], 500), [150, 210]);
  });
  it('reads the centre of a 16x9 grey frame', () => {
    const f = Buffer.alloc(144, 0);
    for (let y = 3; y < 6; y++) for (let x = 6; x < 10; x++) f[y * 16 + x] = 240;
    assert.equal(centreLuma(f), 240);
  });
});

describe('capacity search', () => {
  it('climbs until a failure, then bisects to the boundary', () => {
    assert.equal(nextCount(4, undefined, 24), 6);
    assert.equal(nextCount(6, 10, 24), 8);
    assert.equal(nextCount(8, 9, 24), undefined);
    assert.equal(nextCount(24, undefined, 24), undefined);
  });
});

describe('statistics', () => {
  it('computes interpolated percentiles and paired ratios', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([1, 2, 3, 4]), 2.5);
    assert.ok(Math.abs(percentile([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 95) - 95.5) < 1e-9);
    assert.deepEqual(pairedRatios([2, 3, 4], [1, 0, 2]), [2, 2]);
    const s = summarize([5, 1, 3]);
    assert.deepEqual([s.n, s.median, s.min, s.max], [3, 3, 1, 5]);
  });
});

describe('BENCHMARKS.md', () => {
  it('replaces only the generated section', () => {
    const doc = `# Benchmarks\n\nHow to read.\n\n${RESULTS_START}\nold\n${RESULTS_END}\n\n## Notes\n\nkept\n`;
    const next = spliceResults(doc, 'new table');
    assert.ok(next.includes('How to read.') && next.includes('kept') && next.includes('new table'));
    assert.ok(!next.includes('old'));
    assert.ok(spliceResults('# Benchmarks\n', 'x').includes(`${RESULTS_START}\nx\n${RESULTS_END}`));
  });
});

describe('process labels', () => {
  it('tells the egress encoder from the media decoders', () => {
    assert.equal(processLabel('node', ''), 'node');
    assert.equal(processLabel('ffmpeg', ['ffmpeg', '-i', 'pipe:0', '-c:v', 'libx264', 'pipe:1'].join('\0')), 'ffmpeg encoder');
    assert.equal(
      processLabel('ffmpeg', ['ffmpeg', '-i', '/tmp/x/video.sdp', '-f', 'rawvideo', 'pipe:1'].join('\0')),
      'ffmpeg video decoder',
    );
    assert.equal(
      processLabel('ffmpeg', ['ffmpeg', '-i', '/tmp/x/audio.sdp', '-acodec', 'pcm_s16le', 'pipe:1'].join('\0')),
      'ffmpeg audio decoder',
    );
  });
});
