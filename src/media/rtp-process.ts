/**
 * An ffmpeg process that reads one RTP stream from a loopback UDP port (described by a small SDP
 * file) and writes decoded media to pipes. RTP packets received over WebRTC are forwarded to it
 * as they are.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ffmpegRtpSdp, type MediaKind } from './sdp.js';

export interface RtpCodec { payloadType: number; name: string; clockRate: number; channels?: number; fmtp?: string }

export interface MediaLog {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
}

export const silentLog: MediaLog = { debug() {}, info() {}, warn() {} };

export function ffmpegPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.CALLCAST_FFMPEG || 'ffmpeg';
}

function bindUdp(port: number): Promise<Socket | null> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => { s.close(); resolve(null); });
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
  /** ffmpeg arguments after the input (outputs) */
  outputArgs: string[];
  /** extra pipes beyond stdout (fd 3, 4, ...) */
  extraOutputs?: number;
  log: MediaLog;
  label: string;
}

/** One running ffmpeg reading RTP from a loopback port. */
export class RtpProcess {
  readonly child: ChildProcess;
  readonly port: number;
  private readonly dir: string;
  private readonly socket: Socket;
  private closed = false;
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
      '-hide_banner', '-loglevel', 'error', '-nostdin',
      '-protocol_whitelist', 'file,udp,rtp',
      '-fflags', '+nobuffer+genpts', '-flags', 'low_delay',
      '-max_delay', '150000', '-reorder_queue_size', '256',
      '-analyzeduration', '3000000', '-probesize', '2000000',
      // Exit when no packet arrives for 30 s: a decoder never outlives a crashed server for long
      // (the track decoders start a fresh process if the track resumes).
      '-rw_timeout', '30000000',
      '-i', sdpFile,
      ...options.outputArgs,
    ];
    const stdio: ('ignore' | 'pipe')[] = ['ignore', 'pipe', 'pipe'];
    for (let i = 0; i < (options.extraOutputs ?? 0); i++) stdio.push('pipe');
    const child = spawn(ffmpegPath(), args, { stdio });
    const socket = createSocket('udp4');
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    const proc = new RtpProcess(port, dir, child, socket);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-2000); });
    child.on('error', (err) => options.log.warn({ track: options.label, err: err.message }, 'track decoder could not start'));
    child.once('exit', (code, signal) => {
      if (!proc.closed) options.log.warn({ track: options.label, code, signal, stderr: stderr.trim().slice(-500) }, 'track decoder exited');
      proc.cleanup();
    });
    return proc;
  }

  get running(): boolean {
    return !this.closed && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Forwards one RTP packet to the decoder. */
  send(packet: Buffer): void {
    if (!this.running) return;
    this.socket.send(packet, this.port, '127.0.0.1');
  }

  output(index: number): NodeJS.ReadableStream | null {
    const s = index === 0 ? this.child.stdout : (this.child.stdio[index + 2] as NodeJS.ReadableStream | null | undefined);
    return s ?? null;
  }

  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 2000);
      await this.exited;
      clearTimeout(timer);
    }
    this.cleanup();
  }

  private cleanup(): void {
    try { this.socket.close(); } catch { /* already closed */ }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Splits a byte stream into fixed-size records. */
export class FixedSizeReader {
  private chunks: Buffer[] = [];
  private total = 0;
  constructor(private readonly size: number, private readonly onRecord: (record: Buffer) => void) {}
  push(data: Buffer): void {
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
}
