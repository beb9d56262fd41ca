/**
 * A cheap publisher for many WHIP sessions: one participant's RTP (VP8 640x360 + Opus, encoded
 * once by ffmpeg exactly as test/support/publisher.ts encodes) recorded for a whole number of
 * GOPs and replayed in a loop, on one shared timer, to every session it is attached to
 * (`TestPublisher` with `rtpSource`). Each loop continues the sequence numbers and timestamps, so
 * receivers see one endless stream; nothing is encoded while replaying, so the publishers do not
 * take the cores the service under test needs (werift's SRTP still costs a little per packet).
 */
import { createSocket, type Socket } from 'node:dgram';
import { runFfmpeg } from './ffmpeg-run.js';
import { PUBLISHER_VIDEO_CODEC, publisherAudioCodec, type RtpSource } from '../../test/support/publisher.js';

interface Recorded {
  /** ms from the start of the loop */
  at: number;
  packet: Buffer;
}

interface Track {
  packets: Recorded[];
  /** RTP clock ticks of one loop */
  tsPeriod: number;
  writers: Set<(packet: Buffer) => void>;
}

/** Frames (video) and packets (audio) in one loop: 2 s, two GOPs of 30 frames. */
const LOOP_MS = 2000;
const VIDEO_TICKS = 90_000 * (LOOP_MS / 1000);
const AUDIO_TICKS = 48_000 * (LOOP_MS / 1000);
const TICK_MS = 10;

function bindLoopback(): Promise<Socket> {
  const s = createSocket('udp4');
  return new Promise((resolve) => s.bind(0, '127.0.0.1', () => resolve(s)));
}

/**
 * Keeps the packets of one loop from a capture: those whose RTP timestamp lies within `ticks` of
 * the first one, each scheduled at its timestamp. Pure.
 */
export function oneLoop(captured: readonly Buffer[], clockRate: number, ticks: number): Recorded[] {
  if (captured.length === 0) return [];
  const ts0 = captured[0]!.readUInt32BE(4);
  const out: Recorded[] = [];
  for (const p of captured) {
    const dt = (p.readUInt32BE(4) - ts0) >>> 0;
    if (dt >= ticks) break;
    out.push({ at: (dt / clockRate) * 1000, packet: p });
  }
  return out;
}

/** The packet of loop `loop` for `rec` (sequence numbers and timestamps carried on). Pure. */
export function rewrite(rec: Recorded, first: Buffer, loop: number, count: number, tsPeriod: number): Buffer {
  const out = Buffer.from(rec.packet);
  const seq0 = first.readUInt16BE(2);
  const ts0 = first.readUInt32BE(4);
  const dseq = (rec.packet.readUInt16BE(2) - seq0) & 0xffff;
  const dts = (rec.packet.readUInt32BE(4) - ts0) >>> 0;
  out.writeUInt16BE((seq0 + loop * count + dseq) & 0xffff, 2);
  out.writeUInt32BE((ts0 + loop * tsPeriod + dts) >>> 0, 4);
  return out;
}

export class RtpReplay implements RtpSource {
  private readonly tracks: Record<'video' | 'audio', Track>;
  private timer: NodeJS.Timeout | null = null;
  private epoch = 0;
  private sent = { loop: 0, video: 0, audio: 0 };

  private constructor(video: Recorded[], audio: Recorded[]) {
    this.tracks = {
      video: { packets: video, tsPeriod: VIDEO_TICKS, writers: new Set() },
      audio: { packets: audio, tsPeriod: AUDIO_TICKS, writers: new Set() },
    };
  }

  /** Encodes a colour and a tone for a little over one loop and keeps one loop of each. */
  static async record(color: string, toneHz: number): Promise<RtpReplay> {
    const v = await bindLoopback();
    const a = await bindLoopback();
    const video: Buffer[] = [];
    const audio: Buffer[] = [];
    v.on('message', (m) => video.push(Buffer.from(m)));
    a.on('message', (m) => audio.push(Buffer.from(m)));
    const seconds = LOOP_MS / 1000 + 0.5;
    try {
      await runFfmpeg(
        [
          ...['-hide_banner', '-loglevel', 'error', '-nostdin'],
          ...[
            '-f',
            'lavfi',
            '-i',
            `color=c=${color}:size=640x360:rate=30`,
            '-f',
            'lavfi',
            '-i',
            `sine=frequency=${toneHz}:sample_rate=48000`,
          ],
          ...['-t', String(seconds), '-map', '0:v'],
          ...PUBLISHER_VIDEO_CODEC,
          ...['-f', 'rtp', '-payload_type', '96', `rtp://127.0.0.1:${v.address().port}?pkt_size=1200`],
          ...['-t', String(seconds), '-map', '1:a', ...publisherAudioCodec()],
          ...['-f', 'rtp', '-payload_type', '111', `rtp://127.0.0.1:${a.address().port}?pkt_size=1200`],
        ],
        30_000,
        'recording RTP',
      );
      // Packets still in the socket buffers.
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      v.close();
      a.close();
    }
    const vLoop = oneLoop(video, 90_000, VIDEO_TICKS);
    const aLoop = oneLoop(audio, 48_000, AUDIO_TICKS);
    if (vLoop.length === 0 || aLoop.length === 0) throw new Error('recording RTP gave no packets');
    return new RtpReplay(vLoop, aLoop);
  }

  attach(kind: 'video' | 'audio', write: (packet: Buffer) => void): () => void {
    this.tracks[kind].writers.add(write);
    this.start();
    return () => {
      this.tracks[kind].writers.delete(write);
      if (this.tracks.video.writers.size === 0 && this.tracks.audio.writers.size === 0) this.stop();
    };
  }

  private start(): void {
    if (this.timer) return;
    this.epoch = performance.now();
    this.sent = { loop: 0, video: 0, audio: 0 };
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Sends every packet due by now, loop after loop (a late tick sends what it missed). */
  private tick(): void {
    const elapsed = performance.now() - this.epoch;
    for (;;) {
      const loopStart = this.sent.loop * LOOP_MS;
      let pending = false;
      for (const kind of ['video', 'audio'] as const) {
        const t = this.tracks[kind];
        while (this.sent[kind] < t.packets.length && loopStart + t.packets[this.sent[kind]]!.at <= elapsed) {
          const rec = t.packets[this.sent[kind]]!;
          // A packet of its own for each writer (the WebRTC stack rewrites headers in place).
          for (const w of t.writers) w(rewrite(rec, t.packets[0]!.packet, this.sent.loop, t.packets.length, t.tsPeriod));
          this.sent[kind] += 1;
        }
        if (this.sent[kind] < t.packets.length) pending = true;
      }
      if (pending || elapsed < loopStart + LOOP_MS) return;
      this.sent = { loop: this.sent.loop + 1, video: 0, audio: 0 };
    }
  }
}
