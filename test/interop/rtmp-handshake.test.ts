/**
 * The RTMP handshake against strict peers: C2 must be S1 echoed byte for byte (librtmp's server
 * compares all 1536 bytes), including S1's second time field. Peers: a test-only server that
 * compares every byte, and librtmp's own rtmpsrv (from rtmpdump), run in a network namespace of
 * its own since it listens on every interface at port 1935.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { RtmpPublisher } from '../../src/rtmp/publisher.js';
import { parseRtmpTarget } from '../../src/rtmp/url.js';
import { netnsPermitted } from '../support/netns.js';
import { startStrictRtmpServer, type StrictRtmpServer } from '../support/strict-rtmp-server.js';

const execFileP = promisify(execFile);
const PUBLISH_ONCE = fileURLToPath(new URL('./fixtures/rtmp-publish-once.ts', import.meta.url));

describe('RTMP handshake with a strict server', { timeout: 60_000 }, () => {
  let server: StrictRtmpServer;
  before(async () => {
    server = await startStrictRtmpServer();
  });
  after(async () => {
    await server.close();
  });

  it('sends C2 as the exact echo of S1 and gets to publish', async () => {
    const pub = new RtmpPublisher(parseRtmpTarget(`rtmp://127.0.0.1:${server.port}/live`, 'strict-key'));
    try {
      await pub.connect();
    } finally {
      await pub.close().catch(() => undefined);
    }
    const hs = server.sessions[0]?.handshake;
    assert.ok(hs, 'the server read a C2');
    console.log(`C2 bytes differing from S1: ${hs.differingOffsets.length}`);
    assert.deepEqual(hs.differingOffsets, [], 'C2 equals S1 in all 1536 bytes');
    assert.equal(hs.c1.readUInt32BE(4), 0, "C1's second field is zero");
    assert.equal(server.sessions[0]!.published, 'strict-key');
  });
});

describe("RTMP handshake with librtmp's rtmpsrv", { timeout: 60_000 }, () => {
  it('rtmpsrv finds that C2 matches its S1 (no "client signature does not match")', async (t) => {
    const rtmpsrv = await execFileP('sh', ['-c', 'command -v rtmpsrv || ls /usr/sbin/rtmpsrv']).then(
      () => true,
      () => false,
    );
    if (!rtmpsrv) return t.skip('rtmpsrv (rtmpdump) is not installed (scripts/install-system-deps.sh test)');
    const allowed = await netnsPermitted();
    if (!allowed.ok) return t.skip(allowed.why);
    const ns = `cc-rtmpsrv-${process.pid}`;
    await execFileP('ip', ['netns', 'add', ns]);
    try {
      await execFileP('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      const logDir = mkdtempSync(join(tmpdir(), 'callcast-rtmpsrv-'));
      const logFile = join(logDir, 'rtmpsrv.log');
      // rtmpsrv logs to a file and stops at its timeout. Its stdin is a pipe that stays open and
      // empty: at end of file it reads its console commands in a busy loop, logging millions of
      // "Unknown command" lines a second (a CPU and a disk hog that made this test slow and flaky).
      const server = spawn('ip', ['netns', 'exec', ns, 'sh', '-c', `sleep 16 | timeout 15 rtmpsrv > '${logFile}' 2>&1`], {
        stdio: 'ignore',
      });
      const exited = new Promise<void>((r) => server.on('exit', () => r()));
      const log = () => {
        try {
          return readFileSync(logFile, 'utf8');
        } catch {
          return '';
        }
      };
      const deadline = Date.now() + 10_000;
      while (!log().includes('Streaming on') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 300));
      const { stdout } = await execFileP(
        'ip',
        ['netns', 'exec', ns, process.execPath, '--import', 'tsx', PUBLISH_ONCE, 'rtmp://127.0.0.1:1935/live', 'strict-key'],
        { timeout: 30_000 },
      );
      await exited;
      const outcome = (JSON.parse(stdout.trim().split('\n').at(-1)!) as { outcome: string }).outcome;
      const lines = log()
        .split('\n')
        .filter((l) => l && !l.startsWith('Unknown command'));
      console.log(`publisher: ${outcome}; rtmpsrv: ${lines.join(' | ')}`);
      // The session got past the handshake (rtmpsrv is a redirector: it does not take publishes).
      assert.ok(!/handshake|refused/i.test(outcome), `past the handshake: ${outcome}`);
      assert.ok(log().includes('Closing connection'), 'rtmpsrv served the session');
      assert.ok(!log().includes('signature does not match'), 'rtmpsrv compared C2 with its S1 and found them equal');
      rmSync(logDir, { recursive: true, force: true });
    } finally {
      await execFileP('ip', ['netns', 'del', ns]).catch(() => undefined);
    }
  });
});
