/**
 * An RTMP(S) publishing client: TCP or TLS, handshake, connect/createStream/publish, then audio,
 * video and data messages from FLV tags. Everything the network sends is parsed defensively: a
 * malformed or hostile peer closes the session with an RtmpError, never throws out of an event
 * handler, and every phase has a timeout.
 */
import { EventEmitter } from 'node:events';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { Amf0EcmaArray, decodeAmf0, encodeAmf0, type Amf0Value } from './amf0.js';
import { ChunkParser, ChunkWriter, MessageType, type RtmpMessage } from './chunk.js';
import type { FlvTag } from './flv.js';
import { createC0C1, createC2, parseServerHandshake } from './handshake.js';
import { describeTarget, type RtmpTarget } from './url.js';

export interface PublisherOptions {
  /** TCP (and TLS) connection, ms. Default 10000. */
  connectTimeoutMs?: number;
  /** RTMP handshake, ms. Default 10000. */
  handshakeTimeoutMs?: number;
  /** Each command's answer (connect, createStream, publish), ms. Default 10000. */
  publishTimeoutMs?: number;
  /** While publishing: how long queued output may make no progress before giving up, ms. Default 30000. */
  idleTimeoutMs?: number;
  tls?: { ca?: string | Buffer; rejectUnauthorized?: boolean };
  /** sendTag refuses tags while more than this is queued on the socket. Default 8 MiB. */
  maxBufferedBytes?: number;
  flashVer?: string;
}

/**
 * code: 'ECONNREFUSED' | 'DNS' | 'NETWORK' | other errno | 'TIMEOUT' | 'TLS' | 'PROTOCOL' |
 * 'REJECTED' | 'BADNAME' | 'CLOSED' | 'STATE'
 */
export class RtmpError extends Error {
  override readonly name = 'RtmpError';
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

type Phase = 'idle' | 'connecting' | 'handshake' | 'commands' | 'publishing' | 'closing' | 'closed';

const CSID_PROTOCOL = 2;
const CSID_COMMAND = 3;
const CSID_AUDIO = 4;
const CSID_DATA = 5;
const CSID_VIDEO = 6;
const CSID_STREAM_COMMAND = 8;

const OUT_CHUNK_SIZE = 4096;
const CLIENT_WINDOW_ACK_SIZE = 2_500_000;
const MAX_INCOMING_MESSAGE = 1024 * 1024;
const MAX_HANDSHAKE_BUFFER = 64 * 1024;
const CLOSE_GRACE_MS = 2000;

const UserControl = { StreamBegin: 0, PingRequest: 6, PingResponse: 7 } as const;

const TLS_ERROR_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_SIGNATURE_FAILURE', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'HOSTNAME_MISMATCH',
]);

interface PendingCall {
  resolve: (args: Amf0Value[]) => void;
  reject: (err: RtmpError) => void;
}

function asRecord(v: Amf0Value | undefined): Record<string, Amf0Value> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date) ? v : {};
}

export class RtmpPublisher extends EventEmitter {
  private readonly opts: Required<Omit<PublisherOptions, 'tls'>> & Pick<PublisherOptions, 'tls'>;
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
  private idleTimer: NodeJS.Timeout | undefined;
  private connectSettle: { resolve: () => void; reject: (e: RtmpError) => void } | undefined;
  private closePromise: Promise<void> | undefined;
  private closedEmitted = false;

  constructor(
    private readonly target: RtmpTarget,
    options: PublisherOptions = {},
  ) {
    super();
    this.opts = {
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 10_000,
      publishTimeoutMs: options.publishTimeoutMs ?? 10_000,
      idleTimeoutMs: options.idleTimeoutMs ?? 30_000,
      maxBufferedBytes: options.maxBufferedBytes ?? 8 * 1024 * 1024,
      flashVer: options.flashVer ?? 'FMLE/3.0 (compatible; Callcast)',
      tls: options.tls,
    };
    this.where = describeTarget(target);
  }

  get bytesSent(): number {
    return this.sent;
  }

  /** Bytes queued on the socket, not yet handed to the kernel. */
  bufferedBytes(): number {
    return this.socket?.writableLength ?? 0;
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

  /** Sends @setDataFrame onMetaData with the given properties (an AMF0 ECMA array). */
  sendMetadata(meta: Record<string, unknown>): void {
    if (this.phase !== 'publishing') return;
    const payload = encodeAmf0('@setDataFrame', 'onMetaData', new Amf0EcmaArray(meta));
    this.send(CSID_DATA, MessageType.DataAmf0, this.streamId, 0, payload);
  }

  /**
   * Sends one FLV tag as an audio, video or data message at `timestamp` (ms). False when the
   * session is not publishing or more than maxBufferedBytes are queued (the tag is not sent).
   */
  sendTag(tag: FlvTag, timestamp: number): boolean {
    if (this.phase !== 'publishing' || !this.socket) return false;
    if (this.socket.writableLength > this.opts.maxBufferedBytes) return false;
    const [csid, typeId] =
      tag.type === 'audio' ? [CSID_AUDIO, MessageType.Audio] : tag.type === 'video' ? [CSID_VIDEO, MessageType.Video] : [CSID_DATA, MessageType.DataAmf0];
    this.send(csid, typeId, this.streamId, Math.max(0, Math.floor(timestamp)), tag.data);
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
        this.sendCommand(CSID_COMMAND, 0, 'FCUnpublish', 0, null, this.target.streamName);
        this.sendCommand(CSID_COMMAND, 0, 'deleteStream', 0, null, this.streamId);
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
    const { host, port, secure } = this.target;
    let tcpConnected = false;
    let socket: Socket | TLSSocket;
    if (secure) {
      socket = tlsConnect({
        host,
        port,
        ...(isIP(host) === 0 ? { servername: host } : {}),
        ...(this.opts.tls?.ca !== undefined ? { ca: this.opts.tls.ca } : {}),
        rejectUnauthorized: this.opts.tls?.rejectUnauthorized ?? true,
      });
      socket.once('secureConnect', () => this.guard(() => this.onConnected()));
    } else {
      socket = netConnect({ host, port });
      socket.once('connect', () => this.guard(() => this.onConnected()));
    }
    this.socket = socket;
    socket.once('connect', () => {
      tcpConnected = true;
    });
    socket.setNoDelay(true);
    socket.on('error', (err: NodeJS.ErrnoException) => this.guard(() => this.fail(this.classifySocketError(err, tcpConnected))));
    socket.on('data', (data: Buffer) => this.guard(() => this.onData(data)));
    socket.on('end', () => this.guard(() => this.onRemoteClosed()));
    socket.on('close', () => this.guard(() => this.onRemoteClosed()));
    socket.on('drain', () => this.bumpIdle());
    this.armPhaseTimer(this.opts.connectTimeoutMs, () => `connecting to ${this.where} timed out after ${this.opts.connectTimeoutMs} ms`);
  }

  private classifySocketError(err: NodeJS.ErrnoException, tcpConnected: boolean): RtmpError {
    const code = typeof err.code === 'string' ? err.code : '';
    const text = this.redact(err.message);
    const isTlsCode = TLS_ERROR_CODES.has(code) || code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS');
    if (this.target.secure && (isTlsCode || (tcpConnected && this.phase === 'connecting'))) {
      return new RtmpError('TLS', `TLS connection to ${this.where} failed: ${text}`, { cause: err });
    }
    if (this.phase === 'connecting') {
      if (code === 'ECONNREFUSED') return new RtmpError('ECONNREFUSED', `connection to ${this.where} refused`, { cause: err });
      if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new RtmpError('DNS', `cannot resolve ${this.target.host}: ${text}`, { cause: err });
    }
    return new RtmpError(/^E[A-Z]+$/.test(code) ? code : 'NETWORK', `connection to ${this.where} failed: ${text}`, { cause: err });
  }

  private onConnected(): void {
    if (this.phase !== 'connecting') return;
    this.phase = 'handshake';
    this.socket?.setKeepAlive(true, 10_000);
    this.armPhaseTimer(this.opts.handshakeTimeoutMs, () => `no RTMP handshake from ${this.where} within ${this.opts.handshakeTimeoutMs} ms`);
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
      let hs;
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
      const b = Buffer.alloc(4);
      b.writeUInt32BE(this.received >>> 0);
      this.send(CSID_PROTOCOL, MessageType.Acknowledgement, 0, 0, b);
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
        if (p.length < 4) throw new RtmpError('PROTOCOL', 'Window Acknowledgement Size message too short');
        this.windowAckSize = p.readUInt32BE(0);
        return;
      case MessageType.SetPeerBandwidth:
        if (p.length < 4) throw new RtmpError('PROTOCOL', 'Set Peer Bandwidth message too short');
        if (!this.sentWindowAck) {
          this.sentWindowAck = true;
          const b = Buffer.alloc(4);
          b.writeUInt32BE(CLIENT_WINDOW_ACK_SIZE);
          this.send(CSID_PROTOCOL, MessageType.WindowAckSize, 0, 0, b);
        }
        return;
      case MessageType.UserControl: {
        if (p.length < 2) throw new RtmpError('PROTOCOL', 'User Control message too short');
        const event = p.readUInt16BE(0);
        if (event === UserControl.PingRequest) {
          if (p.length < 6) throw new RtmpError('PROTOCOL', 'PingRequest too short');
          const b = Buffer.alloc(6);
          b.writeUInt16BE(UserControl.PingResponse, 0);
          p.copy(b, 2, 2, 6);
          this.send(CSID_PROTOCOL, MessageType.UserControl, 0, 0, b);
        }
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
        if (code === 'NetStream.Publish.Start') {
          const w = this.statusWaiter;
          this.statusWaiter = undefined;
          w.resolve(values);
        } else if (level === 'error' || /BadName|Rejected|Failed|Denied/i.test(code)) {
          const w = this.statusWaiter;
          this.statusWaiter = undefined;
          w.reject(new RtmpError(/BadName/i.test(code) ? 'BADNAME' : 'REJECTED', `${this.where} refused to publish: ${this.describeStatus(info)}`));
        }
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
    const size = Buffer.alloc(4);
    size.writeUInt32BE(OUT_CHUNK_SIZE);
    this.send(CSID_PROTOCOL, MessageType.SetChunkSize, 0, 0, size);
    this.writer.setChunkSize(OUT_CHUNK_SIZE);
    void this.negotiate().then(
      () => {
        if (this.phase !== 'commands') return;
        this.phase = 'publishing';
        this.clearPhaseTimer();
        this.startIdleWatch();
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
    await this.call('connect', { app, type: 'nonprivate', flashVer: this.opts.flashVer, tcUrl }, 'connect');
    this.sendCommand(CSID_COMMAND, 0, 'releaseStream', this.nextTxn++, null, streamName);
    this.sendCommand(CSID_COMMAND, 0, 'FCPublish', this.nextTxn++, null, streamName);
    const created = await this.call('createStream', null, 'createStream');
    const id = created[3];
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 0xffffffff) {
      throw new RtmpError('PROTOCOL', `${this.where} answered createStream without a valid stream id`);
    }
    this.streamId = id;
    const published = new Promise<Amf0Value[]>((resolve, reject) => {
      this.statusWaiter = { resolve, reject };
    });
    this.sendCommand(CSID_STREAM_COMMAND, this.streamId, 'publish', this.nextTxn++, null, streamName, 'live');
    this.armPhaseTimer(this.opts.publishTimeoutMs, () => `no answer to publish from ${this.where} within ${this.opts.publishTimeoutMs} ms`);
    await published;
  }

  /** Sends a command on stream 0 and waits for its _result (or _error) within publishTimeoutMs. */
  private call(name: string, commandObject: Amf0Value | Record<string, unknown>, what: string): Promise<Amf0Value[]> {
    const txn = this.nextTxn++;
    const result = new Promise<Amf0Value[]>((resolve, reject) => {
      this.calls.set(txn, { resolve, reject });
    });
    this.sendCommand(CSID_COMMAND, 0, name, txn, commandObject);
    this.armPhaseTimer(this.opts.publishTimeoutMs, () => `no answer to ${what} from ${this.where} within ${this.opts.publishTimeoutMs} ms`);
    return result;
  }

  private sendCommand(csid: number, streamId: number, name: string, txn: number, ...args: unknown[]): void {
    this.send(csid, MessageType.CommandAmf0, streamId, 0, encodeAmf0(name, txn, ...args));
  }

  // --- output ------------------------------------------------------------------------------------

  private send(csid: number, typeId: number, streamId: number, timestamp: number, payload: Buffer): void {
    const socket = this.socket;
    if (!socket || socket.destroyed || !socket.writable) return;
    const chunks = this.writer.write({ csid, typeId, streamId, timestamp, payload });
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

  private lastWritten = 0;
  private lastProgressAt = 0;

  /** While publishing: fails when queued output makes no progress for idleTimeoutMs. */
  private startIdleWatch(): void {
    this.lastProgressAt = Date.now();
    const every = Math.max(50, Math.min(1000, Math.floor(this.opts.idleTimeoutMs / 4)));
    this.idleTimer = setInterval(() => this.guard(() => this.checkIdle()), every);
    this.idleTimer.unref();
  }

  private bumpIdle(): void {
    this.lastProgressAt = Date.now();
  }

  private checkIdle(): void {
    const socket = this.socket;
    if (this.phase !== 'publishing' || !socket) return;
    const written = socket.bytesWritten;
    if (socket.writableLength === 0 || written !== this.lastWritten) {
      this.lastWritten = written;
      this.lastProgressAt = Date.now();
      return;
    }
    if (Date.now() - this.lastProgressAt >= this.opts.idleTimeoutMs) {
      this.fail(new RtmpError('TIMEOUT', `${this.where} stopped reading for ${this.opts.idleTimeoutMs} ms`));
    }
  }

  private clearTimers(): void {
    this.clearPhaseTimer();
    if (this.idleTimer) clearInterval(this.idleTimer);
    this.idleTimer = undefined;
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
      this.fail(err instanceof RtmpError ? err : new RtmpError('PROTOCOL', `internal error handling data from ${this.where}: ${this.redact((err as Error)?.message ?? String(err))}`, { cause: err }));
    }
  }

  private redact(text: string): string {
    let out = text;
    const name = this.target.streamName;
    for (const s of [name, name.split('?')[0] ?? '']) {
      if (s.length >= 3) out = out.split(s).join('***');
    }
    return out;
  }
}
