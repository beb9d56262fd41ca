/**
 * An RTMP(S) publishing client: TCP or TLS, handshake, connect/createStream/publish, then audio,
 * video and data messages from FLV tags. Everything the network sends is parsed defensively: a
 * malformed or hostile peer closes the session with an RtmpError, never throws out of an event
 * handler. The socket policy lives here and only here: a timeout for each phase (connect,
 * handshake, each command), the bound on queued output and the stall rule while publishing.
 */
import { EventEmitter } from 'node:events';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { FlvTag } from '../flv/tag.js';
import { decodeAmf0, type Amf0Value } from './amf0.js';
import { ChunkParser, ChunkWriter, MessageType, type RtmpMessage } from './chunk.js';
import { classifySocketError, publishStatusOutcome, RtmpError } from './errors.js';
import { createC0C1, createC2, parseServerHandshake } from './handshake.js';
import {
  acknowledgement,
  connectCommand,
  createStreamCommand,
  deleteStreamCommand,
  fcPublishCommand,
  fcUnpublishCommand,
  onMetaDataBody,
  pingResponse,
  publishCommand,
  readSetPeerBandwidth,
  readU32Control,
  readUserControl,
  releaseStreamCommand,
  setChunkSize,
  setDataFrame,
  tagMessage,
  UserControlEvent,
  windowAckSize,
} from './messages.js';
import { redactStreamName, type RtmpTarget } from './url.js';

export { RtmpError } from './errors.js';

/** How long each phase may take and how much output may queue: the socket policy of a session. */
export interface PublisherPolicy {
  /** TCP (and TLS) connection, ms. Default 10000. */
  connectTimeoutMs: number;
  /** RTMP handshake, ms. Default 10000. */
  handshakeTimeoutMs: number;
  /** Each command's answer (connect, createStream, publish), ms. Default 10000. */
  publishTimeoutMs: number;
  /**
   * While publishing: how long output may stay stalled (queued without progress, or above
   * maxBufferedBytes) before the session fails with TIMEOUT, ms. Default 30000.
   */
  stallTimeoutMs: number;
  /** Above this many bytes queued on the socket the session is backed up: sendTag refuses tags. Default 4 MiB. */
  maxBufferedBytes: number;
}

export const DEFAULT_PUBLISHER_POLICY: Readonly<PublisherPolicy> = {
  connectTimeoutMs: 10_000,
  handshakeTimeoutMs: 10_000,
  publishTimeoutMs: 10_000,
  stallTimeoutMs: 30_000,
  maxBufferedBytes: 4 * 1024 * 1024,
};

export interface PublisherOptions extends Partial<PublisherPolicy> {
  tls?: { ca?: string | Buffer; rejectUnauthorized?: boolean };
  flashVer?: string;
  /**
   * Resolves (and checks) the address to connect to; the connection goes to exactly that address,
   * with the target's host as TLS server name. A rejection fails the session (code
   * DESTINATION_REFUSED, not retryable, when the destination policy refused it). Default: the
   * system resolver, at connect.
   */
  resolveAddress?: (host: string, port: number) => Promise<{ address: string }>;
}

export interface RtmpPublisherEvents {
  /** The session ended: null after close(), else why it failed. Emitted once. */
  close: [error: RtmpError | null];
}

/**
 * The stall rule's test of one sample of the socket: output is stalled while bytes are queued and
 * either none left the queue since the last sample or more than `maxBufferedBytes` are queued.
 * A session stalled for stallTimeoutMs in a row fails.
 */
export function isStalled(queuedBytes: number, progressed: boolean, maxBufferedBytes: number): boolean {
  if (queuedBytes === 0) return false;
  return !progressed || queuedBytes > maxBufferedBytes;
}

type Phase = 'idle' | 'connecting' | 'handshake' | 'commands' | 'publishing' | 'closing' | 'closed';

const OUT_CHUNK_SIZE = 4096;
const CLIENT_WINDOW_ACK_SIZE = 2_500_000;
const MAX_INCOMING_MESSAGE = 1024 * 1024;
const MAX_HANDSHAKE_BUFFER = 64 * 1024;
const CLOSE_GRACE_MS = 2000;

interface PendingCall {
  resolve: (args: Amf0Value[]) => void;
  reject: (err: RtmpError) => void;
}

function asRecord(v: Amf0Value | undefined): Record<string, Amf0Value> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date) ? v : {};
}

export class RtmpPublisher extends EventEmitter<RtmpPublisherEvents> {
  private readonly policy: PublisherPolicy;
  private readonly tls: PublisherOptions['tls'];
  private readonly resolveAddress: PublisherOptions['resolveAddress'];
  private readonly flashVer: string;
  private readonly where: string;
  private phase: Phase = 'idle';
  private socket: Socket | TLSSocket | undefined;
  private readonly writer = new ChunkWriter();
  private readonly parser = new ChunkParser({ maxMessageSize: MAX_INCOMING_MESSAGE });
  private handshakeBuf: Buffer = Buffer.alloc(0);
  private sent = 0;
  private received = 0;
  private lastAcked = 0;
  private windowAckSize = 0;
  private sentWindowAck = false;
  private nextTxn = 1;
  private readonly calls = new Map<number, PendingCall>();
  private statusWaiter: PendingCall | undefined;
  private streamId = 0;
  private phaseTimer: NodeJS.Timeout | undefined;
  private stallTimer: NodeJS.Timeout | undefined;
  private lastDispatched = 0;
  private stallSince = 0;
  private connectSettle: { resolve: () => void; reject: (e: RtmpError) => void } | undefined;
  private closePromise: Promise<void> | undefined;
  private closedEmitted = false;

  constructor(
    private readonly target: RtmpTarget,
    options: PublisherOptions = {},
  ) {
    super();
    const { tls, flashVer, resolveAddress, ...policy } = options;
    this.resolveAddress = resolveAddress;
    this.policy = { ...DEFAULT_PUBLISHER_POLICY };
    for (const [k, v] of Object.entries(policy) as Array<[keyof PublisherPolicy, number | undefined]>) {
      if (v !== undefined) this.policy[k] = v;
    }
    this.tls = tls;
    this.flashVer = flashVer ?? 'FMLE/3.0 (compatible; Callcast)';
    this.where = target.redacted;
  }

  get bytesSent(): number {
    return this.sent;
  }

  /** close() was called or the session ended; it sends nothing more. */
  get closed(): boolean {
    return this.phase === 'closing' || this.phase === 'closed';
  }

  /** Bytes queued on the socket, not yet handed to the kernel. */
  bufferedBytes(): number {
    return this.socket?.writableLength ?? 0;
  }

  /** More than maxBufferedBytes are queued: sendTag refuses tags until the socket drains. */
  get backedUp(): boolean {
    return this.bufferedBytes() > this.policy.maxBufferedBytes;
  }

  /** Resolves once the server answered NetStream.Publish.Start. */
  connect(): Promise<void> {
    if (this.phase !== 'idle') return Promise.reject(new RtmpError('STATE', 'connect() may only be called once'));
    this.phase = 'connecting';
    const done = new Promise<void>((resolve, reject) => {
      this.connectSettle = { resolve, reject };
    });
    try {
      this.openSocket();
    } catch (err) {
      this.fail(new RtmpError('NETWORK', `cannot connect to ${this.where}: ${(err as Error).message}`, { cause: err }));
    }
    return done;
  }

  /** Sends "@setDataFrame", "onMetaData" and the properties (an AMF0 ECMA array), as sendTag sends a script tag. */
  sendMetadata(meta: Record<string, unknown>, timestamp = 0): boolean {
    if (this.phase !== 'publishing' || this.backedUp) return false;
    this.send(setDataFrame(this.streamId, Math.max(0, Math.floor(timestamp)), onMetaDataBody(meta)));
    return true;
  }

  /**
   * Sends one FLV tag at `timestamp` (ms): audio and video as such, a script tag (onMetaData) as
   * "@setDataFrame" data. False when the session is not publishing or is backed up (the tag is
   * not sent).
   */
  sendTag(tag: FlvTag, timestamp: number): boolean {
    if (this.phase !== 'publishing' || this.backedUp) return false;
    this.send(tagMessage(this.streamId, tag, timestamp));
    return true;
  }

  /** FCUnpublish, deleteStream, end of the connection. Bounded in time; idempotent. */
  close(): Promise<void> {
    if (this.closePromise) return this.closePromise;
    this.closePromise = this.doClose();
    return this.closePromise;
  }

  private async doClose(): Promise<void> {
    const wasPublishing = this.phase === 'publishing';
    if (this.phase === 'closed') return;
    this.phase = 'closing';
    this.clearTimers();
    this.rejectPending(new RtmpError('CLOSED', `publishing session to ${this.where} closed before it was established`));
    const socket = this.socket;
    if (socket && !socket.destroyed) {
      if (wasPublishing) {
        this.send(fcUnpublishCommand(this.target.streamName));
        this.send(deleteStreamCommand(this.streamId));
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          socket.destroy();
          resolve();
        }, CLOSE_GRACE_MS);
        socket.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
        if (wasPublishing) socket.end();
        else socket.destroy();
      });
    }
    this.finish(null);
  }

  // --- connection --------------------------------------------------------------------------

  private openSocket(): void {
    const resolve = this.resolveAddress;
    if (!resolve) {
      this.openSocketTo(this.target.host);
      return;
    }
    this.armPhaseTimer(
      this.policy.connectTimeoutMs,
      () => `connecting to ${this.where} timed out after ${this.policy.connectTimeoutMs} ms`,
    );
    resolve(this.target.host, this.target.port).then(
      ({ address }) =>
        this.guard(() => {
          if (this.phase === 'connecting') this.openSocketTo(address);
        }),
      (err: unknown) =>
        this.guard(() => {
          if ((err as { code?: unknown }).code === 'DESTINATION_REFUSED') {
            this.fail(new RtmpError('DESTINATION_REFUSED', this.redact(err instanceof Error ? err.message : String(err)), { cause: err }));
            return;
          }
          this.fail(
            classifySocketError(err as NodeJS.ErrnoException, {
              where: this.where,
              host: this.target.host,
              secure: this.target.secure,
              connecting: true,
              tcpConnected: false,
              redact: (text) => this.redact(text),
            }),
          );
        }),
    );
  }

  /** Connects to `address`: the target's host, or the address resolved (and checked) for it. */
  private openSocketTo(address: string): void {
    const { host, port, secure } = this.target;
    let tcpConnected = false;
    let socket: Socket | TLSSocket;
    if (secure) {
      socket = tlsConnect({
        host: address,
        port,
        ...(isIP(host) === 0 ? { servername: host } : {}),
        ...(this.tls?.ca !== undefined ? { ca: this.tls.ca } : {}),
        rejectUnauthorized: this.tls?.rejectUnauthorized ?? true,
      });
      socket.once('secureConnect', () => this.guard(() => this.onConnected()));
    } else {
      socket = netConnect({ host: address, port });
      socket.once('connect', () => this.guard(() => this.onConnected()));
    }
    this.socket = socket;
    socket.once('connect', () => {
      tcpConnected = true;
    });
    socket.setNoDelay(true);
    socket.on('error', (err: NodeJS.ErrnoException) =>
      this.guard(() =>
        this.fail(
          classifySocketError(err, {
            where: this.where,
            host: this.target.host,
            secure: this.target.secure,
            connecting: this.phase === 'connecting',
            tcpConnected,
            redact: (text) => this.redact(text),
          }),
        ),
      ),
    );
    socket.on('data', (data: Buffer) => this.guard(() => this.onData(data)));
    socket.on('end', () => this.guard(() => this.onRemoteClosed()));
    socket.on('close', () => this.guard(() => this.onRemoteClosed()));
    socket.on('drain', () => {
      this.stallSince = Date.now();
    });
    this.armPhaseTimer(
      this.policy.connectTimeoutMs,
      () => `connecting to ${this.where} timed out after ${this.policy.connectTimeoutMs} ms`,
    );
  }

  private onConnected(): void {
    if (this.phase !== 'connecting') return;
    this.phase = 'handshake';
    this.socket?.setKeepAlive(true, 10_000);
    this.armPhaseTimer(
      this.policy.handshakeTimeoutMs,
      () => `no RTMP handshake from ${this.where} within ${this.policy.handshakeTimeoutMs} ms`,
    );
    this.write(createC0C1(Date.now() & 0x7fffffff));
  }

  private onRemoteClosed(): void {
    switch (this.phase) {
      case 'closing':
      case 'closed':
        return;
      case 'connecting':
        this.fail(new RtmpError('CLOSED', `connection to ${this.where} closed while connecting`));
        return;
      case 'handshake':
        this.fail(new RtmpError('CLOSED', `${this.where} closed the connection during the RTMP handshake`));
        return;
      case 'commands':
        if (this.statusWaiter) {
          this.fail(new RtmpError('REJECTED', `${this.where} closed the connection in answer to publish (stream key refused?)`));
        } else {
          this.fail(new RtmpError('CLOSED', `${this.where} closed the connection before accepting the session (application refused?)`));
        }
        return;
      default:
        this.fail(new RtmpError('CLOSED', `${this.where} closed the connection`));
    }
  }

  // --- incoming ------------------------------------------------------------------------------

  private onData(data: Buffer): void {
    if (this.phase === 'closed' || this.phase === 'connecting') return;
    this.received += data.length;
    if (this.phase === 'handshake') {
      this.handshakeBuf = Buffer.concat([this.handshakeBuf, data]);
      if (this.handshakeBuf.length > MAX_HANDSHAKE_BUFFER) {
        throw new RtmpError('PROTOCOL', `${this.where} sent too much data during the handshake`);
      }
      let hs: ReturnType<typeof parseServerHandshake>;
      try {
        hs = parseServerHandshake(this.handshakeBuf);
      } catch (err) {
        throw new RtmpError('PROTOCOL', `invalid RTMP handshake from ${this.where}: ${(err as Error).message}`, { cause: err });
      }
      if (!hs) return;
      const rest = this.handshakeBuf.subarray(hs.consumed);
      this.handshakeBuf = Buffer.alloc(0);
      this.write(createC2(hs.s1));
      this.startSession();
      if (rest.length > 0) this.onChunks(Buffer.from(rest));
      return;
    }
    this.onChunks(data);
  }

  private onChunks(data: Buffer): void {
    let messages: RtmpMessage[];
    try {
      messages = this.parser.push(data);
    } catch (err) {
      throw new RtmpError('PROTOCOL', `invalid RTMP chunk stream from ${this.where}: ${(err as Error).message}`, { cause: err });
    }
    for (const m of messages) {
      if (this.phase === 'closed' || this.phase === 'closing') return;
      this.onMessage(m);
    }
    this.maybeAcknowledge();
  }

  private maybeAcknowledge(): void {
    if (this.windowAckSize > 0 && this.received - this.lastAcked >= this.windowAckSize) {
      this.lastAcked = this.received;
      this.send(acknowledgement(this.received));
    }
  }

  private onMessage(m: RtmpMessage): void {
    const p = m.payload;
    switch (m.typeId) {
      case MessageType.SetChunkSize:
      case MessageType.Abort:
      case MessageType.Acknowledgement:
        return; // chunk size and abort are applied by the parser
      case MessageType.WindowAckSize:
        this.windowAckSize = this.control(() => readU32Control(p, 'Window Acknowledgement Size'));
        return;
      case MessageType.SetPeerBandwidth:
        this.control(() => readSetPeerBandwidth(p));
        if (!this.sentWindowAck) {
          this.sentWindowAck = true;
          this.send(windowAckSize(CLIENT_WINDOW_ACK_SIZE));
        }
        return;
      case MessageType.UserControl: {
        const { event, value } = this.control(() => readUserControl(p));
        if (event === UserControlEvent.PingRequest) this.send(pingResponse(value ?? 0));
        return;
      }
      case MessageType.CommandAmf0:
      case MessageType.CommandAmf3: {
        // AMF3 commands start with a format byte, then AMF0 values.
        const body = m.typeId === MessageType.CommandAmf3 ? p.subarray(1) : p;
        let values: Amf0Value[];
        try {
          values = decodeAmf0(body);
        } catch (err) {
          throw new RtmpError('PROTOCOL', `invalid AMF0 command from ${this.where}: ${(err as Error).message}`, { cause: err });
        }
        this.onCommand(values);
        return;
      }
      default:
        return; // data, audio, video, shared objects: not expected by a publisher, ignored
    }
  }

  private onCommand(values: Amf0Value[]): void {
    const [name, txn] = values;
    if (typeof name !== 'string') throw new RtmpError('PROTOCOL', `command from ${this.where} without a name`);
    if (name === '_result' || name === '_error') {
      if (typeof txn !== 'number') throw new RtmpError('PROTOCOL', `${name} without a transaction id`);
      const call = this.calls.get(txn);
      if (!call) return; // answers to releaseStream/FCPublish and the like
      this.calls.delete(txn);
      if (name === '_result') call.resolve(values);
      else {
        const info = asRecord(values[3]);
        call.reject(new RtmpError('REJECTED', `${this.where} refused: ${this.describeStatus(info)}`));
      }
      return;
    }
    if (name === 'onStatus') {
      const info = asRecord(values[3]);
      const code = typeof info['code'] === 'string' ? info['code'] : '';
      const level = typeof info['level'] === 'string' ? info['level'] : '';
      if (this.statusWaiter) {
        const outcome = publishStatusOutcome(code, level);
        if (outcome === null) return;
        const w = this.statusWaiter;
        this.statusWaiter = undefined;
        if (outcome === 'started') w.resolve(values);
        else w.reject(new RtmpError(outcome, `${this.where} refused to publish: ${this.describeStatus(info)}`));
        return;
      }
      if (this.phase === 'publishing' && level === 'error') {
        this.fail(new RtmpError('REJECTED', `${this.where} stopped the stream: ${this.describeStatus(info)}`));
      }
      return;
    }
    // onBWDone, onFCPublish, onFCUnpublish, _checkbw, ...: nothing to do.
  }

  private describeStatus(info: Record<string, Amf0Value>): string {
    const code = typeof info['code'] === 'string' ? info['code'] : 'unknown status';
    const desc = typeof info['description'] === 'string' ? info['description'].slice(0, 200) : '';
    return this.redact(desc ? `${code} (${desc})` : code);
  }

  // --- session ---------------------------------------------------------------------------------

  private startSession(): void {
    this.phase = 'commands';
    this.clearPhaseTimer();
    this.send(setChunkSize(OUT_CHUNK_SIZE));
    this.writer.setChunkSize(OUT_CHUNK_SIZE);
    void this.negotiate().then(
      () => {
        if (this.phase !== 'commands') return;
        this.phase = 'publishing';
        this.clearPhaseTimer();
        this.startStallWatch();
        const settle = this.connectSettle;
        this.connectSettle = undefined;
        settle?.resolve();
      },
      (err: unknown) => {
        this.fail(err instanceof RtmpError ? err : new RtmpError('PROTOCOL', this.redact(String(err)), { cause: err }));
      },
    );
  }

  private async negotiate(): Promise<void> {
    const { app, tcUrl, streamName } = this.target;
    await this.call((txn) => connectCommand(txn, { app, tcUrl, flashVer: this.flashVer }), 'connect');
    this.send(releaseStreamCommand(this.nextTxn++, streamName));
    this.send(fcPublishCommand(this.nextTxn++, streamName));
    const created = await this.call((txn) => createStreamCommand(txn), 'createStream');
    const id = created[3];
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 0xffffffff) {
      throw new RtmpError('PROTOCOL', `${this.where} answered createStream without a valid stream id`);
    }
    this.streamId = id;
    const published = new Promise<Amf0Value[]>((resolve, reject) => {
      this.statusWaiter = { resolve, reject };
    });
    this.send(publishCommand(this.streamId, this.nextTxn++, streamName));
    this.armPhaseTimer(
      this.policy.publishTimeoutMs,
      () => `no answer to publish from ${this.where} within ${this.policy.publishTimeoutMs} ms`,
    );
    await published;
  }

  /** Sends a command (built for its transaction id) and waits for its _result (or _error) within publishTimeoutMs. */
  private call(build: (transactionId: number) => RtmpMessage, what: string): Promise<Amf0Value[]> {
    const txn = this.nextTxn++;
    const result = new Promise<Amf0Value[]>((resolve, reject) => {
      this.calls.set(txn, { resolve, reject });
    });
    this.send(build(txn));
    this.armPhaseTimer(
      this.policy.publishTimeoutMs,
      () => `no answer to ${what} from ${this.where} within ${this.policy.publishTimeoutMs} ms`,
    );
    return result;
  }

  /** Reads a control message; a malformed one closes the session with PROTOCOL. */
  private control<T>(read: () => T): T {
    try {
      return read();
    } catch (err) {
      throw new RtmpError('PROTOCOL', `invalid control message from ${this.where}: ${(err as Error).message}`, { cause: err });
    }
  }

  // --- output ------------------------------------------------------------------------------------

  private send(message: RtmpMessage): void {
    const socket = this.socket;
    if (!socket || socket.destroyed || !socket.writable) return;
    const chunks = this.writer.write(message);
    socket.cork();
    for (const c of chunks) {
      this.sent += c.length;
      socket.write(c);
    }
    socket.uncork();
  }

  private write(b: Buffer): void {
    const socket = this.socket;
    if (!socket || socket.destroyed || !socket.writable) return;
    this.sent += b.length;
    socket.write(b);
  }

  // --- timers, failure ---------------------------------------------------------------------------

  private armPhaseTimer(ms: number, message: () => string): void {
    this.clearPhaseTimer();
    this.phaseTimer = setTimeout(() => this.guard(() => this.fail(new RtmpError('TIMEOUT', message()))), ms);
  }

  private clearPhaseTimer(): void {
    if (this.phaseTimer) clearTimeout(this.phaseTimer);
    this.phaseTimer = undefined;
  }

  /**
   * While publishing, the stall rule: the session fails with TIMEOUT once its output has been
   * stalled for stallTimeoutMs, stalled meaning queued without reaching the kernel, or queued
   * above maxBufferedBytes (the server reads, but too slowly for the stream).
   */
  private startStallWatch(): void {
    this.stallSince = Date.now();
    const every = Math.max(50, Math.min(1000, Math.floor(this.policy.stallTimeoutMs / 4)));
    this.stallTimer = setInterval(() => this.guard(() => this.checkStall()), every);
    this.stallTimer.unref();
  }

  private checkStall(): void {
    const socket = this.socket;
    if (this.phase !== 'publishing' || !socket) return;
    const queued = socket.writableLength;
    // bytesWritten counts queued bytes too: what left the queue is the difference.
    const dispatched = socket.bytesWritten - queued;
    const progressed = dispatched !== this.lastDispatched;
    this.lastDispatched = dispatched;
    const now = Date.now();
    if (!isStalled(queued, progressed, this.policy.maxBufferedBytes)) {
      this.stallSince = now;
      return;
    }
    if (now - this.stallSince >= this.policy.stallTimeoutMs) {
      const how = progressed ? `read too slowly (${queued} bytes queued)` : 'stopped reading';
      this.fail(new RtmpError('TIMEOUT', `${this.where} ${how} for ${this.policy.stallTimeoutMs} ms`));
    }
  }

  private clearTimers(): void {
    this.clearPhaseTimer();
    if (this.stallTimer) clearInterval(this.stallTimer);
    this.stallTimer = undefined;
  }

  private rejectPending(err: RtmpError): void {
    for (const c of this.calls.values()) c.reject(err);
    this.calls.clear();
    const w = this.statusWaiter;
    this.statusWaiter = undefined;
    w?.reject(err);
    const settle = this.connectSettle;
    this.connectSettle = undefined;
    settle?.reject(err);
  }

  /** Ends the session with an error: rejects connect() if pending, emits 'close' once. */
  private fail(err: RtmpError): void {
    if (this.phase === 'closed') return;
    const closing = this.phase === 'closing';
    this.phase = 'closed';
    this.clearTimers();
    this.rejectPending(err);
    this.socket?.destroy();
    if (!closing) this.finish(err);
  }

  private finish(err: RtmpError | null): void {
    this.phase = 'closed';
    this.clearTimers();
    if (this.closedEmitted) return;
    this.closedEmitted = true;
    // 'close' listeners must not be able to break the socket handlers that got us here.
    try {
      this.emit('close', err);
    } catch {
      /* a listener threw; nothing more to do */
    }
  }

  /** Runs a network event handler: anything it throws closes the session instead of escaping. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.fail(
        err instanceof RtmpError
          ? err
          : new RtmpError(
              'PROTOCOL',
              `internal error handling data from ${this.where}: ${this.redact((err as Error)?.message ?? String(err))}`,
              { cause: err },
            ),
      );
    }
  }

  private redact(text: string): string {
    return redactStreamName(this.target, text);
  }
}
