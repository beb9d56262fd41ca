/**
 * Pure pieces of the media plane: mixing, levels, speaker hysteresis, SDP checks, video sizes,
 * scaling, decoder arguments.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { scaleI420 } from '../../src/media/i420-scale.js';
import { firPacket } from '../../src/media/ingest-peer.js';
import { PcmTimeline, mixPcm, rmsDbfs, samplesOf, softLimit } from '../../src/media/mixer.js';
import { OfferError, deactivateSections, ffmpegRtpSdp, inspectOffer, keepCandidates, planOffer } from '../../src/media/sdp.js';
import { SpeakerDetector } from '../../src/media/speaker.js';
import { outputFilter, outputKey, videoOutputArgs } from '../../src/media/track-decoder.js';
import { h264PayloadSize, h264SpsSize, vp8KeyframeSize } from '../../src/media/video-size.js';
import { mediaAddress } from '../../src/config.js';
import { FixedSizeReader, udpPortBound } from '../../src/media/rtp-process.js';

/** s16le stereo PCM of a sine (same on both channels). */
function sine(freq: number, amplitude: number, frames: number): Buffer {
  const b = Buffer.alloc(frames * 4);
  for (let i = 0; i < frames; i++) {
    const v = Math.round(amplitude * 32767 * Math.sin((2 * Math.PI * freq * i) / 48000));
    b.writeInt16LE(v, i * 4);
    b.writeInt16LE(v, i * 4 + 2);
  }
  return b;
}

function constant(value: number, frames: number): Buffer {
  const b = Buffer.alloc(frames * 4);
  for (let i = 0; i < frames * 2; i++) b.writeInt16LE(value, i * 2);
  return b;
}

describe('mixer', () => {
  it('sums quiet streams exactly', () => {
    const out = samplesOf(mixPcm([constant(1000, 10), constant(-300, 10), constant(50, 10)], 10));
    assert.ok(out.every((v) => v === 750));
  });

  it('passes a single stream through and pads short inputs with silence', () => {
    const out = mixPcm([constant(1234, 5)], 8);
    const s = samplesOf(out);
    assert.equal(s.length, 16);
    assert.deepEqual([...s.slice(0, 10)], Array(10).fill(1234));
    assert.deepEqual([...s.slice(10)], Array(6).fill(0));
  });

  it('never clips or wraps around with many loud streams', () => {
    const loud = [constant(30000, 4), constant(30000, 4), constant(30000, 4), constant(-32768, 4)];
    const s = samplesOf(mixPcm(loud.slice(0, 3), 4));
    assert.ok(
      s.every((v) => v > 26000 && v <= 32767),
      `got ${s[0]}`,
    );
    const neg = samplesOf(mixPcm([constant(-32768, 4), constant(-32768, 4)], 4));
    assert.ok(neg.every((v) => v < -26000 && v >= -32767));
    // Monotonic: a louder sum is never quieter after limiting.
    let prev = 0;
    for (let x = 0; x < 200000; x += 1000) {
      const y = softLimit(x);
      assert.ok(y >= prev && y <= 32767);
      prev = y;
    }
    assert.equal(softLimit(20000), 20000);
  });

  it('measures levels in dBFS', () => {
    assert.ok(Math.abs(rmsDbfs(sine(440, 1, 4800)) - -3.01) < 0.1);
    assert.ok(Math.abs(rmsDbfs(sine(440, 0.1, 4800)) - -23.01) < 0.1);
    assert.equal(rmsDbfs(Buffer.alloc(400)), -Infinity);
  });

  it('queues PCM per consumer with bounded lag', () => {
    const tl = new PcmTimeline(480, 4800);
    tl.write(constant(1, 960));
    // A new consumer starts `target` behind the writer.
    assert.equal(
      samplesOf(tl.read('a', 480)).every((v) => v === 1),
      true,
    );
    // Two consumers read independently.
    tl.write(constant(2, 480));
    const b = samplesOf(tl.read('b', 480));
    assert.ok(b.every((v) => v === 2));
    const a = samplesOf(tl.read('a', 480));
    assert.ok(a.every((v) => v === 2));
    // Catching up with the writer yields silence for the missing part.
    const more = samplesOf(tl.read('a', 480));
    assert.ok(more.every((v) => v === 0));
    // Falling far behind skips ahead to the target lag.
    tl.write(constant(3, 9600));
    const late = samplesOf(tl.read('b', 480));
    assert.ok(late.every((v) => v === 3));
    assert.equal(tl.read('b', 480).length, 480 * 4);
  });
});

describe('speaker detection', () => {
  const LOUD = -20,
    QUIET = -80;
  function feed(d: SpeakerDetector, levels: Record<string, number>, from: number, to: number) {
    let state = d.update(from);
    for (let t = from; t <= to; t += 20) {
      for (const [id, l] of Object.entries(levels)) d.observe(id, l, t);
      state = d.update(t);
    }
    return state;
  }

  it('flags speaking and makes a steady speaker dominant after about a second', () => {
    const d = new SpeakerDetector();
    let s = feed(d, { a: LOUD, b: QUIET }, 0, 500);
    assert.ok(s.speaking.has('a'));
    assert.ok(!s.speaking.has('b'));
    assert.equal(s.dominant, undefined);
    s = feed(d, { a: LOUD, b: QUIET }, 520, 1400);
    assert.equal(s.dominant, 'a');
  });

  it('short noises do not flip the dominant speaker, a sustained lead does', () => {
    const d = new SpeakerDetector();
    feed(d, { a: LOUD, b: QUIET }, 0, 1500);
    // b coughs for 300 ms, louder than a.
    let s = feed(d, { a: LOUD, b: -5 }, 1520, 1800);
    assert.equal(s.dominant, 'a');
    s = feed(d, { a: LOUD, b: QUIET }, 1820, 2500);
    assert.equal(s.dominant, 'a');
    // a goes quiet: stays dominant (sticky) while nobody else speaks.
    s = feed(d, { a: QUIET, b: QUIET }, 2520, 4000);
    assert.equal(s.dominant, 'a');
    assert.equal(s.speaking.size, 0);
    // b talks for 1.5 s: takes over.
    s = feed(d, { a: QUIET, b: LOUD }, 4020, 5600);
    assert.equal(s.dominant, 'b');
  });

  it('forgets participants that leave', () => {
    const d = new SpeakerDetector();
    feed(d, { a: LOUD }, 0, 1500);
    d.remove('a');
    assert.equal(d.update(1600).dominant, undefined);
  });
});

const OFFER = [
  'v=0',
  'o=- 1 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0 1',
  'a=fingerprint:sha-256 AA:BB',
  'm=video 9 UDP/TLS/RTP/SAVPF 96 97 102',
  'c=IN IP4 0.0.0.0',
  'a=ice-ufrag:abcd',
  'a=ice-pwd:0123456789012345678901',
  'a=mid:0',
  'a=sendonly',
  'a=rtpmap:96 VP8/90000',
  'a=rtpmap:97 rtx/90000',
  'a=fmtp:97 apt=96',
  'a=rtpmap:102 H264/90000',
  'a=fmtp:102 packetization-mode=1;profile-level-id=42e01f',
  'a=candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host',
  'a=candidate:2 1 udp 2122260223 10.1.2.3 50000 typ host',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111',
  'c=IN IP4 0.0.0.0',
  'a=mid:1',
  'a=sendonly',
  'a=rtpmap:111 opus/48000/2',
  '',
].join('\r\n');

describe('SDP checks', () => {
  it('reads sections, codecs and directions', () => {
    const s = inspectOffer(OFFER);
    assert.equal(s.sections.length, 2);
    assert.deepEqual(
      s.sections.map((x) => [x.kind, x.mid, x.direction]),
      [
        ['video', '0', 'sendonly'],
        ['audio', '1', 'sendonly'],
      ],
    );
    assert.deepEqual(
      s.sections[0]!.usableCodecs.map((c) => c.name),
      ['VP8', 'H264'],
    );
    assert.equal(s.sections[0]!.usableCodecs[1]!.fmtp, 'packetization-mode=1;profile-level-id=42e01f');
  });

  it('rejects malformed offers with a reason', () => {
    for (const bad of [
      '',
      'hello',
      'v=0\r\nnot a line',
      'v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-',
      OFFER.replace(/a=fingerprint[^\r]*\r\n/, ''),
      OFFER.replace('m=audio 9 UDP', 'm=audio x UDP'),
    ]) {
      assert.throws(
        () => inspectOffer(bad),
        (e: unknown) => e instanceof OfferError && e.status === 400 && e.message.length > 10,
      );
    }
  });

  it('plans by grants and codecs', () => {
    const s = inspectOffer(OFFER);
    const all = planOffer(s, { canSendAudio: true, canSendVideo: true });
    assert.equal(all.accepted.length, 2);
    const audioOnly = planOffer(s, { canSendAudio: true, canSendVideo: false });
    assert.deepEqual(
      audioOnly.accepted.map((x) => x.kind),
      ['audio'],
    );
    assert.deepEqual(
      audioOnly.refused.map((x) => [x.section.kind, x.reason]),
      [['video', 'not_permitted']],
    );
    assert.throws(
      () => planOffer(s, { canSendAudio: false, canSendVideo: false }),
      (e: unknown) => e instanceof OfferError && e.status === 403,
    );
    const noCodec = inspectOffer(
      OFFER.replace('VP8/90000', 'VP9/90000').replace('H264/90000', 'AV1/90000').replace('opus/48000/2', 'PCMU/8000'),
    );
    assert.throws(
      () => planOffer(noCodec, { canSendAudio: true, canSendVideo: true }),
      (e: unknown) => e instanceof OfferError && e.status === 406 && /VP9/.test(e.message),
    );
  });

  it('deactivates refused sections and filters candidates', () => {
    const out = deactivateSections(OFFER, new Set([0]));
    const video = out.split('m=audio')[0]!;
    assert.match(video, /a=inactive/);
    assert.doesNotMatch(video, /a=sendonly/);
    assert.match(out.split('m=audio')[1]!, /a=sendonly/);
    const kept = keepCandidates(OFFER, (a) => a === '127.0.0.1');
    assert.match(kept, /127\.0\.0\.1 50000/);
    assert.doesNotMatch(kept, /10\.1\.2\.3/);
  });

  it('describes one RTP stream for ffmpeg', () => {
    const v = ffmpegRtpSdp('video', 5004, { payloadType: 102, name: 'H264', clockRate: 90000, fmtp: 'packetization-mode=1' });
    assert.match(v, /m=video 5004 RTP\/AVP 102\na=rtpmap:102 H264\/90000\na=fmtp:102 packetization-mode=1/);
    const a = ffmpegRtpSdp('audio', 5006, { payloadType: 111, name: 'opus', clockRate: 48000, channels: 2 });
    assert.match(a, /a=rtpmap:111 opus\/48000\/2/);
  });
});

describe('video sizes from RTP payloads', () => {
  it('reads a VP8 key frame header', () => {
    // descriptor: X=1,S=1; extension: I=1, 15-bit picture id; then the frame tag and start code
    const payload = Buffer.from([0x90, 0x80, 0x80, 0x01, 0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01]);
    assert.deepEqual(vp8KeyframeSize(payload), { width: 640, height: 360 });
    const inter = Buffer.from(payload);
    inter[4] = 0x51;
    assert.equal(vp8KeyframeSize(inter), null);
  });

  it('reads an H.264 SPS (baseline 640x360, with cropping) alone and in STAP-A', () => {
    // SPS of x264 baseline 640x360: profile 66, level 30
    const sps = Buffer.from('6742c01ed900a02ff97011000003000100000300320f162e48', 'hex');
    assert.deepEqual(h264SpsSize(sps), { width: 640, height: 360 });
    const stap = Buffer.concat([Buffer.from([24]), Buffer.from([0, sps.length]), sps, Buffer.from([0, 2, 0x68, 0xce])]);
    assert.deepEqual(h264PayloadSize(stap), { width: 640, height: 360 });
    assert.equal(h264PayloadSize(Buffer.from([0x65, 0x88])), null);
  });
});

describe('decoder plumbing', () => {
  it('scales I420 frames (nearest neighbour) keeping colours', () => {
    const src = Buffer.alloc((4 * 2 * 3) / 2);
    src.fill(100, 0, 8);
    src.fill(50, 8, 10);
    src.fill(200, 10, 12);
    const out = scaleI420({ data: src, width: 4, height: 2 }, 8, 4);
    assert.equal(out.data.length, (8 * 4 * 3) / 2);
    assert.ok(out.data.subarray(0, 32).every((v) => v === 100));
    assert.ok(out.data.subarray(32, 40).every((v) => v === 50));
    assert.ok(out.data.subarray(40, 48).every((v) => v === 200));
  });

  it('builds ffmpeg filters for cover, contain and mirroring, one output pipe per size', () => {
    assert.match(outputFilter({ width: 320, height: 180 }), /force_original_aspect_ratio=increase.*crop=320:180/);
    assert.match(
      outputFilter({ width: 320, height: 180, fit: 'contain', background: { r: 255, g: 0, b: 16 } }),
      /decrease.*pad=320:180:.*color=0xff0010/,
    );
    assert.match(outputFilter({ width: 2, height: 2, mirror: true }), /hflip/);
    const args = videoOutputArgs([
      { width: 320, height: 180 },
      { width: 640, height: 360 },
    ]);
    assert.match(args[1]!, /split=2\[s0\]\[s1\]/);
    assert.ok(args.includes('pipe:1') && args.includes('pipe:3'));
    assert.notEqual(outputKey({ width: 2, height: 2 }), outputKey({ width: 2, height: 2, mirror: true }));
  });

  it('cuts a byte stream into fixed-size records, in fresh buffers or recycled ones', () => {
    const stream = Buffer.from(Array.from({ length: 50 }, (_, i) => i));
    // chunks that split records anywhere, including several records in one chunk
    const chunks = [stream.subarray(0, 3), stream.subarray(3, 4), stream.subarray(4, 31), stream.subarray(31, 50)];
    const fresh: Buffer[] = [];
    const plain = new FixedSizeReader(10, (r) => fresh.push(r));
    for (const c of chunks) plain.push(c);
    assert.deepEqual(
      fresh.map((r) => [...r]),
      [0, 1, 2, 3, 4].map((k) => Array.from({ length: 10 }, (_, i) => k * 10 + i)),
    );

    const seen: number[][] = [];
    const buffers: Buffer[] = [];
    const recycled = new FixedSizeReader(
      10,
      (r) => {
        seen.push([...r]);
        buffers.push(r);
      },
      { recycle: 3 },
    );
    for (const c of chunks) recycled.push(c);
    assert.deepEqual(
      seen,
      fresh.map((r) => [...r]),
      'same records',
    );
    assert.equal(new Set(buffers).size, 3, 'three buffers used in turn');
    assert.equal(buffers[3], buffers[0]);
    assert.deepEqual([...buffers[4]!], seen[4], 'the newest record is intact');
  });

  it('tells from /proc/net/udp whether a decoder bound its RTP port', () => {
    const table = [
      '   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops',
      '  123: 0100007F:9C40 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 41 2 0000000000000000 0',
      '  124: 00000000:0035 0100007F:9C42 07 00000000:00000000 00:00000000 00000000     0        0 42 2 0000000000000000 0',
    ].join('\n');
    assert.equal(udpPortBound(table, 40000), true);
    assert.equal(udpPortBound(table, 40002), false, 'a remote port does not count');
    assert.equal(udpPortBound(table, 53), true);
    assert.equal(udpPortBound('', 40000), false);
  });

  it('builds a full intra request', () => {
    const fir = firPacket(1, 0xdeadbeef, 7);
    assert.equal(fir[1], 206);
    assert.equal(fir[0]! & 0x1f, 4);
    assert.equal(fir.readUInt32BE(12), 0xdeadbeef);
    assert.equal(fir[16], 7);
  });

  it('picks the media host from the configuration', () => {
    assert.deepEqual(mediaAddress(undefined, '127.0.0.1'), '127.0.0.1');
    assert.deepEqual(mediaAddress(undefined, '0.0.0.0'), undefined);
    assert.deepEqual(mediaAddress('192.0.2.10', '127.0.0.1'), '192.0.2.10');
  });
});
