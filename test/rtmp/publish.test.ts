/**
 * RtmpPublisher against real peers: nginx-rtmp (plain and behind a TLS proxy) and ffmpeg
 * `-listen 1`, with the recordings checked by ffprobe; plus refusal, TLS trust, silent and
 * garbage-speaking servers.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decodeAmf0 } from '../../src/rtmp/amf0.js';
import { FlvDemuxer, type FlvTag } from '../../src/flv/demuxer.js';
import { RtmpError, RtmpPublisher } from '../../src/rtmp/publisher.js';
import { parseRtmpTarget } from '../../src/rtmp/url.js';
import { keyframeTimes, probe } from '../support/ffprobe.js';
import { sleep } from '../support/wait.js';
import { startFfmpegListenIngest, startNginxIngest, type NginxIngest } from '../support/rtmp-ingest.js';

const execFileP = promisify(execFile);

const SOURCE_SECONDS = 4;

async function makeSource(dir: string): Promise<string> {
  const out = join(dir, 'source.flv');
  await execFileP(
    'ffmpeg',
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-nostdin',
      '-y',
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=640x360:rate=30',
      '-f',
      'lavfi',
      '-i',
      'sine=f=440:sample_rate=48000',
      '-t',
      String(SOURCE_SECONDS),
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-g',
      '60',
      '-bf',
      '0',
      '-c:a',
      'aac',
      '-ar',
      '48000',
      '-ac',
      '2',
      '-f',
      'flv',
      out,
    ],
    { timeout: 120_000 },
  );
  return out;
}

function demuxFile(path: string): FlvTag[] {
  const demuxer = new FlvDemuxer();
  const data = readFileSync(path);
  const tags: FlvTag[] = [];
  // Feed in uneven slices, as a pipe would deliver them.
  for (let i = 0, step = 1000; i < data.length; i += step, step = ((step * 7) % 9973) + 1) {
    tags.push(...demuxer.push(data.subarray(i, i + step)));
  }
  return tags;
}

/** Publishes the tags paced in real time (metadata first, as @setDataFrame). */
async function publishPaced(pub: RtmpPublisher, tags: FlvTag[]): Promise<void> {
  const start = Date.now();
  for (const tag of tags) {
    if (tag.type === 'script') {
      const values = decodeAmf0(tag.data);
      const meta = values[1];
      if (values[0] === 'onMetaData' && meta && typeof meta === 'object' && !Array.isArray(meta) && !(meta instanceof Date)) {
        pub.sendMetadata(meta);
      }
      continue;
    }
    const wait = start + tag.timestamp - Date.now();
    if (wait > 0) await sleep(wait);
    assert.equal(pub.sendTag(tag, tag.timestamp), true, 'the socket keeps up on loopback');
  }
}

async function assertRecording(path: string): Promise<void> {
  const info = await probe(path);
  assert.equal(info.video?.codec, 'h264');
  assert.equal(info.video?.width, 640);
  assert.equal(info.video?.height, 360);
  assert.ok(Math.abs((info.video?.fps ?? 0) - 30) < 1, `fps ${info.video?.fps}`);
  assert.equal(info.audio?.codec, 'aac');
  assert.equal(info.audio?.sampleRate, 48000);
  assert.equal(info.audio?.channels, 2);
  assert.ok(Math.abs(info.format.duration - SOURCE_SECONDS) < 0.6, `duration ${info.format.duration}`);
  const keys = await keyframeTimes(path);
  assert.ok(keys.length >= 2, `keyframes ${keys.join(',')}`);
}

/** A loopback TCP server with a custom behaviour per connection; closed by the test. */
async function tcpServer(onConnection: (s: Socket) => void): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    onConnection(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const addr = server.address();
  return { server, port: typeof addr === 'object' && addr ? addr.port : 0, sockets };
}

async function closeServer(srv: { server: Server; sockets: Set<Socket> }): Promise<void> {
  for (const s of srv.sockets) s.destroy();
  await new Promise<void>((resolve) => srv.server.close(() => resolve()));
}

async function expectRtmpError(p: Promise<unknown>, code: string): Promise<RtmpError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof RtmpError, `an RtmpError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected an RtmpError ${code}`);
}

describe('RtmpPublisher against real servers', { timeout: 170_000 }, () => {
  let dir: string;
  let tags: FlvTag[];
  let nginx: NginxIngest;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'callcast-rtmp-test-'));
    tags = demuxFile(await makeSource(dir));
    nginx = await startNginxIngest({ allowedKeys: ['plain', 'secure', 'closing', 'untrusted'] });
  });
  after(async () => {
    await nginx?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('demuxes the source: metadata, sequence headers, keyframes every 2 s', () => {
    assert.equal(tags[0]?.type, 'script');
    const video = tags.filter((t) => t.type === 'video');
    const audio = tags.filter((t) => t.type === 'audio');
    assert.ok(video[0]?.sequenceHeader && video[0].keyframe);
    assert.ok(audio[0]?.sequenceHeader);
    // AVC packet type 1: coded frames (beside the sequence header and the end-of-sequence tag).
    assert.equal(video.filter((t) => t.data[1] === 1).length, SOURCE_SECONDS * 30);
    const keys = video.filter((t) => t.keyframe && t.data[1] === 1).map((t) => t.timestamp);
    assert.equal(keys.length, 2);
    assert.equal(keys[1]! - keys[0]!, 2000);
  });

  it('publishes to nginx-rtmp over plain RTMP; the recording is the source', async () => {
    const pub = new RtmpPublisher(parseRtmpTarget(nginx.url(), 'plain'));
    const closes: Array<Error | null> = [];
    pub.on('close', (e: Error | null) => closes.push(e));
    await pub.connect();
    await publishPaced(pub, tags);
    assert.ok(pub.bytesSent > statSync(join(dir, 'source.flv')).size * 0.9);
    await pub.close();
    await pub.close(); // idempotent
    assert.deepEqual(closes, [null]);
    await sleep(300);
    await assertRecording(nginx.recordingPath('plain'));
  });

  it('publishes to nginx through the TLS proxy with the test CA trusted', async () => {
    const pub = new RtmpPublisher(parseRtmpTarget(nginx.secureUrl(), 'secure'), { tls: { ca: nginx.caCertPem } });
    await pub.connect();
    await publishPaced(pub, tags);
    await pub.close();
    await sleep(300);
    await assertRecording(nginx.recordingPath('secure'));
  });

  it('publishes to ffmpeg -listen; the copy is the source', async () => {
    const ingest = await startFfmpegListenIngest({ app: 'app', stream: 'key' });
    try {
      const pub = new RtmpPublisher(parseRtmpTarget(ingest.appUrl, ingest.streamName));
      await pub.connect();
      await publishPaced(pub, tags);
      await pub.close();
      await ingest.stop();
      await assertRecording(ingest.outputPath);
    } finally {
      await ingest.stop();
    }
  });

  it('close() unpublishes cleanly: nginx finalizes the recording and the name can publish again', async () => {
    const pub = new RtmpPublisher(parseRtmpTarget(nginx.url(), 'closing'));
    await pub.connect();
    await publishPaced(pub, tags.slice(0, 40));
    await pub.close();
    // A second publisher of the same name is accepted at once (the stream was released).
    const again = new RtmpPublisher(parseRtmpTarget(nginx.url(), 'closing'));
    await again.connect();
    await again.close();
    await sleep(300);
    const info = await probe(nginx.recordingPath('closing'));
    assert.equal(info.video?.codec, 'h264');
  });

  it('a key the server refuses rejects connect() with REJECTED', async () => {
    const pub = new RtmpPublisher(parseRtmpTarget(nginx.url(), 'not-allowed'));
    const err = await expectRtmpError(pub.connect(), 'REJECTED');
    assert.ok(!err.message.includes('not-allowed'), 'the key is not in the message');
    await pub.close();
  });

  it('TLS with a certificate that is not trusted fails with TLS', async () => {
    const pub = new RtmpPublisher(parseRtmpTarget(nginx.secureUrl(), 'untrusted'));
    const err = await expectRtmpError(pub.connect(), 'TLS');
    assert.match(err.message, /certificate/i);
    assert.equal(err.kind, 'certificate');
    assert.equal(err.retryable, false, 'reconnecting cannot make the certificate trusted');
    await pub.close();
  });

  it('a refused TCP connection fails with ECONNREFUSED', async () => {
    const srv = await tcpServer(() => undefined);
    const port = srv.port;
    await closeServer(srv);
    const pub = new RtmpPublisher(parseRtmpTarget(`rtmp://127.0.0.1:${port}/live`, 'k'));
    const err = await expectRtmpError(pub.connect(), 'ECONNREFUSED');
    assert.equal(err.retryable, true);
  });

  it('a server that accepts TCP and says nothing times out in the handshake', async () => {
    const srv = await tcpServer(() => undefined);
    try {
      const pub = new RtmpPublisher(parseRtmpTarget(`rtmp://127.0.0.1:${srv.port}/live`, 'k'), { handshakeTimeoutMs: 500 });
      const closes: Array<Error | null> = [];
      pub.on('close', (e: Error | null) => closes.push(e));
      const err = await expectRtmpError(pub.connect(), 'TIMEOUT');
      assert.match(err.message, /handshake/);
      assert.equal(closes.length, 1);
    } finally {
      await closeServer(srv);
    }
  });

  it('RTMPS to a server that never speaks TLS times out while connecting', async () => {
    const srv = await tcpServer(() => undefined);
    try {
      const pub = new RtmpPublisher(parseRtmpTarget(`rtmps://127.0.0.1:${srv.port}/live`, 'k'), { connectTimeoutMs: 400 });
      const err = await expectRtmpError(pub.connect(), 'TIMEOUT');
      assert.match(err.message, /connecting/);
    } finally {
      await closeServer(srv);
    }
  });

  it('a server that answers garbage fails with PROTOCOL', async () => {
    const srv = await tcpServer((s) => s.write('HTTP/1.1 400 Bad Request\r\n\r\n'));
    try {
      const pub = new RtmpPublisher(parseRtmpTarget(`rtmp://127.0.0.1:${srv.port}/live`, 'k'));
      await expectRtmpError(pub.connect(), 'PROTOCOL');
    } finally {
      await closeServer(srv);
    }
  });

  it('a server that completes the handshake then sends malformed chunks fails with PROTOCOL', async () => {
    const srv = await tcpServer((s) => {
      let got = 0;
      s.on('data', (d) => {
        got += d.length;
        if (got >= 1537 && got - d.length < 1537) {
          const s0s1s2 = Buffer.alloc(1 + 1536 * 2);
          s0s1s2[0] = 3;
          // A type-1 chunk header on a chunk stream that never had a full header.
          s.write(Buffer.concat([s0s1s2, Buffer.from([0x43, 0, 0, 0, 0, 0, 4, 20, 1, 2, 3, 4])]));
        }
      });
    });
    try {
      const pub = new RtmpPublisher(parseRtmpTarget(`rtmp://127.0.0.1:${srv.port}/live`, 'k'));
      const err = await expectRtmpError(pub.connect(), 'PROTOCOL');
      assert.match(err.message, /chunk/);
    } finally {
      await closeServer(srv);
    }
  });

  it('a server that never answers connect times out', async () => {
    const srv = await tcpServer((s) => {
      let got = 0;
      s.on('data', (d) => {
        got += d.length;
        if (got >= 1537 && got - d.length < 1537) {
          const s0s1s2 = Buffer.alloc(1 + 1536 * 2);
          s0s1s2[0] = 3;
          s.write(s0s1s2);
        }
      });
    });
    try {
      const pub = new RtmpPublisher(parseRtmpTarget(`rtmp://127.0.0.1:${srv.port}/live`, 'k'), { publishTimeoutMs: 500 });
      const err = await expectRtmpError(pub.connect(), 'TIMEOUT');
      assert.match(err.message, /connect/);
    } finally {
      await closeServer(srv);
    }
  });

  it('the nginx ingest restarts on the same port and a new publish appends to the recording', async () => {
    const ingest = await startNginxIngest();
    try {
      const publishOnce = async () => {
        const pub = new RtmpPublisher(parseRtmpTarget(ingest.url(), 'again'));
        await pub.connect();
        await publishPaced(pub, tags);
        await pub.close();
      };
      await publishOnce();
      await ingest.restart();
      await publishOnce();
      await sleep(300);
      const info = await probe(ingest.recordingPath('again'));
      assert.ok(Math.abs(info.format.duration - 2 * SOURCE_SECONDS) < 1, `duration ${info.format.duration}`);
    } finally {
      await ingest.stop();
    }
  });

  it('emits close with an error when the server goes away while publishing', async () => {
    const ingest = await startNginxIngest();
    try {
      const pub = new RtmpPublisher(parseRtmpTarget(ingest.url(), 'gone'));
      await pub.connect();
      const closed = new Promise<Error | null>((resolve) => pub.once('close', resolve));
      await publishPaced(pub, tags.slice(0, 20));
      await ingest.stop();
      const err = await closed;
      assert.ok(err instanceof RtmpError);
      assert.equal(err.code, 'CLOSED');
      assert.equal(pub.sendTag(tags[1]!, 0), false);
      await pub.close();
    } finally {
      await ingest.stop();
    }
  });
});
