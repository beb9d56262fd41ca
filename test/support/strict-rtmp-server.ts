/**
 * A strict RTMP server for tests, on 127.0.0.1: it checks the simple handshake as librtmp's server
 * does (C2 compared byte for byte with the S1 it sent, all 1536 bytes, and C1's layout) and refuses
 * the connection when C2 differs; otherwise it accepts connect, createStream and publish, and
 * counts the FLV media messages it receives.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { decodeAmf0, encodeAmf0 } from '../../src/rtmp/amf0.js';
import { ChunkParser, ChunkWriter, MessageType } from '../../src/rtmp/chunk.js';

export interface StrictHandshakeRecord {
  c1: Buffer;
  s1: Buffer;
  c2: Buffer;
  /** Offsets at which C2 differs from S1. */
  differingOffsets: number[];
}

export interface StrictRtmpSession {
  handshake?: StrictHandshakeRecord;
  published?: string;
  videoMessages: number;
  audioMessages: number;
}

export interface StrictRtmpServer {
  port: number;
  sessions: StrictRtmpSession[];
  close(): Promise<void>;
}

const SIZE = 1536;

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

export async function startStrictRtmpServer(): Promise<StrictRtmpServer> {
  const sessions: StrictRtmpSession[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    const session: StrictRtmpSession = { videoMessages: 0, audioMessages: 0 };
    sessions.push(session);
    // S1: a time, a non-zero second time field (a client that rewrites it is caught) and random data.
    const s1 = Buffer.concat([u32(0x01020304), u32(0x0a0b0c0d), randomBytes(SIZE - 8)]);
    const parser = new ChunkParser();
    const writer = new ChunkWriter();
    const send = (csid: number, typeId: number, streamId: number, payload: Buffer) => {
      for (const c of writer.write({ csid, typeId, streamId, timestamp: 0, payload })) socket.write(c);
    };
    let buf = Buffer.alloc(0);
    let c1: Buffer | undefined;
    let stage: 'c0c1' | 'c2' | 'chunks' = 'c0c1';
    socket.on('data', (data: Buffer) => {
      buf = Buffer.concat([buf, data]);
      if (stage === 'c0c1' && buf.length >= 1 + SIZE) {
        if (buf[0] !== 3) return void socket.destroy();
        c1 = Buffer.from(buf.subarray(1, 1 + SIZE));
        const s2 = Buffer.from(c1);
        socket.write(Buffer.concat([Buffer.from([3]), s1, s2]));
        buf = buf.subarray(1 + SIZE);
        stage = 'c2';
      }
      if (stage === 'c2' && buf.length >= SIZE) {
        const c2 = Buffer.from(buf.subarray(0, SIZE));
        buf = buf.subarray(SIZE);
        const differingOffsets: number[] = [];
        for (let i = 0; i < SIZE; i++) if (c2[i] !== s1[i]) differingOffsets.push(i);
        session.handshake = { c1: c1!, s1, c2, differingOffsets };
        if (differingOffsets.length > 0) return void socket.destroy();
        stage = 'chunks';
      }
      if (stage !== 'chunks' || buf.length === 0) return;
      const msgs = parser.push(buf);
      buf = Buffer.alloc(0);
      for (const m of msgs) {
        if (m.typeId === MessageType.Video) session.videoMessages += 1;
        if (m.typeId === MessageType.Audio) session.audioMessages += 1;
        if (m.typeId !== MessageType.CommandAmf0) continue;
        const cmd = decodeAmf0(m.payload);
        const [name, txn] = cmd as [string, number];
        if (name === 'connect') {
          send(2, MessageType.WindowAckSize, 0, u32(5_000_000));
          send(2, MessageType.SetPeerBandwidth, 0, Buffer.concat([u32(5_000_000), Buffer.from([2])]));
          send(
            3,
            MessageType.CommandAmf0,
            0,
            encodeAmf0(
              '_result',
              txn,
              { fmsVer: 'FMS/3,0,1,123' },
              { level: 'status', code: 'NetConnection.Connect.Success', description: 'Connection succeeded.' },
            ),
          );
        } else if (name === 'createStream') {
          send(3, MessageType.CommandAmf0, 0, encodeAmf0('_result', txn, null, 1));
        } else if (name === 'publish') {
          session.published = String(cmd[3]);
          send(
            5,
            MessageType.CommandAmf0,
            1,
            encodeAmf0('onStatus', 0, null, { level: 'status', code: 'NetStream.Publish.Start', description: 'publishing' }),
          );
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : 0,
    sessions,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
