/**
 * The preview's sound: one ffmpeg process that encodes a broadcast group's mixed PCM (s16le,
 * 48 kHz stereo, on stdin) to Opus and sends it as RTP to a loopback UDP port of ours, where each
 * packet is handed on. It runs only while someone previews the group.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { RtpPacket } from 'werift';
import type { Logger } from '../../log.js';
import { allocateRtpPort } from '../rtp-process.js';

export interface OpusPacket {
  ssrc: number;
  sequenceNumber: number;
  timestamp: number;
  marker: boolean;
  payload: Buffer;
}

export interface OpusEncoderOptions {
  log: Logger;
  ffmpegPath?: string;
  /** Opus bitrate, kbit/s (default 64) */
  kbps?: number;
  onPacket: (packet: OpusPacket) => void;
}

/** PCM queued in the pipe beyond which ticks are dropped for the preview (1 s of sound). */
const MAX_QUEUED_BYTES = 48000 * 4;

/** The ffmpeg arguments: s16le 48 kHz stereo on stdin, Opus (20 ms frames) as RTP to `port`. Pure. */
export function opusEncoderArgs(port: number, kbps = 64): string[] {
  return [
    '-hide_banner',
    '-loglevel',
    'error',
    '-nostats',
    '-nostdin',
    '-probesize',
    '32',
    '-analyzeduration',
    '0',
    '-f',
    's16le',
    '-ar',
    '48000',
    '-ac',
    '2',
    '-i',
    'pipe:0',
    '-c:a',
    'libopus',
    '-b:a',
    `${kbps}k`,
    '-frame_duration',
    '20',
    '-application',
    'lowdelay',
    '-f',
    'rtp',
    '-payload_type',
    '111',
    `rtp://127.0.0.1:${port}?pkt_size=1200`,
  ];
}

export class OpusEncoder {
  private child: ChildProcess | null = null;
  private sockets: Socket[] = [];
  private closed = false;
  /** PCM chunks dropped because the encoder fell behind */
  dropped = 0;

  private constructor(private readonly opts: OpusEncoderOptions) {}

  static async start(opts: OpusEncoderOptions): Promise<OpusEncoder> {
    const enc = new OpusEncoder(opts);
    await enc.launch();
    return enc;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  private async launch(): Promise<void> {
    const port = await allocateRtpPort();
    const rtp = createSocket('udp4');
    const rtcp = createSocket('udp4');
    await Promise.all([
      new Promise<void>((res, rej) => rtp.once('error', rej).bind(port, '127.0.0.1', () => res())),
      new Promise<void>((res, rej) => rtcp.once('error', rej).bind(port + 1, '127.0.0.1', () => res())),
    ]);
    rtp.on('error', () => undefined);
    rtcp.on('error', () => undefined);
    rtcp.on('message', () => undefined); // the muxer's sender reports: not needed
    rtp.on('message', (msg) => {
      if (this.closed) return;
      let p: RtpPacket;
      try {
        p = RtpPacket.deSerialize(msg);
      } catch {
        return;
      }
      const { ssrc, sequenceNumber, timestamp, marker } = p.header;
      this.opts.onPacket({ ssrc, sequenceNumber, timestamp, marker, payload: p.payload });
    });
    this.sockets = [rtp, rtcp];
    const child = spawn(this.opts.ffmpegPath || 'ffmpeg', opusEncoderArgs(port, this.opts.kbps), { stdio: ['pipe', 'ignore', 'pipe'] });
    this.child = child;
    child.stdin?.on('error', () => undefined);
    child.on('error', (err) => this.opts.log.warn({ err: String(err) }, 'preview sound encoder could not run'));
    child.stderr?.setEncoding('utf8');
    let logged = 0;
    child.stderr?.on('data', (s: string) => {
      if (logged++ < 10) this.opts.log.warn({ ffmpeg: s.trim().slice(0, 300) }, 'preview sound encoder');
    });
    child.on('close', (code, signal) => {
      if (!this.closed) this.opts.log.warn({ code, signal }, 'preview sound encoder exited');
    });
  }

  /** One tick of the group's PCM (dropped when the encoder is behind). */
  write(pcm: Buffer): void {
    const stdin = this.child?.stdin;
    if (this.closed || !stdin || stdin.destroyed) return;
    if (stdin.writableLength > MAX_QUEUED_BYTES) {
      this.dropped += 1;
      return;
    }
    stdin.write(Buffer.from(pcm));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('close', () => r()));
      child.stdin?.end();
      const t = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(t);
    }
    for (const s of this.sockets) s.close();
    this.sockets = [];
  }
}
