/**
 * A recording interrupted by a crash: the service runs in its own process (as `callcast serve`),
 * records a call through the node SDK, and is killed by PID; the next start on the same data
 * finishes the recording from its fragmented MP4 into a playable file that the SDK lists.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { StreamClient } from '@stream-io/node-sdk';
import { startCallcast } from '../../src/app.js';
import { probe } from '../support/ffprobe.js';
import { sleep, waitFor } from '../support/wait.js';
import { enableOutputs } from '../support/outputs.js';

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolvePort(port));
    });
  });
}

function childPids(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((l) => Number(l.trim()))
      .filter((n) => n > 0);
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('a recording interrupted by a crash of the service', { timeout: 200_000 }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'callcast-crash-'));
  const apiKey = `key-${randomBytes(4).toString('hex')}`;
  const apiSecret = randomBytes(24).toString('hex');
  let child: ChildProcess | null = null;
  after(() => {
    if (child?.pid && alive(child.pid)) child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('is finished into a playable file at the next start', async (t) => {
    if (process.env.CALLCAST_TEST_DATABASE_URL) t.diagnostic('runs on SQLite (its own process and data dir)');
    const port = await freePort();
    const env = {
      ...process.env,
      CALLCAST_PORT: String(port),
      CALLCAST_HOST: '127.0.0.1',
      CALLCAST_API_KEY: apiKey,
      CALLCAST_API_SECRET: apiSecret,
      CALLCAST_DATA_DIR: dataDir,
      CALLCAST_LOG_LEVEL: 'silent',
      CALLCAST_DATABASE_URL: '',
    };
    const fixture = resolve(import.meta.dirname, 'fixtures/serve.ts');
    child = spawn(process.execPath, ['--import', 'tsx', fixture], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    const url = await new Promise<string>((resolveUrl, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error('the service did not start')), 60_000);
      child!.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /READY (\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolveUrl(m[1]!);
        }
      });
      child!.once('exit', (code) => reject(new Error(`the service exited (${code})`)));
    });
    const client = new StreamClient(apiKey, apiSecret, { basePath: url, timeout: 60_000 });
    await enableOutputs(client);
    const call = client.video.call('default', 'crash');
    await call.getOrCreate({ data: { created_by_id: 'alice' } });
    await call.startRecording({ recording_type: 'composite' });
    await waitFor(async () => (await call.get()).call.recording, 'recording', 30_000);
    await sleep(6000);
    const pid = child.pid!;
    const mediaPids = childPids(pid);
    t.diagnostic(`killing the service (pid ${pid}); its ffmpeg processes ${mediaPids.join(', ')}`);
    process.kill(pid, 'SIGKILL');
    await waitFor(() => !alive(pid), 'the service gone', 10_000);
    // Its encoder and packager see their input end and exit on their own.
    await waitFor(() => mediaPids.every((p) => !alive(p)), 'its ffmpeg processes gone', 30_000);

    const restarted = await startCallcast({ config: { port: 0, host: '127.0.0.1', apiKey, apiSecret, dataDir, logLevel: 'silent' } });
    try {
      const again = new StreamClient(apiKey, apiSecret, { basePath: restarted.url, timeout: 60_000 });
      const { recordings } = await again.video.call('default', 'crash').listRecordings();
      assert.equal(recordings.length, 1, 'the interrupted recording is listed');
      const res = await fetch(recordings[0]!.url);
      assert.equal(res.status, 200);
      const dir = mkdtempSync(join(tmpdir(), 'callcast-crashrec-'));
      try {
        const file = join(dir, 'r.mp4');
        writeFileSync(file, Buffer.from(await res.arrayBuffer()));
        const pr = await probe(file);
        t.diagnostic(`finished after the crash: ${pr.format.duration} s`);
        assert.equal(pr.video?.codec, 'h264');
        assert.ok(pr.format.duration > 1, `what was recorded is kept (${pr.format.duration} s)`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      assert.equal((await again.video.call('default', 'crash').get()).call.recording, false);
    } finally {
      await restarted.close();
    }
  });
});
