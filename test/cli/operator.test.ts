/**
 * The operator commands (`callcast calls`, `callcast broadcast start|stop|list`) run as child
 * processes against the complete service, with a real RTMP ingest (nginx-rtmp) as destination;
 * what they did is checked through the official node SDK.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { startTestCallcast, type TestCallcast } from '../support/callcast.js';
import { freePort, startNginxIngest, type NginxIngest } from '../support/rtmp-ingest.js';

const execFileP = promisify(execFile);
const CLI = join(import.meta.dirname, '../../src/cli.ts');
const STREAM_KEY = 'cli-key-8d2e41';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], env: Record<string, string | undefined>): Promise<Run> {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, ['--import', 'tsx', CLI, ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

async function poll<T>(fn: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 60_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(v)})`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('operator CLI against a running server', { timeout: 600_000 }, () => {
  let svc: TestCallcast;
  let ingest: NginxIngest;
  let env: Record<string, string>;

  before(async () => {
    [svc, ingest] = await Promise.all([startTestCallcast(), startNginxIngest()]);
    env = { CALLCAST_URL: svc.url, CALLCAST_API_KEY: svc.apiKey, CALLCAST_API_SECRET: svc.apiSecret };
    await svc.client.upsertUsers([{ id: 'host', name: 'Host' }]);
    await svc.client.video.call('default', 'standup').getOrCreate({ data: { created_by_id: 'host', custom: { title: 'Daily standup' } } });
    await svc.client.video.call('livestream', 'launch').getOrCreate({ data: { created_by_id: 'host' } });
  });

  after(async () => {
    await svc?.close();
    await ingest?.stop();
  });

  test('calls: lists the calls with their title and live state; --json for scripts', async () => {
    const table = await cli(['calls'], env);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^CALL\s+TITLE\s+CREATED\s+STATE\s+PARTICIPANTS\s+BROADCASTS$/);
    assert.ok(
      lines.some((l) => /^default:standup\s+Daily standup\s+\S+ \S+\s+idle\s+0\s+-$/.test(l)),
      table.stdout,
    );
    assert.ok(
      lines.some((l) => l.startsWith('livestream:launch ')),
      table.stdout,
    );

    const json = await cli(['calls', '--json', '--limit', '10'], env);
    assert.equal(json.code, 0, json.stderr);
    const { calls } = JSON.parse(json.stdout) as {
      calls: Array<{ cid: string; title: string; participants: number; broadcasts: unknown[] }>;
    };
    const standup = calls.find((c) => c.cid === 'default:standup');
    assert.deepEqual(
      { ...standup, created_at: undefined },
      { cid: 'default:standup', title: 'Daily standup', created_at: undefined, ended: false, participants: 0, broadcasts: [] },
    );
    // The same calls as the API lists.
    const viaSdk = await svc.client.video.queryCalls({ limit: 10 });
    assert.deepEqual(calls.map((c) => c.cid).sort(), viaSdk.calls.map((c) => c.call.cid).sort());
  });

  test('broadcast start, list and stop: the API reports each step', async () => {
    const call = svc.client.video.call('default', 'standup');
    const start = await cli(
      [
        'broadcast',
        'start',
        '--call',
        'default:standup',
        '--name',
        'local',
        '--url',
        ingest.url('live'),
        '--key',
        STREAM_KEY,
        '--quality',
        '360p',
        '--layout',
        'grid',
      ],
      env,
    );
    assert.equal(start.code, 0, start.stderr);
    assert.match(start.stdout, /Started broadcast "local" of default:standup/);
    assert.ok(!start.stdout.includes(STREAM_KEY) && !start.stderr.includes(STREAM_KEY), 'the stream key is never printed in full');
    assert.match(start.stdout, /\(key ••••2e41\)/);

    // The API holds it, with the quality and layout given.
    const { call: state } = await call.get();
    assert.deepEqual(
      state.egress.rtmps.map((r) => r.name),
      ['local'],
    );
    const details = (await fetch(`${svc.url}/api/v2/video/call/default/standup/rtmp_broadcasts/local?api_key=${svc.apiKey}`, {
      headers: { Authorization: svc.client.createToken('host'), 'stream-auth-type': 'jwt' },
    }).then((r) => r.json())) as { broadcast: { quality: string; layout: { name: string } } };
    assert.equal(details.broadcast.quality, '360p');
    assert.equal(details.broadcast.layout.name, 'grid');

    // `list` shows it going live at the ingest, with bytes sent.
    const live = await poll(
      async () => {
        const r = await cli(['broadcast', 'list', '--call', 'default:standup', '--json'], env);
        assert.equal(r.code, 0, r.stderr);
        return JSON.parse(r.stdout) as {
          broadcasts: Array<{ name: string; state: string; bytes_sent: number; stream_url: string; quality: string; layout: string }>;
        };
      },
      (v) => v.broadcasts[0]?.state === 'live' && v.broadcasts[0].bytes_sent > 0,
      'the broadcast to be live',
    );
    assert.equal(live.broadcasts.length, 1);
    assert.equal(live.broadcasts[0]!.stream_url, ingest.url('live'));
    assert.equal(live.broadcasts[0]!.quality, '360p');
    assert.equal(live.broadcasts[0]!.layout, 'grid');
    assert.ok(!JSON.stringify(live).includes(STREAM_KEY));
    const table = await cli(['broadcast', 'list', '--call', 'default:standup'], env);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^NAME\s+STATE\s+QUALITY\s+LAYOUT\s+BITRATE\s+SENT\s+RECONNECTS\s+URL\s+LAST ERROR\n/);
    assert.match(table.stdout, /\nlocal\s+live\s+360p\s+grid\s+\S+/);

    // `calls` shows it as well.
    const calls = await cli(['calls'], env);
    assert.match(calls.stdout, /default:standup\s+Daily standup\s+\S+ \S+\s+live\s+0\s+local \(live\)/);

    // A second one, then stop by name and stop all.
    const second = await cli(
      ['broadcast', 'start', '--call', 'default:standup', '--name', 'backup', '--url', `${ingest.url('live')}/backup`, '--json'],
      env,
    );
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(JSON.parse(second.stdout), {
      started: {
        call_cid: 'default:standup',
        name: 'backup',
        stream_url: `${ingest.url('live')}/backup`,
        stream_key: null,
        quality: null,
        layout: null,
      },
    });
    assert.deepEqual((await call.get()).call.egress.rtmps.map((r) => r.name).sort(), ['backup', 'local']);

    const stopOne = await cli(['broadcast', 'stop', '--call', 'default:standup', '--name', 'local'], env);
    assert.equal(stopOne.code, 0, stopOne.stderr);
    assert.equal(stopOne.stdout, 'Stopped "local" in default:standup.\n');
    assert.deepEqual(
      (await call.get()).call.egress.rtmps.map((r) => r.name),
      ['backup'],
    );

    const stopAll = await cli(['broadcast', 'stop', '--call', 'default:standup', '--all', '--json'], env);
    assert.equal(stopAll.code, 0, stopAll.stderr);
    assert.deepEqual(JSON.parse(stopAll.stdout), { call_cid: 'default:standup', stopped: ['backup'] });
    const after = await call.get();
    assert.equal(after.call.egress.broadcasting, false);
    assert.deepEqual(after.call.egress.rtmps, []);
    const empty = await cli(['broadcast', 'list', '--call', 'default:standup'], env);
    assert.equal(empty.stdout, 'No broadcast is running.\n');
  });

  test('errors: usage 2, server refusal 1 with the API message, unreachable 3', async () => {
    for (const args of [
      ['broadcast'],
      ['broadcast', 'launch'],
      ['broadcast', 'start', '--call', 'default:standup', '--name', 'x'],
      ['broadcast', 'start', '--call', 'standup', '--name', 'x', '--url', 'rtmp://127.0.0.1/live'],
      ['broadcast', 'start', '--call', 'default:standup', '--name', 'x', '--url', 'http://example.com/live'],
      ['broadcast', 'start', '--call', 'default:standup', '--name', 'x', '--url', 'rtmp://127.0.0.1/live', '--quality', '4k'],
      ['broadcast', 'stop', '--call', 'default:standup'],
      ['broadcast', 'stop', '--call', 'default:standup', '--name', 'a', '--all'],
      ['calls', '--limit', 'many'],
      ['calls', '--bogus'],
    ]) {
      const r = await cli(args, env);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^callcast: .+\nRun "callcast --help" for usage\.\n$/, args.join(' '));
    }
    const noCreds = await cli(['calls'], { CALLCAST_URL: svc.url, CALLCAST_DATA_DIR: '/nonexistent' });
    assert.equal(noCreds.code, 2);
    assert.match(noCreds.stderr, /CALLCAST_API_KEY and CALLCAST_API_SECRET/);

    const missing = await cli(['broadcast', 'stop', '--call', 'default:standup', '--name', 'nothing'], env);
    assert.equal(missing.code, 1, missing.stderr);
    assert.equal(
      missing.stderr,
      'callcast: StopRTMPBroadcast failed with error: "no active broadcast named "nothing" in call default:standup" (HTTP 404)\n',
    );
    const unknownCall = await cli(['broadcast', 'list', '--call', 'default:nope'], env);
    assert.equal(unknownCall.code, 1);
    assert.match(unknownCall.stderr, /^callcast: GetCall failed with error: .*default:nope.* \(HTTP 404\)\n$/);
    const wrongSecret = await cli(['calls'], { ...env, CALLCAST_API_SECRET: 'not-the-secret' });
    assert.equal(wrongSecret.code, 1);
    assert.match(
      wrongSecret.stderr,
      /^callcast: QueryCalls failed with error: "token signature is invalid" \(HTTP 401\)\ncallcast: check the API key and secret/,
    );
    assert.ok(!wrongSecret.stderr.includes('not-the-secret'), 'the secret is not printed');

    const port = await freePort();
    const down = await cli(['calls'], { ...env, CALLCAST_URL: `http://127.0.0.1:${port}` });
    assert.equal(down.code, 3);
    assert.match(
      down.stderr,
      new RegExp(`cannot reach Callcast at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\): is the server running\\?`),
    );
  });

  test('--help documents every command', async () => {
    const r = await cli(['--help'], {});
    assert.equal(r.code, 0);
    for (const s of [
      'calls',
      'broadcast start',
      'broadcast stop',
      'broadcast list',
      '--call TYPE:ID',
      '--name NAME | --all',
      '--key KEY',
      '--quality Q',
      '--layout L',
      '--json',
      'CALLCAST_URL',
      'CALLCAST_API_SECRET',
      'Exit codes',
    ]) {
      assert.ok(r.stdout.includes(s), `help mentions ${s}`);
    }
    const sub = await cli(['broadcast', 'start', '--help'], {});
    assert.equal(sub.code, 0);
    assert.match(sub.stdout, /broadcast start options:/);
  });
});
