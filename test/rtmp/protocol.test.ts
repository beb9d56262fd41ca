/**
 * RtmpPublisher against a scripted loopback RTMP server (built on our chunk parser and AMF0
 * codec): what the client sends at each step, and how it answers the server's control messages.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { decodeAmf0, encodeAmf0, type Amf0Value } from '../../src/rtmp/amf0.js';
import { ChunkParser, ChunkWriter, MessageType, type RtmpMessage } from '../../src/rtmp/chunk.js';
import { isStalled, RtmpError, RtmpPublisher } from '../../src/rtmp/publisher.js';
import { parseRtmpTarget } from '../../src/rtmp/url.js';
import { sleep, waitFor } from '../support/wait.js';

interface Script {
  /** Answer to connect: '_result' (default), '_error', or 'garbage' (a malformed AMF command). */
  connect?: '_result' | '_error' | 'garbage';
  /** Answer to publish: an onStatus code (level error unless .Start), or none. */
  publishStatus?: string | null;
  windowAckSize?: number;
  serverChunkSize?: number;
  /** Stop reading from the client once publishing. */
  stallAfterPublish?: boolean;
}

interface Session {
  messages: RtmpMessage[];
  commands: Amf0Value[][];
  ended: Promise<void>;
}

async function scriptedServer(script: Script): Promise<{ port: number; sessions: Session[]; close: () => Promise<void> }> {
  const sessions: Session[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    let endResolve!: () => void;
    const session: Session = { messages: [], commands: [], ended: new Promise<void>((r) => (endResolve = r)) };
    socket.on('close', () => {
      sockets.delete(socket);
      endResolve();
    });
    sessions.push(session);
    const parser = new ChunkParser();
    const writer = new ChunkWriter();
    const send = (csid: number, typeId: number, streamId: number, payload: Buffer, timestamp = 0) => {
      for (const c of writer.write({ csid, typeId, streamId, timestamp, payload })) socket.write(c);
    };
    const u32 = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(n);
      return b;
    };
    let buf = Buffer.alloc(0);
    let stage: 'c0c1' | 'c2' | 'chunks' = 'c0c1';
    socket.on('data', (data: Buffer) => {
      buf = Buffer.concat([buf, data]);
      if (stage === 'c0c1' && buf.length >= 1537) {
        socket.write(Buffer.concat([Buffer.from([3]), Buffer.alloc(1536, 1), buf.subarray(1, 1537)]));
        buf = buf.subarray(1537);
        stage = 'c2';
      }
      if (stage === 'c2' && buf.length >= 1536) {
        buf = buf.subarray(1536);
        stage = 'chunks';
      }
      if (stage !== 'chunks' || buf.length === 0) return;
      const msgs = parser.push(buf);
      buf = Buffer.alloc(0);
      for (const m of msgs) {
        session.messages.push(m);
        if (m.typeId !== MessageType.CommandAmf0) continue;
        const cmd = decodeAmf0(m.payload);
        session.commands.push(cmd);
        const [name, txn] = cmd as [string, number];
        if (name === 'connect') {
          send(2, MessageType.WindowAckSize, 0, u32(script.windowAckSize ?? 5_000_000));
          send(2, MessageType.SetPeerBandwidth, 0, Buffer.concat([u32(5_000_000), Buffer.from([2])]));
          if (script.serverChunkSize) {
            send(2, MessageType.SetChunkSize, 0, u32(script.serverChunkSize));
            writer.setChunkSize(script.serverChunkSize);
          }
          send(2, MessageType.UserControl, 0, Buffer.from([0, 6, 0x12, 0x34, 0x56, 0x78])); // PingRequest
          if (script.connect === 'garbage') {
            send(3, MessageType.CommandAmf0, 0, Buffer.from([0x02, 0x00, 0x07, 0x5f, 0x72, 0xee]));
          } else {
            const level = script.connect === '_error' ? 'error' : 'status';
            const code = script.connect === '_error' ? 'NetConnection.Connect.Rejected' : 'NetConnection.Connect.Success';
            send(
              3,
              MessageType.CommandAmf0,
              0,
              encodeAmf0(
                script.connect ?? '_result',
                txn,
                { fmsVer: 'FMS/3,0,1,123' },
                { level, code, description: 'Connection response with a long description to cross the chunk size.' },
              ),
            );
            send(3, MessageType.CommandAmf0, 0, encodeAmf0('onBWDone', 0, null));
          }
        } else if (name === 'createStream') {
          send(3, MessageType.CommandAmf0, 0, encodeAmf0('_result', txn, null, 1));
        } else if (name === 'publish') {
          const status = script.publishStatus === undefined ? 'NetStream.Publish.Start' : script.publishStatus;
          if (status !== null) {
            const level = status === 'NetStream.Publish.Start' ? 'status' : 'error';
            send(
              5,
              MessageType.CommandAmf0,
              1,
              encodeAmf0('onStatus', 0, null, { level, code: status, description: `about ${String(cmd[3])}` }),
            );
          }
          if (script.stallAfterPublish) socket.pause();
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

describe('RtmpPublisher protocol', { timeout: 60_000 }, () => {
  const servers: Array<{ close: () => Promise<void> }> = [];
  after(async () => {
    for (const s of servers) await s.close();
  });
  async function serve(script: Script) {
    const s = await scriptedServer(script);
    servers.push(s);
    return s;
  }

  it('runs connect, releaseStream, FCPublish, createStream, publish; answers ping and acknowledges the window', async () => {
    const srv = await serve({ windowAckSize: 1000, serverChunkSize: 50 });
    const pub = new RtmpPublisher(parseRtmpTarget(`rtmp://127.0.0.1:${srv.port}/live/inst?tok=1`, 'the-key?x=2'), {
      flashVer: 'FMLE/3.0 (test)',
    });
    await pub.connect();
    const s = srv.sessions[0]!;
    pub.sendMetadata({ width: 640, height: 360, framerate: 30 });
    const video = { type: 'video' as const, timestamp: 0, data: Buffer.alloc(10_000, 0x17), keyframe: true, sequenceHeader: false };
    const audio = { type: 'audio' as const, timestamp: 0, data: Buffer.alloc(300, 0xaf), keyframe: false, sequenceHeader: false };
    assert.equal(pub.sendTag(video, 0), true);
    assert.equal(pub.sendTag(audio, 21), true);
    assert.equal(pub.sendTag(video, 33), true);
    assert.equal(pub.sendTag(audio, 0x1000000), true); // extended timestamp
    // A script tag from the encoder goes out as @setDataFrame, as sendMetadata's does.
    const script = {
      type: 'script' as const,
      timestamp: 0,
      data: encodeAmf0('onMetaData', { encoder: 'x' }),
      keyframe: false,
      sequenceHeader: false,
    };
    assert.equal(pub.sendTag(script, 40), true);
    await waitFor(() => s.messages.filter((m) => m.typeId === 8 || m.typeId === 9).length === 4, 'media messages', 5000);
    await waitFor(() => s.messages.filter((m) => m.typeId === MessageType.DataAmf0).length === 2, 'data messages', 5000);
    await pub.close();
    await s.ended;

    const [first] = s.messages;
    assert.equal(first?.typeId, MessageType.SetChunkSize);
    assert.equal(first?.payload.readUInt32BE(0), 4096);

    const names = s.commands.map((c) => c[0]);
    assert.deepEqual(names, ['connect', 'releaseStream', 'FCPublish', 'createStream', 'publish', 'FCUnpublish', 'deleteStream']);
    const connect = s.commands[0]!;
    assert.deepEqual(connect[2], {
      app: 'live/inst?tok=1',
      type: 'nonprivate',
      flashVer: 'FMLE/3.0 (test)',
      tcUrl: `rtmp://127.0.0.1:${srv.port}/live/inst?tok=1`,
    });
    assert.equal(s.commands[1]![3], 'the-key?x=2');
    assert.equal(s.commands[2]![3], 'the-key?x=2');
    const publish = s.messages.find((m) => m.typeId === 20 && decodeAmf0(m.payload)[0] === 'publish')!;
    assert.equal(publish.streamId, 1);
    assert.deepEqual(decodeAmf0(publish.payload).slice(3), ['the-key?x=2', 'live']);
    assert.deepEqual(s.commands[5]!.slice(3), ['the-key?x=2']);
    assert.deepEqual(s.commands[6]!.slice(3), [1]);

    const pong = s.messages.find((m) => m.typeId === MessageType.UserControl);
    assert.deepEqual(pong?.payload, Buffer.from([0, 7, 0x12, 0x34, 0x56, 0x78]));
    const ack = s.messages.find((m) => m.typeId === MessageType.Acknowledgement);
    assert.ok(ack, 'an Acknowledgement once more than the window was received');
    assert.ok(ack.payload.readUInt32BE(0) >= 1000);
    const winAck = s.messages.find((m) => m.typeId === MessageType.WindowAckSize);
    assert.ok(winAck, 'a Window Acknowledgement Size in answer to Set Peer Bandwidth');

    const data = s.messages.find((m) => m.typeId === MessageType.DataAmf0)!;
    assert.equal(data.streamId, 1);
    assert.deepEqual(decodeAmf0(data.payload), ['@setDataFrame', 'onMetaData', { width: 640, height: 360, framerate: 30 }]);
    const scriptData = s.messages.filter((m) => m.typeId === MessageType.DataAmf0)[1]!;
    assert.equal(scriptData.timestamp, 40);
    assert.deepEqual(decodeAmf0(scriptData.payload), ['@setDataFrame', 'onMetaData', { encoder: 'x' }]);
    const media = s.messages.filter((m) => m.typeId === 8 || m.typeId === 9);
    assert.deepEqual(
      media.map((m) => [m.typeId, m.timestamp, m.payload.length, m.streamId]),
      [
        [9, 0, 10_000, 1],
        [8, 21, 300, 1],
        [9, 33, 10_000, 1],
        [8, 0x1000000, 300, 1],
      ],
    );
    assert.ok(pub.bytesSent > 20_000);
  });

  it('rejects with REJECTED on _error to connect, without the key in the message', async () => {
    const srv = await serve({ connect: '_error' });
    const pub = new RtmpPublisher(parseRtmpTarget(`rtmp://127.0.0.1:${srv.port}/live`, 'secret-key'));
    await assert.rejects(
      pub.connect(),
      (err: unknown) => err instanceof RtmpError && err.code === 'REJECTED' && /Connect\.Rejected/.test(err.message),
    );
  });

  it('rejects with BADNAME on NetStream.Publish.BadName and redacts the echoed key', async () => {
    const srv = await serve({ publishStatus: 'NetStream.Publish.BadName' });
    const pub = new RtmpPublisher(parseRtmpTarget(`rtmp://127.0.0.1:${srv.port}/live`, 'secret-key'));
    await assert.rejects(pub.connect(), (err: unknown) => {
      assert.ok(err instanceof RtmpError);
      assert.equal(err.code, 'BADNAME');
      assert.ok(!err.message.includes('secret-key'), err.message);
      return true;
    });
  });

  it('times out when publish gets no answer', async () => {
    const srv = await serve({ publishStatus: null });
    const pub = new RtmpPublisher(parseRtmpTarget(`rtmp://127.0.0.1:${srv.port}/live`, 'k'), { publishTimeoutMs: 300 });
    await assert.rejects(
      pub.connect(),
      (err: unknown) => err instanceof RtmpError && err.code === 'TIMEOUT' && /publish/.test(err.message),
    );
  });

  it('closes with PROTOCOL on a malformed AMF command', async () => {
    const srv = await serve({ connect: 'garbage' });
    const pub = new RtmpPublisher(parseRtmpTarget(`rtmp://127.0.0.1:${srv.port}/live`, 'k'));
    await assert.rejects(pub.connect(), (err: unknown) => err instanceof RtmpError && err.code === 'PROTOCOL' && /AMF0/.test(err.message));
  });

  it('refuses tags beyond maxBufferedBytes and times out when the server stops reading', async () => {
    const srv = await serve({ stallAfterPublish: true });
    const pub = new RtmpPublisher(parseRtmpTarget(`rtmp://127.0.0.1:${srv.port}/live`, 'k'), {
      maxBufferedBytes: 256 * 1024,
      stallTimeoutMs: 400,
    });
    await pub.connect();
    const closed = new Promise<Error | null>((resolve) => pub.once('close', resolve));
    const frame = { type: 'video' as const, timestamp: 0, data: Buffer.alloc(200_000, 0x27), keyframe: false, sequenceHeader: false };
    let refused = false;
    for (let i = 0; i < 2000 && !refused; i++) {
      refused = !pub.sendTag(frame, i * 33);
      if (i % 20 === 19) await sleep(5);
    }
    assert.ok(refused, 'sendTag returns false once the socket is backed up');
    assert.ok(pub.bufferedBytes() > 256 * 1024);
    assert.equal(pub.backedUp, true);
    const err = await closed;
    assert.ok(err instanceof RtmpError);
    assert.equal(err.code, 'TIMEOUT');
    assert.equal(err.retryable, true);
    assert.equal(pub.closed, true);
    await pub.close();
  });

  it('close() during connect rejects connect() with CLOSED and emits close(null)', async () => {
    const srv = await serve({ publishStatus: null });
    const pub = new RtmpPublisher(parseRtmpTarget(`rtmp://127.0.0.1:${srv.port}/live`, 'k'));
    const closes: Array<Error | null> = [];
    pub.on('close', (e: Error | null) => closes.push(e));
    const rejected = assert.rejects(pub.connect(), (err: unknown) => err instanceof RtmpError && err.code === 'CLOSED');
    await sleep(100);
    await pub.close();
    await rejected;
    assert.deepEqual(closes, [null]);
    await assert.rejects(pub.connect(), (err: unknown) => err instanceof RtmpError && err.code === 'STATE');
  });

  it('the stall rule: queued output that does not move, or stays above the bound', () => {
    const bound = 1000;
    assert.equal(isStalled(0, false, bound), false, 'nothing queued');
    assert.equal(isStalled(500, true, bound), false, 'moving, under the bound');
    assert.equal(isStalled(500, false, bound), true, 'not moving');
    assert.equal(isStalled(1500, true, bound), true, 'moving, but above the bound');
    assert.equal(isStalled(1000, true, bound), false, 'at the bound');
  });
});
