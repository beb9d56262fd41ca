/**
 * A throw-away PostgreSQL server that a test can stop (`pg_ctl stop -m fast`), start again on the
 * same port and data, and whose backend connections it can kill: for store outage tests.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../support/rtmp-ingest.js';

const PG_BIN = process.env.CALLCAST_PG_BIN ?? '/usr/lib/postgresql/15/bin';

function asPostgres(cmd: string, args: string[]): string[] {
  return process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--', cmd, ...args] : [cmd, ...args];
}

function run(argv: string[], what: string, timeoutMs = 60_000): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: timeoutMs });
  if (r.status !== 0) throw new Error(`${what} failed (${r.status ?? r.signal}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

export interface ControlledPostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  /** `pg_ctl stop -m fast`: every connection is closed by the server, which exits. */
  stopFast(): void;
  /** `pg_ctl start -w` on the same port and data. */
  start(): void;
  /** pg_terminate_backend on every other connection to the database; returns how many. */
  terminateBackends(): Promise<number>;
  /** Stops the server (immediately) and removes its files. */
  destroy(): void;
}

export async function startControlledPostgres(): Promise<ControlledPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'callcast-pgctl-'));
  chmodSync(dir, 0o777);
  const dataDir = join(dir, 'data');
  if (process.getuid?.() === 0) run(['chown', 'postgres:postgres', dir], 'chown');
  run(asPostgres(join(PG_BIN, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']), 'initdb');
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -h 127.0.0.1 -c fsync=off -c max_connections=50`;
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const start = () => {
    run(
      asPostgres(join(PG_BIN, 'pg_ctl'), ['-D', dataDir, '-o', options, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start']),
      'pg_ctl start',
      90_000,
    );
  };
  start();
  let destroyed = false;
  return {
    url,
    stopFast: () =>
      void run(asPostgres(join(PG_BIN, 'pg_ctl'), ['-D', dataDir, '-m', 'fast', '-w', '-t', '60', 'stop']), 'pg_ctl stop -m fast', 90_000),
    start,
    async terminateBackends() {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const res = await client.query(
          'select count(pg_terminate_backend(pid)) as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()',
        );
        return Number(res.rows[0].n);
      } finally {
        await client.end();
      }
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      spawnSync(
        asPostgres(join(PG_BIN, 'pg_ctl'), ['-D', dataDir, '-m', 'immediate', 'stop'])[0]!,
        asPostgres(join(PG_BIN, 'pg_ctl'), ['-D', dataDir, '-m', 'immediate', 'stop']).slice(1),
        { timeout: 30_000 },
      );
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
