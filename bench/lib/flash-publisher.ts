/**
 * A WHIP participant whose picture carries timing marks: black frames, and every `periodMs` a few
 * white frames (a "flash"). The time each flash frame is handed to the participant's encoder is
 * logged, so an observer downstream can tell how long the picture took to reach it. The frames
 * are made here, paced at 30 fps, encoded to VP8 by ffmpeg (real-time settings, no lag) and sent
 * over a werift peer connection on loopback.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { MediaStreamTrack, type RTCPeerConnection, RTCRtpCodecParameters, useNACK, usePLI, useSdesMid } from 'werift';
import { solidI420Frame } from '../../src/egress/frame-source.js';
import { exchangeOffer, loopbackOffer, loopbackPeer } from '../../test/support/loopback-peer.js';

export interface FlashPublisherOptions {
  url: string;
  token: string;
  width?: number;
  height?: number;
  /** Time between flashes, ms (default 1000). */
  periodMs?: number;
  /** Frames each flash lasts (default 3). */
  flashFrames?: number;
}

export class FlashPublisher {
  /** performance.now() when each flash's first frame went to the encoder. */
  readonly flashTimes: number[] = [];
  /** The WHIP session resource (Location of the answer). */
  location: string | undefined;
  private ffmpeg: ChildProcess | undefined;
  private socket: Socket | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(
    private readonly pc: RTCPeerConnection,
    private readonly opts: FlashPublisherOptions,
  ) {}

  static async start(opts: FlashPublisherOptions): Promise<FlashPublisher> {
    const pc = loopbackPeer({
      codecs: {
        video: [
          new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000, payloadType: 96, rtcpFeedback: [useNACK(), usePLI()] }),
        ],
        audio: [],
      },
      headerExtensions: { video: [useSdesMid()] },
    });
    const p = new FlashPublisher(pc, opts);
    try {
      const track = new MediaStreamTrack({ kind: 'video' });
      pc.addTransceiver(track, { direction: 'sendonly' });
      const { location } = await exchangeOffer(pc, {
        url: opts.url,
        offer: await loopbackOffer(pc),
        token: opts.token,
        who: 'flash participant',
        connectTimeoutMs: 15_000,
      });
      p.location = location;
      await p.startMedia(track);
      return p;
    } catch (err) {
      await p.close();
      throw err;
    }
  }

  private async startMedia(track: MediaStreamTrack): Promise<void> {
    const width = this.opts.width ?? 640;
    const height = this.opts.height ?? 360;
    const periodFrames = Math.max(4, Math.round((this.opts.periodMs ?? 1000) / (1000 / 30)));
    const flashFrames = this.opts.flashFrames ?? 3;
    const sock = createSocket('udp4');
    this.socket = sock;
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve()));
    sock.on('message', (msg) => {
      if (!this.closed) track.writeRtp(msg);
    });
    const port = sock.address().port;
    const ff = spawn(
      process.env.CALLCAST_FFMPEG || 'ffmpeg',
      [
        '-hide_banner',
        '-loglevel',
        'error',
        '-nostdin',
        '-f',
        'rawvideo',
        '-pix_fmt',
        'yuv420p',
        '-s',
        `${width}x${height}`,
        '-r',
        '30',
        '-i',
        'pipe:0',
        '-c:v',
        'libvpx',
        '-deadline',
        'realtime',
        '-cpu-used',
        '8',
        '-threads',
        '1',
        '-lag-in-frames',
        '0',
        '-auto-alt-ref',
        '0',
        '-error-resilient',
        '1',
        '-b:v',
        '600k',
        '-g',
        '60',
        '-keyint_min',
        '60',
        '-pix_fmt',
        'yuv420p',
        '-f',
        'rtp',
        '-payload_type',
        '96',
        `rtp://127.0.0.1:${port}?pkt_size=1200`,
      ],
      { stdio: ['pipe', 'ignore', 'pipe'] },
    );
    this.ffmpeg = ff;
    ff.stderr!.resume();
    ff.stdin!.on('error', () => undefined);
    const black = solidI420Frame(width, height, { r: 0, g: 0, b: 0 });
    const white = solidI420Frame(width, height, { r: 255, g: 255, b: 255 });
    const t0 = performance.now();
    let n = 0;
    const tick = () => {
      if (this.closed) return;
      // Catch up to the wall clock so that pacing drift does not pile up.
      const due = Math.floor((performance.now() - t0) / (1000 / 30)) + 1;
      while (n < due) {
        const phase = n % periodFrames;
        // The first flash comes after a settling second.
        const flash = n >= 30 && phase < flashFrames;
        if (flash && phase === 0) this.flashTimes.push(performance.now());
        ff.stdin!.write(flash ? white : black);
        n += 1;
      }
      this.timer = setTimeout(tick, Math.max(1, t0 + (n * 1000) / 30 - performance.now()));
    };
    tick();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    const ff = this.ffmpeg;
    if (ff && ff.exitCode === null && ff.signalCode === null) {
      const exited = new Promise((r) => ff.once('exit', r));
      ff.kill('SIGKILL');
      await exited;
    }
    this.socket?.close();
    await this.pc.close().catch(() => undefined);
  }
}
