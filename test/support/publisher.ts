/**
 * A Node WHIP publisher for tests: ffmpeg encodes a solid colour (VP8) and a sine tone (Opus) to
 * RTP on loopback; the packets are written into a werift peer connection's tracks, published with
 * a WHIP POST. Everything listens on 127.0.0.1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { MediaStreamTrack, type RTCPeerConnection, RTCRtpCodecParameters, useNACK, usePLI, useSdesMid } from 'werift';
import { exchangeOffer, loopbackOffer, loopbackPeer } from './loopback-peer.js';

export interface PublisherOptions {
  /** WHIP endpoint URL */
  url: string;
  token?: string;
  /** extra request headers (e.g. stream-auth-type) */
  headers?: Record<string, string>;
  /** ffmpeg colour name or 0xRRGGBB (default red) */
  color?: string;
  size?: { width: number; height: number };
  /** sine frequency in Hz (default 440) */
  toneHz?: number;
  video?: boolean;
  audio?: boolean;
  /** a lavfi video graph replacing the solid colour (e.g. a blinking pattern) */
  videoSource?: string;
  /** a lavfi audio graph replacing the sine */
  audioSource?: string;
  /** sine amplitude, 0..1 (ffmpeg's sine source is 1/8 of full scale at 1) */
  toneVolume?: number;
  /** RTP packets from elsewhere instead of an ffmpeg encoder (e.g. a recording replayed to many sessions) */
  rtpSource?: RtpSource;
}

/** Hands out RTP packets of one kind to a writer until detached. */
export interface RtpSource {
  attach(kind: 'video' | 'audio', write: (packet: Buffer) => void): () => void;
}

export { postOffer, type WhipResponse } from './loopback-peer.js';

/**
 * How a test publisher encodes its video: VP8 at 300 kbit/s, a keyframe a second, one encoder
 * thread (libvpx's worker threads cost several times the encode itself here).
 */
export const PUBLISHER_VIDEO_CODEC: readonly string[] = [
  ...['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-threads', '1'],
  ...['-b:v', '300k', '-g', '30', '-keyint_min', '30', '-pix_fmt', 'yuv420p'],
];

/** How a test publisher encodes its sound: Opus 64 kbit/s stereo at 48 kHz, after a volume change. */
export function publisherAudioCodec(volume = 2): string[] {
  return ['-af', `volume=${volume}`, '-c:a', 'libopus', '-b:a', '64k', '-ac', '2', '-ar', '48000'];
}

async function bindLoopback(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()));
  return s;
}

export class TestPublisher {
  location: string | undefined;
  answer: string | undefined;
  private ffmpeg: ChildProcess | undefined;
  private sockets: Socket[] = [];
  private detach: Array<() => void> = [];
  private closed = false;

  private constructor(
    readonly pc: RTCPeerConnection,
    readonly options: PublisherOptions,
  ) {}

  /** Creates the peer and an offer (not yet sent). */
  static async prepare(options: PublisherOptions): Promise<{ publisher: TestPublisher; offer: string }> {
    const pc = loopbackPeer({
      codecs: {
        video: [
          new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000, payloadType: 96, rtcpFeedback: [useNACK(), usePLI()] }),
        ],
        audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: 111 })],
      },
      headerExtensions: { video: [useSdesMid()], audio: [useSdesMid()] },
      // One transport for all tracks (werift leaves the sockets of unbundled transports open).
      bundlePolicy: 'max-bundle',
    });
    const publisher = new TestPublisher(pc, options);
    if (options.video !== false) pc.addTransceiver(new MediaStreamTrack({ kind: 'video' }), { direction: 'sendonly' });
    if (options.audio !== false) pc.addTransceiver(new MediaStreamTrack({ kind: 'audio' }), { direction: 'sendonly' });
    return { publisher, offer: await loopbackOffer(pc) };
  }

  /** Publishes over WHIP and starts sending media. Throws with the response when not 201. */
  static async start(options: PublisherOptions): Promise<TestPublisher> {
    const { publisher, offer } = await TestPublisher.prepare(options);
    try {
      const { location, answer } = await exchangeOffer(publisher.pc, {
        url: options.url,
        offer,
        ...(options.token ? { token: options.token } : {}),
        ...(options.headers ? { headers: options.headers } : {}),
        who: 'WHIP publisher',
        connectTimeoutMs: 15_000,
      });
      publisher.location = location;
      publisher.answer = answer;
      await publisher.startMedia();
      return publisher;
    } catch (err) {
      await publisher.close();
      throw err;
    }
  }

  private async startMedia(): Promise<void> {
    const o = this.options;
    if (o.rtpSource) {
      for (const transceiver of this.pc.getTransceivers()) {
        const track = transceiver.sender.track;
        if (!track || (track.kind !== 'video' && track.kind !== 'audio')) continue;
        this.detach.push(
          o.rtpSource.attach(track.kind, (packet) => {
            if (!this.closed) track.writeRtp(packet);
          }),
        );
      }
      return;
    }
    const args = ['-hide_banner', '-loglevel', 'error', '-nostdin'];
    const outputs: string[] = [];
    let input = 0;
    for (const transceiver of this.pc.getTransceivers()) {
      const track = transceiver.sender.track;
      if (!track) continue;
      const sock = await bindLoopback();
      this.sockets.push(sock);
      sock.on('message', (msg) => {
        if (!this.closed) track.writeRtp(msg);
      });
      const port = sock.address().port;
      if (track.kind === 'video') {
        const { width, height } = o.size ?? { width: 640, height: 360 };
        args.push('-re', '-f', 'lavfi', '-i', o.videoSource ?? `color=c=${o.color ?? 'red'}:size=${width}x${height}:rate=30`);
        outputs.push(
          '-map',
          `${input}:v`,
          ...PUBLISHER_VIDEO_CODEC,
          '-f',
          'rtp',
          '-payload_type',
          '96',
          `rtp://127.0.0.1:${port}?pkt_size=1200`,
        );
      } else {
        args.push('-re', '-f', 'lavfi', '-i', o.audioSource ?? `sine=frequency=${o.toneHz ?? 440}:sample_rate=48000`);
        const vol = o.toneVolume ?? 2;
        outputs.push(
          '-map',
          `${input}:a`,
          ...publisherAudioCodec(vol),
          '-f',
          'rtp',
          '-payload_type',
          '111',
          `rtp://127.0.0.1:${port}?pkt_size=1200`,
        );
      }
      input += 1;
    }
    if (input === 0) return;
    // -t bounds the run even if the test process dies without stopping it.
    this.ffmpeg = spawn(
      process.env.CALLCAST_FFMPEG || 'ffmpeg',
      [...args, ...outputs.flatMap((a) => (a.startsWith('rtp://') ? ['-t', '300', a] : [a]))],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.ffmpeg.stderr?.resume();
  }

  /** WHIP DELETE of the session resource. */
  async unpublish(): Promise<number> {
    if (!this.location) return 0;
    const res = await fetch(this.location, { method: 'DELETE', signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer();
    return res.status;
  }

  /** Stops sending anything without a DELETE or a close (a publisher whose machine went away). */
  async vanish(): Promise<void> {
    for (const d of this.detach.splice(0)) d();
    if (this.ffmpeg && this.ffmpeg.exitCode === null) {
      const exited = new Promise((r) => this.ffmpeg!.once('exit', r));
      this.ffmpeg.kill('SIGKILL');
      await exited;
    }
    this.ffmpeg = undefined;
    for (const s of this.sockets) s.close();
    this.sockets = [];
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const d of this.detach.splice(0)) d();
    if (this.ffmpeg && this.ffmpeg.exitCode === null) {
      const exited = new Promise((r) => this.ffmpeg!.once('exit', r));
      this.ffmpeg.kill('SIGKILL');
      await exited;
    }
    for (const s of this.sockets) s.close();
    // Bounded: a peer connection that is still negotiating may take long to close.
    await Promise.race([this.pc.close().catch(() => undefined), new Promise((r) => setTimeout(r, 3000).unref())]);
  }
}
