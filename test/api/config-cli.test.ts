/**
 * Configuration parsing, development credentials, and the CLI (`token`, `serve`, errors) run as
 * a real child process.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { jwtVerify } from 'jose';
import { ConfigError, loadConfig, resolveCredentials } from '../../src/config.js';

const CLI = join(import.meta.dirname, '../../src/cli.ts');
const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'callcast-cli-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function runCli(args: string[], env: Record<string, string> = {}) {
  const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CALLCAST_')));
  return spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...cleanEnv, ...env },
    cwd: join(import.meta.dirname, '../..'),
  });
}

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    assert.deepEqual(loadConfig({}), { port: 3030, host: '127.0.0.1', dataDir: './data', logLevel: 'info' });
  });

  it('reads every variable', () => {
    const c = loadConfig({
      CALLCAST_PORT: '4000',
      CALLCAST_HOST: '0.0.0.0',
      CALLCAST_API_KEY: 'k',
      CALLCAST_API_SECRET: 's',
      CALLCAST_DATABASE_URL: 'postgres://u@127.0.0.1/db',
      CALLCAST_WEBHOOK_URL: 'http://127.0.0.1:9/hook',
      CALLCAST_DATA_DIR: '/tmp/x',
      CALLCAST_LOG_LEVEL: 'debug',
      CALLCAST_PUBLIC_URL: 'https://callcast.example.test/',
    });
    assert.deepEqual(c, {
      port: 4000,
      host: '0.0.0.0',
      apiKey: 'k',
      apiSecret: 's',
      databaseUrl: 'postgres://u@127.0.0.1/db',
      webhookUrl: 'http://127.0.0.1:9/hook',
      dataDir: '/tmp/x',
      logLevel: 'debug',
      publicUrl: 'https://callcast.example.test',
    });
  });

  it('refuses bad values with clear errors', () => {
    assert.throws(() => loadConfig({ CALLCAST_PORT: 'abc' }), ConfigError);
    assert.throws(() => loadConfig({ CALLCAST_PORT: '70000' }), /port number/);
    assert.throws(() => loadConfig({ CALLCAST_LOG_LEVEL: 'loud' }), /CALLCAST_LOG_LEVEL/);
    assert.throws(() => loadConfig({ CALLCAST_API_KEY: 'k' }), /set together/);
    assert.throws(() => loadConfig({ CALLCAST_DATABASE_URL: 'mysql://x' }), /postgres/);
    assert.throws(() => loadConfig({ CALLCAST_WEBHOOK_URL: 'ftp://x' }), /CALLCAST_WEBHOOK_URL/);
  });
});

describe('development credentials', () => {
  it('are generated once, kept private in the data dir, and stable', () => {
    const dataDir = tempDir();
    const first = resolveCredentials(loadConfig({ CALLCAST_DATA_DIR: dataDir }));
    assert.equal(first.generated, true);
    assert.ok(first.apiKey.length >= 8 && first.apiSecret.length >= 32);
    assert.equal(statSync(join(dataDir, 'credentials.json')).mode & 0o777, 0o600);
    const second = resolveCredentials(loadConfig({ CALLCAST_DATA_DIR: dataDir }));
    assert.deepEqual(second, first);
    const configured = resolveCredentials(loadConfig({ CALLCAST_DATA_DIR: dataDir, CALLCAST_API_KEY: 'k', CALLCAST_API_SECRET: 's' }));
    assert.deepEqual(configured, { apiKey: 'k', apiSecret: 's', generated: false });
  });
});

describe('CLI', () => {
  it('mints a user token with the configured secret and claims', async () => {
    const res = runCli(['token', '--user', 'alice', '--ttl', '120', '--call-cids', 'default:a,livestream:b', '--role', 'host'], {
      CALLCAST_API_KEY: 'key',
      CALLCAST_API_SECRET: 'the-secret',
    });
    assert.equal(res.status, 0, res.stderr);
    const { payload, protectedHeader } = await jwtVerify(res.stdout.trim(), new TextEncoder().encode('the-secret'));
    assert.equal(protectedHeader.alg, 'HS256');
    assert.equal(payload.user_id, 'alice');
    assert.deepEqual(payload.call_cids, ['default:a', 'livestream:b']);
    assert.equal(payload.role, 'host');
    assert.equal((payload.exp as number) - (payload.iat as number), 120);
  });

  it('uses the development credentials of the data dir', async () => {
    const dataDir = tempDir();
    const res = runCli(['token', '--user', 'bob', '--data-dir', dataDir]);
    assert.equal(res.status, 0, res.stderr);
    const creds = resolveCredentials(loadConfig({ CALLCAST_DATA_DIR: dataDir }));
    await jwtVerify(res.stdout.trim(), new TextEncoder().encode(creds.apiSecret));
  });

  it('explains bad flags and commands', () => {
    for (const [args, pattern] of [
      [['token'], /--user ID is required/],
      [['token', '--user', 'a', '--ttl', 'soon'], /--ttl must be a whole number/],
      [['token', '--user', 'a', '--call-cids', 'nocolon'], /--call-cids must be/],
      [['token', '--user', 'a', '--wat'], /Unknown option '--wat'/],
      [['serve', '--port', 'x'], /--port must be a port number/],
      [['launch'], /unknown command "launch"/],
    ] as Array<[string[], RegExp]>) {
      const res = runCli(args, { CALLCAST_API_KEY: 'k', CALLCAST_API_SECRET: 's' });
      assert.equal(res.status, 2, `${args.join(' ')}: ${res.stderr}`);
      assert.match(res.stderr, pattern);
    }
    const help = runCli(['--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /Usage: callcast/);
  });

  it('serve prints the URL, the key, and the generated secret; it answers the SDK; SIGTERM stops it', async () => {
    const dataDir = tempDir();
    // The broadcast engine is not needed to serve the API; the integrator's e2e tests cover it.
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve', '--port', '0', '--data-dir', dataDir, '--log-level', 'warn'], {
      cwd: join(import.meta.dirname, '../..'),
      env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CALLCAST_'))),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    try {
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      const ready = await Promise.race([
        new Promise<boolean>((resolve) => {
          const check = setInterval(() => {
            if (/API secret: /.test(out)) {
              clearInterval(check);
              resolve(true);
            }
          }, 50);
          void exited.then(() => clearInterval(check));
        }),
        exited.then(() => false),
      ]);
      if (!ready) {
        // The egress engine may be unavailable in this checkout; report what serve said.
        assert.fail(`serve exited early: ${err}${out}`);
      }
      const url = /listening on (http:\/\/\S+)/.exec(out)![1]!;
      const key = /API key:\s+(\S+)/.exec(out)![1]!;
      const secret = /API secret:\s+(\S+)/.exec(out)![1]!;
      assert.deepEqual(resolveCredentials(loadConfig({ CALLCAST_DATA_DIR: dataDir })), { apiKey: key, apiSecret: secret, generated: true });
      const { StreamClient } = await import('@stream-io/node-sdk');
      const client = new StreamClient(key, secret, { basePath: url, timeout: 10_000 });
      const types = await client.video.listCallTypes();
      assert.ok(types.call_types.default);
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      assert.ok(!err.includes(secret), 'the secret is never logged');
    } finally {
      clearTimeout(killer);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
