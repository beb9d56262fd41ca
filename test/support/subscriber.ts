/**
 * A Node WHEP subscriber for tests: a werift peer POSTs a recvonly offer (VP8 and Opus, with
 * payload types other than the publishers' so that the rewrite shows), receives RTP and decodes it
 * with the media plane's own pieces (an RtpProcess with the track decoders' output arguments for
 * video, an AudioTrackDecoder for audio). Everything listens on 127.0.0.1.
 *
 * Run as a script (`node --import tsx test/support/subscriber.ts URL TOKEN`) it subscribes without
 * decoding and prints its resource URL: a separate process a test can freeze (SIGSTOP) to have a
 * subscriber that stops reading.
 */
import { pathToFileURL } from 'node:url';
import {
  GenericNack,
  type MediaStreamTrack,
  RtcpTransportLayerFeedback,
  type RTCPeerConnection,
  RTCRtpCodecParameters,
  useNACK,
  usePLI,
  useSdesMid,
  type RTCRtpReceiver,
  type RtpPacket,
} from 'werift';
import { i420Bytes } from '../../src/render/i420-frame.js';
import { silentLogger } from '../../src/log.js';
import { FixedSizeReader, RtpProcess, type RtpCodec } from '../../src/media/rtp-process.js';
import { AudioTrackDecoder, videoOutputArgs } from '../../src/media/track-decoder.js';
import { vp8KeyframeSize } from '../../src/media/video-size.js';
import { exchangeOffer, loopbackOffer, loopbackPeer } from './loopback-peer.js';

export interface SubscriberOptions {
  /** the WHEP endpoint URL */
  url: string;
  token?: string;
  video?: boolean;
  audio?: boolean;
  /** decode what arrives (default true) */
  decode?: boolean;
  /** size video is decoded to (default 64x36) */
  size?: { width: number; height: number };
  videoPayloadType?: number;
  audioPayloadType?: number;
  /** how long ICE and DTLS may take (default 30 s) */
  connectTimeoutMs?: number;
}

export interface SubscriberStats {
  startedAt: number;
  connectedAt: number | undefined;
  packets: { audio: number; video: number };
  firstVideoPacketAt: number | undefined;
  firstKeyframeAt: number | undefined;
  firstFrameAt: number | undefined;
  /** decoded video frames */
  frames: number;
  /** decoded 10 ms audio chunks */
  audioChunks: number;
}

/** Decoded audio kept, in 10 ms chunks (2 s). */
const PCM_KEPT = 200;

export class TestSubscriber {
  location: string | undefined;
  answer: string | undefined;
  readonly stats: SubscriberStats;
  /** the last decoded picture (I420 at `size`) */
  latestFrame: Buffer | undefined;
  readonly size: { width: number; height: number };
  /** resolves with the connection state once it is closed or failed */
  readonly ended: Promise<string>;
  private pcm: Buffer[] = [];
  private video: RtpProcess | undefined;
  private videoStarting: Promise<void> | undefined;
  private pending: Buffer[] = [];
  private audio: AudioTrackDecoder | undefined;
  private closed = false;
  private decoding: boolean;
  private videoReceiver: RTCRtpReceiver | undefined;
  private videoSsrc: number | undefined;
  /** how often each recent video sequence number arrived (the last 1000) */
  readonly videoArrivals = new Map<number, number>();
  /** recent video sequence numbers, in arrival order */
  readonly recentVideoSequence: number[] = [];

  private constructor(
    readonly pc: RTCPeerConnection,
    readonly options: SubscriberOptions,
  ) {
    this.size = options.size ?? { width: 64, height: 36 };
    this.decoding = options.decode !== false;
    this.stats = {
      startedAt: Date.now(),
      connectedAt: undefined,
      packets: { audio: 0, video: 0 },
      firstVideoPacketAt: undefined,
      firstKeyframeAt: undefined,
      firstFrameAt: undefined,
      frames: 0,
      audioChunks: 0,
    };
    this.ended = new Promise((resolve) => {
      pc.connectionStateChange.subscribe((s) => {
        if (s === 'connected') this.stats.connectedAt ??= Date.now();
        if (s === 'closed' || s === 'failed') resolve(s);
      });
    });
  }

  /** Creates the peer and its recvonly offer (not yet sent). */
  static async prepare(options: SubscriberOptions): Promise<{ subscriber: TestSubscriber; offer: string }> {
    const videoPt = options.videoPayloadType ?? 98;
    const audioPt = options.audioPayloadType ?? 109;
    const pc = loopbackPeer({
      codecs: {
        video: [
          new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000, payloadType: videoPt, rtcpFeedback: [useNACK(), usePLI()] }),
        ],
        audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: audioPt })],
      },
      headerExtensions: { video: [useSdesMid()], audio: [useSdesMid()] },
      bundlePolicy: 'max-bundle',
    });
    const subscriber = new TestSubscriber(pc, options);
    if (options.video !== false) pc.addTransceiver('video', { direction: 'recvonly' });
    if (options.audio !== false) pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.ontrack = ({ track, transceiver, receiver }) => {
      if (track.kind === 'video') subscriber.videoReceiver = receiver;
      const c = transceiver.codecs[0];
      if (!c) return;
      const codec: RtpCodec = {
        payloadType: c.payloadType,
        name: c.mimeType.split('/')[1]!,
        clockRate: c.clockRate,
        ...(c.channels ? { channels: c.channels } : {}),
        ...(c.parameters ? { fmtp: c.parameters } : {}),
      };
      track.onReceiveRtp.subscribe((packet: RtpPacket) => subscriber.onPacket(track, codec, packet));
    };
    const offer = await loopbackOffer(pc);
    return { subscriber, offer };
  }

  /** Subscribes and waits until connected. Throws with the response when not 201. */
  static async start(options: SubscriberOptions): Promise<TestSubscriber> {
    const { subscriber, offer } = await TestSubscriber.prepare(options);
    try {
      const { location, answer } = await exchangeOffer(subscriber.pc, {
        url: options.url,
        offer,
        ...(options.token ? { token: options.token } : {}),
        who: 'WHEP subscriber',
        connectTimeoutMs: options.connectTimeoutMs ?? 30_000,
      });
      subscriber.location = location;
      subscriber.answer = answer;
      return subscriber;
    } catch (err) {
      await subscriber.close();
      throw err;
    }
  }

  private onPacket(track: MediaStreamTrack, codec: RtpCodec, packet: RtpPacket): void {
    if (this.closed) return;
    const now = Date.now();
    if (track.kind === 'video') {
      this.stats.packets.video += 1;
      this.stats.firstVideoPacketAt ??= now;
      const seq = packet.header.sequenceNumber;
      this.videoSsrc = packet.header.ssrc;
      this.videoArrivals.set(seq, (this.videoArrivals.get(seq) ?? 0) + 1);
      this.recentVideoSequence.push(seq);
      if (this.recentVideoSequence.length > 1000) this.videoArrivals.delete(this.recentVideoSequence.shift()!);
      if (this.stats.firstKeyframeAt === undefined && vp8KeyframeSize(packet.payload)) this.stats.firstKeyframeAt = now;
      if (!this.decoding) return;
      const bytes = packet.serialize();
      if (this.video) this.video.send(bytes);
      else {
        this.pending.push(bytes);
        this.videoStarting ??= this.startVideo(codec);
      }
    } else if (track.kind === 'audio') {
      this.stats.packets.audio += 1;
      if (!this.decoding) return;
      this.audio ??= new AudioTrackDecoder({
        codec,
        log: silentLogger,
        label: 'subscriber audio',
        onPcm: (pcm) => {
          this.stats.audioChunks += 1;
          this.pcm.push(Buffer.from(pcm));
          if (this.pcm.length > PCM_KEPT) this.pcm.shift();
        },
      });
      this.audio.feed(packet.serialize());
    }
  }

  private async startVideo(codec: RtpCodec): Promise<void> {
    const { width, height } = this.size;
    const proc = await RtpProcess.start({
      kind: 'video',
      codec,
      outputArgs: (targets) => videoOutputArgs([{ width, height }], targets),
      log: silentLogger,
      label: 'subscriber video',
    });
    if (this.closed || !this.decoding) {
      await proc.close();
      return;
    }
    const reader = new FixedSizeReader(i420Bytes(width, height), (record) => {
      this.stats.frames += 1;
      this.stats.firstFrameAt ??= Date.now();
      this.latestFrame = Buffer.from(record);
    });
    proc.onOutput(0, (chunk) => reader.push(chunk));
    await proc.whenListening();
    for (const p of this.pending) proc.send(p);
    this.pending = [];
    this.video = proc;
  }

  /** Stops decoding (the ffmpeg processes end); packets are still received and counted. */
  async stopDecoding(): Promise<void> {
    this.decoding = false;
    await this.videoStarting?.catch(() => undefined);
    const [video, audio] = [this.video, this.audio];
    this.video = undefined;
    this.audio = undefined;
    await Promise.all([video?.close(), audio?.close()]);
  }

  /** Sends an RTCP generic NACK for these video sequence numbers (as if they were lost). */
  async nackVideo(sequenceNumbers: number[]): Promise<void> {
    const r = this.videoReceiver;
    if (!r || this.videoSsrc === undefined) throw new Error('no video received yet');
    const nack = new GenericNack({ senderSsrc: r.rtcpSsrc, mediaSourceSsrc: this.videoSsrc, lost: sequenceNumbers });
    await r.dtlsTransport.sendRtcp([new RtcpTransportLayerFeedback({ feedback: nack })]);
  }

  /** The decoded audio of the last `ms` milliseconds (s16le 48 kHz stereo). */
  recentPcm(ms: number): Buffer {
    return Buffer.concat(this.pcm.slice(-Math.ceil(ms / 10)));
  }

  get connectionState(): string {
    return this.pc.connectionState;
  }

  /** WHEP DELETE of the resource. */
  async unsubscribe(): Promise<number> {
    if (!this.location) return 0;
    const res = await fetch(this.location, { method: 'DELETE', signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer();
    return res.status;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.videoStarting?.catch(() => undefined);
    await Promise.all([this.video?.close(), this.audio?.close()]);
    await Promise.race([this.pc.close().catch(() => undefined), new Promise((r) => setTimeout(r, 3000).unref())]);
  }
}

// As a script: subscribe without decoding, print the resource, stay until killed (at most 2 min).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [url, token] = process.argv.slice(2);
  setTimeout(() => process.exit(0), 120_000);
  TestSubscriber.start({ url: url!, ...(token ? { token } : {}), decode: false }).then(
    (s) => process.stdout.write(`${JSON.stringify({ location: s.location })}\n`),
    (err: unknown) => {
      process.stderr.write(`${String(err)}\n`);
      process.exit(1);
    },
  );
}
