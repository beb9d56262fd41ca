/**
 * The pure parts of broadcast previews: FLV AVC tags to RFC 6184 RTP payloads (against x264's own
 * output demuxed from a real FLV), and which offered codecs a preview answers with.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { FlvDemuxer } from '../../src/flv/demuxer.js';
import {
  avccNalUnits,
  compositionTimeMs,
  H264_MAX_PAYLOAD,
  hasIdr,
  packetizeAccessUnit,
  parseAvcSequenceHeader,
} from '../../src/media/preview/h264-rtp.js';
import { h264Rank, planPreview } from '../../src/media/preview/preview-offer.js';
import { opusEncoderArgs } from '../../src/media/preview/opus-encoder.js';

const execFileP = promisify(execFile);

/** Reassembles NAL units from RTP payloads (single NAL and FU-A), as a receiver does. */
function depacketize(payloads: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  let fu: Buffer[] | null = null;
  for (const p of payloads) {
    const type = p[0]! & 0x1f;
    if (type === 28) {
      const start = (p[1]! & 0x80) !== 0;
      const end = (p[1]! & 0x40) !== 0;
      if (start) fu = [Buffer.from([(p[0]! & 0xe0) | (p[1]! & 0x1f)])];
      fu!.push(p.subarray(2));
      if (end) {
        out.push(Buffer.concat(fu!));
        fu = null;
      }
    } else out.push(p);
  }
  return out;
}

function offer(video: string[], audio = true): string {
  const lines = [
    'v=0',
    'o=- 1 1 IN IP4 127.0.0.1',
    's=-',
    't=0 0',
    'a=group:BUNDLE 0 1',
    'a=ice-ufrag:abcd',
    'a=ice-pwd:0123456789abcdef0123456789',
    'a=fingerprint:sha-256 AA:BB',
  ];
  const pts = video.map((_, i) => 100 + i);
  lines.push(`m=video 9 UDP/TLS/RTP/SAVPF ${pts.join(' ')}`, 'c=IN IP4 0.0.0.0', 'a=mid:0', 'a=recvonly', 'a=rtcp-mux');
  video.forEach((v, i) => {
    const [name, fmtp] = v.split('|');
    lines.push(`a=rtpmap:${pts[i]} ${name}/90000`);
    if (fmtp) lines.push(`a=fmtp:${pts[i]} ${fmtp}`);
  });
  if (audio)
    lines.push('m=audio 9 UDP/TLS/RTP/SAVPF 111', 'c=IN IP4 0.0.0.0', 'a=mid:1', 'a=recvonly', 'a=rtcp-mux', 'a=rtpmap:111 opus/48000/2');
  return `${lines.join('\r\n')}\r\n`;
}

describe('H.264 from FLV to RTP', () => {
  it("packetizes x264's FLV output into NAL units a receiver reassembles exactly, SPS/PPS before each keyframe", async () => {
    // Two seconds of a 30 fps High-profile stream with a keyframe every 15 frames, as FLV.
    const { stdout } = await execFileP(
      'ffmpeg',
      [
        ...['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-t', '2'],
        ...['-c:v', 'libx264', '-profile:v', 'high', '-preset', 'veryfast', '-tune', 'zerolatency', '-bf', '0', '-g', '15'],
        ...['-f', 'flv', 'pipe:1'],
      ],
      { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
    );
    const tags = new FlvDemuxer().push(stdout).filter((t) => t.type === 'video');
    const header = tags.find((t) => t.sequenceHeader)!;
    const config = parseAvcSequenceHeader(header.data);
    assert.equal(config.profileLevelId.slice(0, 2), '64', 'High profile (profile_idc 100)');
    assert.equal(config.lengthSize, 4);
    assert.equal(config.sps.length, 1);
    assert.equal(config.pps.length, 1);
    let keyframes = 0;
    let fragmented = 0;
    // Frames only (AVCPacketType 1; the stream ends with an end-of-sequence tag, type 2).
    for (const tag of tags.filter((t) => !t.sequenceHeader && t.data[1] === 1)) {
      const nals = avccNalUnits(tag.data, config.lengthSize);
      assert.ok(nals.length > 0);
      assert.equal(compositionTimeMs(tag.data), 0, 'no B-frames: no composition offset');
      const key = hasIdr(nals);
      assert.equal(key, tag.keyframe);
      const packets = packetizeAccessUnit(nals, config, key);
      assert.ok(packets.every((p) => p.payload.length <= H264_MAX_PAYLOAD));
      assert.deepEqual(
        packets.map((p) => p.marker),
        packets.map((_, i) => i === packets.length - 1),
        'the marker on the last packet only',
      );
      fragmented += packets.filter((p) => (p.payload[0]! & 0x1f) === 28).length;
      const rebuilt = depacketize(packets.map((p) => p.payload));
      const expected = [...(key ? [...config.sps, ...config.pps] : []), ...nals.filter((n) => ![7, 8, 9].includes(n[0]! & 0x1f))];
      assert.deepEqual(rebuilt, expected);
      if (key) {
        keyframes += 1;
        assert.equal(rebuilt[0]![0]! & 0x1f, 7);
        assert.equal(rebuilt[1]![0]! & 0x1f, 8);
      }
    }
    assert.equal(keyframes, 4);
    assert.ok(fragmented > 0, 'keyframes are larger than one packet: FU-A');
  });

  it('refuses what is not an AVC sequence header', () => {
    assert.throws(() => parseAvcSequenceHeader(Buffer.from([0x17, 0x01, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7])));
    assert.throws(() => parseAvcSequenceHeader(Buffer.from([0x17, 0x00, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 40])));
    assert.deepEqual(avccNalUnits(Buffer.from([0x17, 0x00, 0, 0, 0]), 4), []);
  });
});

describe('preview offers', () => {
  it('answers with the Constrained Baseline id when offered (whatever the group encodes), else Main, else any', () => {
    const chromium = offer([
      'VP8',
      'H264|level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f',
      'H264|level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f',
      'H264|level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
      'H264|level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f',
      'H264|level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=f4001f',
    ]);
    const plan = planPreview(chromium);
    const video = plan.accepted.find((a) => a.kind === 'video')!;
    assert.equal(video.codec.fmtp, 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f');
    assert.equal(plan.accepted.find((a) => a.kind === 'audio')!.codec.name, 'opus');
    const main = planPreview(
      offer(['H264|packetization-mode=1;profile-level-id=4d001f', 'H264|packetization-mode=1;profile-level-id=f4001f']),
    );
    assert.match(main.accepted[0]!.codec.fmtp!, /4d001f/);
    assert.equal(
      h264Rank({ payloadType: 1, name: 'H264', clockRate: 90000, fmtp: 'profile-level-id=42e01f' }),
      undefined,
      'mode 0 cannot carry FU-A',
    );
  });

  it('refuses offers that receive nothing usable (400)', () => {
    assert.throws(() => planPreview('nonsense'), { name: 'OfferError', status: 400 });
    assert.throws(
      () => planPreview(offer(['VP8'], false)),
      (err: Error & { status?: number }) => err.status === 400 && /H\.264/.test(err.message),
    );
    // Video refused, audio still accepted.
    const audioOnly = planPreview(offer(['VP8']));
    assert.deepEqual(
      audioOnly.accepted.map((a) => a.kind),
      ['audio'],
    );
    assert.equal(audioOnly.refused[0]!.reason, 'no_matching_codec');
  });

  it('encodes the sound as 20 ms Opus frames in RTP to the given loopback port', () => {
    const args = opusEncoderArgs(40000, 48);
    assert.deepEqual(args.slice(args.indexOf('-c:a'), args.indexOf('-c:a') + 4), ['-c:a', 'libopus', '-b:a', '48k']);
    assert.equal(args.at(-1), 'rtp://127.0.0.1:40000?pkt_size=1200');
  });
});
