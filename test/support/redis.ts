/**
 * A throw-away Redis for tests: redis-server on 127.0.0.1, a free port, nothing saved to disk
 * (`--save ''`, no append-only file), stopped by PID. `restart` stops it and starts a new one on
 * the same port: everything it held is gone, as after a real Redis restart without persistence.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './rtmp-ingest.js';
import { sleep } from './wait.js';

export interface LocalRedis {
  url: string;
  port: number;
  /** Kills the server (SIGKILL) and starts a new, empty one on the same port. */
  restart(opts?: { downMs?: number }): Promise<void>;
  stop(): Promise<void>;
}

async function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1_000, () => done(false));
    s.on('error', () => done(false));
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

export async function startRedis(): Promise<LocalRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'callcast-redis-'));
  let child: ChildProcess | null = null;
  const launch = async () => {
    const c = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'yes'],
      { stdio: 'ignore' },
    );
    child = c;
    const deadline = Date.now() + 20_000;
    while (!(await answersPing(port))) {
      if (c.exitCode !== null) throw new Error(`redis-server exited with code ${c.exitCode}`);
      if (Date.now() > deadline) throw new Error('redis-server did not answer within 20 s');
      await sleep(50);
    }
  };
  const kill = async (signal: NodeJS.Signals) => {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((res) => c.once('exit', () => res()));
    c.kill(signal);
    const timer = setTimeout(() => c.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async restart(opts = {}) {
      await kill('SIGKILL');
      await sleep(opts.downMs ?? 0);
      await launch();
    },
    async stop() {
      await kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
