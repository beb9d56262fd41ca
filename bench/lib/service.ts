/**
 * Runs the service in a child process (bench/service-host.ts) so that its CPU and memory (the Node
 * process and its ffmpeg children) can be read from /proc apart from the bench's own work and the
 * publishers'. The API is driven through the Stream node SDK, as an integrator would.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StreamClient } from '@stream-io/node-sdk';
import { sampleTree, type TreeSample } from './proc.js';
import { waitExit } from '../../test/support/rtmp-ingest.js';

const READY_MARKER = 'CALLCAST_BENCH_READY';

export interface ServiceHandle {
  url: string;
  pid: number;
  apiKey: string;
  apiSecret: string;
  client: StreamClient;
  /** Whether WHIP participants' pictures reach the broadcasts, and why not when not. */
  media: { composited: boolean; reason: string | null };
  /** CPU and RSS of the service's process tree now. */
  sample(): TreeSample;
  /** WHIP endpoint of a call. */
  whipUrl(callType: string, callId: string): string;
  stop(): Promise<void>;
}

export async function startService(): Promise<ServiceHandle> {
  const dataDir = mkdtempSync(join(tmpdir(), 'callcast-bench-'));
  const apiKey = `bench-${randomBytes(4).toString('hex')}`;
  const apiSecret = randomBytes(24).toString('hex');
  const host = fileURLToPath(new URL('../service-host.ts', import.meta.url));
  // CALLCAST_BENCH_SERVICE_NODE_ARGS: extra Node options for the service only, e.g.
  // "--cpu-prof --cpu-prof-dir=/tmp/prof" to see where its CPU goes.
  const extra = (process.env.CALLCAST_BENCH_SERVICE_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const child = spawn(process.execPath, [...extra, '--import', 'tsx', host], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    env: { ...process.env, CALLCAST_API_KEY: apiKey, CALLCAST_API_SECRET: apiSecret, CALLCAST_DATA_DIR: dataDir },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    if (process.env.CALLCAST_BENCH_SERVICE_ECHO) process.stderr.write(d);
    stderr = (stderr + d).slice(-4000);
  });
  const ready = await new Promise<{ url: string; media: ServiceHandle['media'] }>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the service did not start within 60 s: ${stderr}`)), 60_000);
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      if (process.env.CALLCAST_BENCH_SERVICE_ECHO) process.stderr.write(d);
      out += d;
      const line = out.split('\n').find((l) => l.startsWith(READY_MARKER));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line.slice(READY_MARKER.length)) as { url: string; media: ServiceHandle['media'] });
      }
      if (out.length > 100_000) out = out.slice(-1000);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the service exited (${code}) before listening: ${stderr}`));
    });
  });
  child.stdout!.resume();
  const pid = child.pid!;
  const client = new StreamClient(apiKey, apiSecret, { basePath: ready.url, timeout: 20_000 });
  return {
    url: ready.url,
    pid,
    apiKey,
    apiSecret,
    client,
    media: ready.media,
    sample: () => sampleTree(pid),
    whipUrl: (type, id) => `${ready.url}/video/call/${type}/${id}/whip?api_key=${encodeURIComponent(apiKey)}`,
    stop: async () => {
      child.stdin!.end();
      child.kill('SIGTERM');
      if (!(await waitExit(child, 15_000))) {
        child.kill('SIGKILL');
        await waitExit(child, 5_000);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
