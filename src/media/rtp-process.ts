/**
 * An ffmpeg process that reads one RTP stream from a loopback UDP port (described by a small SDP
 * file) and writes decoded media to pipes or, for decoded pictures, to Unix sockets. RTP packets
 * received over WebRTC are forwarded to it as they are.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { ffmpegRtpSdp, type MediaKind } from './sdp.js';
import { MAX_UNIX_SOCKET_PATH, readUnixOutput, type UnixOutputReader } from './unix-output.js';

export interface RtpCodec {
  payloadType: number;
  name: string;
  clockRate: number;
  channels?: number;
  fmtp?: string;
}

function bindUdp(port: number): Promise<Socket | null> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => {
      s.close();
      resolve(null);
    });
    s.bind(port, '127.0.0.1', () => resolve(s));
  });
}

const RANGE_LOW = 20000;
const RANGE_HIGH = 59000;
let nextCandidate = RANGE_LOW + 2 * Math.floor(Math.random() * ((RANGE_HIGH - RANGE_LOW) / 2));

/** An even loopback UDP port whose odd neighbour (RTCP) is free too, for ffmpeg to bind. */
export async function allocateRtpPort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = nextCandidate;
    nextCandidate += 2;
    if (nextCandidate >= RANGE_HIGH) nextCandidate = RANGE_LOW;
    const a = await bindUdp(port);
    if (!a) continue;
    const b = await bindUdp(port + 1);
    a.close();
    if (!b) continue;
    b.close();
    return port;
  }
  throw new Error('no free loopback UDP port pair for a track decoder');
}

export interface RtpProcessOptions {
  kind: MediaKind;
  codec: RtpCodec;
  /**
   * ffmpeg arguments after the input (the outputs), given where each output goes: the arguments
   * that name output i (`pipe:1`, or a listening Unix socket with `-listen 1`).
   */
  outputArgs: (targets: string[][]) => string[];
  /** how many outputs (default 1) */
  outputs?: number;
  /**
   * How outputs reach us. 'pipe' (default): stdout, fd 3, 4, ... 'socket': a Unix socket per
   * output that ffmpeg listens on and we read into one reused buffer, for outputs of many MB/s
   * (decoded pictures): reading pipes allocates a new buffer per read, and that external memory
   * counts against V8's old generation and makes it mark the heap several times a second.
   */
  transport?: 'pipe' | 'socket';
  log: Logger;
  label: string;
  /** the ffmpeg executable (default `ffmpeg` on the PATH) */
  ffmpegPath?: string;
}

/** The Unix socket output i of a process with working directory `dir` listens on. */
function outputSocketPath(dir: string, index: number): string {
  return join(dir, `out${index}.sock`);
}

/** Where output i goes, as ffmpeg arguments (`dir` only matters for sockets). */
export function outputTarget(transport: 'pipe' | 'socket', index: number, dir = ''): string[] {
  if (transport === 'socket') return ['-listen', '1', `unix:${outputSocketPath(dir, index)}`];
  return [`pipe:${index === 0 ? 1 : index + 2}`];
}

/** One running ffmpeg reading RTP from a loopback port. */
export class RtpProcess {
  readonly child: ChildProcess;
  readonly port: number;
  private readonly dir: string;
  private readonly socket: Socket;
  private isClosed = false;
  private transport: 'pipe' | 'socket' = 'pipe';
  private readonly outputReaders: UnixOutputReader[] = [];
  readonly exited: Promise<number | null>;

  private constructor(port: number, dir: string, child: ChildProcess, socket: Socket) {
    this.port = port;
    this.dir = dir;
    this.child = child;
    this.socket = socket;
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  static async start(options: RtpProcessOptions): Promise<RtpProcess> {
    const port = await allocateRtpPort();
    const dir = mkdtempSync(join(tmpdir(), 'callcast-track-'));
    const sdpFile = join(dir, 'track.sdp');
    writeFileSync(sdpFile, ffmpegRtpSdp(options.kind, port, options.codec));
    const args = [
      '-hide_banner',
      '-loglevel',
      'error',
      '-nostdin',
      '-protocol_whitelist',
      'file,udp,rtp',
      '-fflags',
      '+nobuffer+genpts',
      '-flags',
      'low_delay',
      '-max_delay',
      '150000',
      '-reorder_queue_size',
      '256',
      '-analyzeduration',
      '3000000',
      '-probesize',
      '2000000',
      // Exit when no packet arrives for 30 s: a decoder never outlives a crashed server for long
      // (the track decoders start a fresh process if the track resumes).
      '-rw_timeout',
      '30000000',
      '-i',
      sdpFile,
    ];
    const outputs = options.outputs ?? 1;
    let transport = options.transport ?? 'pipe';
    if (transport === 'socket' && outputSocketPath(dir, outputs).length > MAX_UNIX_SOCKET_PATH) transport = 'pipe';
    args.push(...options.outputArgs(Array.from({ length: outputs }, (_, i) => outputTarget(transport, i, dir))));
    const stdio: ('ignore' | 'pipe')[] = ['ignore', transport === 'pipe' ? 'pipe' : 'ignore', 'pipe'];
    if (transport === 'pipe') for (let i = 1; i < outputs; i++) stdio.push('pipe');
    const child = spawn(options.ffmpegPath ?? 'ffmpeg', args, { stdio });
    const socket = createSocket('udp4');
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    await new Promise<void>((resolve) => socket.connect(port, '127.0.0.1', () => resolve()));
    const proc = new RtpProcess(port, dir, child, socket);
    proc.transport = transport;
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000);
    });
    child.on('error', (err) => options.log.warn({ track: options.label, err: err.message }, 'track decoder could not start'));
    child.once('exit', (code, signal) => {
      if (!proc.isClosed)
        options.log.warn({ track: options.label, code, signal, stderr: stderr.trim().slice(-500) }, 'track decoder exited');
      proc.cleanup();
    });
    return proc;
  }

  get running(): boolean {
    return !this.isClosed && this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * Resolves true once ffmpeg has bound its RTP port (read from /proc/net/udp, without touching
   * the port), false when it exits first, after `timeoutMs`, or where /proc is not available.
   * Packets sent before that are lost.
   */
  async whenListening(timeoutMs = 3000): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (this.running && Date.now() < until) {
      const table = await readFile('/proc/net/udp', 'utf8').catch(() => null);
      if (table === null) return false;
      if (udpPortBound(table, this.port)) return true;
      await new Promise((r) => setTimeout(r, 10));
    }
    return false;
  }

  /** Forwards one RTP packet to the decoder. */
  send(packet: Buffer): void {
    if (!this.running) return;
    // Connected once at start: no address resolution per packet.
    this.socket.send(packet);
  }

  /**
   * Delivers output `index` to `onData` as it arrives. A socket output's chunk is only valid
   * during the call (one buffer is reused for every read): copy what must be kept. A pipe output's
   * chunks are fresh buffers the callback may keep.
   */
  onOutput(index: number, onData: (chunk: Buffer) => void): void {
    if (this.transport === 'socket') {
      if (this.running) this.outputReaders.push(readUnixOutput(outputSocketPath(this.dir, index), onData));
      return;
    }
    const s = index === 0 ? this.child.stdout : (this.child.stdio[index + 2] as NodeJS.ReadableStream | null | undefined);
    s?.on('data', (d: Buffer) => onData(d));
    s?.on('error', () => undefined);
  }

  /** Whether `close` was called. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Ends the process (SIGTERM, then SIGKILL after 2 s) and removes its files. Idempotent. */
  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 2000);
      await this.exited;
      clearTimeout(timer);
    }
    this.cleanup();
  }

  private cleanup(): void {
    for (const r of this.outputReaders) r.close();
    try {
      this.socket.close();
    } catch {
      /* already closed */
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Whether a /proc/net/udp table lists a socket bound to local port `port` (any address). Pure. */
export function udpPortBound(table: string, port: number): boolean {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of table.split('\n')) {
    const local = line.trim().split(/\s+/)[1];
    if (local?.endsWith(hex)) return true;
  }
  return false;
}

/** Where a reader takes the buffers it fills from, and gives a part-filled one back (a FramePool). */
export interface RecordPool {
  readonly frameBytes: number;
  acquire(): Buffer;
  release(buf: Buffer): void;
}

export class FixedSizeReader {
  private chunks: Buffer[] = [];
  private total = 0;
  /** Where the next record is written, when records are not fresh buffers. */
  private readonly nextRecord: (() => Buffer) | undefined;
  private readonly pool: RecordPool | undefined;
  /** The record being filled, and how far. */
  private record: Buffer | undefined;
  private filled = 0;

  /**
   * Cuts a byte stream into records of `size` bytes. By default every record is a buffer of its
   * own. With `recycle` = n (>= 2), records are written into n buffers used in turn, so a stream of
   * large records (decoded pictures) allocates nothing per record: a record handed out stays
   * intact until n - 1 further records have been handed out, and a consumer that keeps one longer
   * must copy it. With `pool`, each record is written into a buffer acquired from it and handed
   * out held once on the consumer's behalf (it releases it when done); `close` gives a part-filled
   * one back.
   */
  constructor(
    private readonly size: number,
    private readonly onRecord: (record: Buffer) => void,
    options: { recycle?: number; pool?: RecordPool } = {},
  ) {
    const { pool } = options;
    const n = options.recycle ?? 0;
    if (pool) {
      if (pool.frameBytes !== size) throw new Error(`the pool holds ${pool.frameBytes}-byte buffers, the records are ${size} bytes`);
      this.pool = pool;
      this.nextRecord = () => pool.acquire();
    } else if (n >= 2) {
      const records = Array.from({ length: n }, () => Buffer.allocUnsafe(size));
      let next = 0;
      this.nextRecord = () => records[next++ % n]!;
    }
  }

  push(data: Buffer): void {
    if (this.nextRecord) {
      this.pushInto(this.nextRecord, data);
      return;
    }
    this.chunks.push(data);
    this.total += data.length;
    if (this.total < this.size) return;
    let all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.total);
    while (all.length >= this.size) {
      this.onRecord(all.subarray(0, this.size));
      all = all.subarray(this.size);
    }
    this.chunks = all.length ? [Buffer.from(all)] : [];
    this.total = all.length;
  }

  /** The stream ended: a part-filled pool record goes back to its pool. */
  close(): void {
    if (this.record && this.pool) this.pool.release(this.record);
    this.record = undefined;
    this.filled = 0;
  }

  private pushInto(nextRecord: () => Buffer, data: Buffer): void {
    let offset = 0;
    while (offset < data.length) {
      const record = (this.record ??= nextRecord());
      const n = Math.min(this.size - this.filled, data.length - offset);
      data.copy(record, this.filled, offset, offset + n);
      this.filled += n;
      offset += n;
      if (this.filled === this.size) {
        this.record = undefined;
        this.filled = 0;
        this.onRecord(record);
      }
    }
  }
}
