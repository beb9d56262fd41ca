/**
 * The store goes away under a running service: PostgreSQL stopped with a fast shutdown and
 * started again, then every backend connection killed. The complete service (as `callcast serve`
 * assembles it) keeps its process and its broadcast to a real nginx-rtmp ingest, answers 503 in
 * Stream's error shape while the store is away, keeps the writes that must not be lost (a
 * broadcast that fails during the outage leaves the state, and its webhook arrives), and works
 * again once PostgreSQL is back.
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { createLogger } from '../../src/log.js';
import { probe } from '../support/ffprobe.js';
import { startNginxIngest, type NginxIngest } from '../support/rtmp-ingest.js';
import { startTestCallcast, type TestCallcast } from '../support/callcast.js';
import { rawRequest } from '../support/server.js';
import { startControlledPostgres, type ControlledPostgres } from './controlled-postgres.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function until<T>(
  check: () => Promise<T | null | undefined | false> | T | null | undefined | false,
  what: string,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

const logLines: string[] = [];
const captureLog = createLogger('info', { write: (line: string) => void logLines.push(line) });

describe('the service through a PostgreSQL outage', () => {
  let pgc: ControlledPostgres;
  let ingest: NginxIngest;
  let t: TestCallcast;
  let hooksServer: Server;
  const hooks: Array<{ type: string; name?: string }> = [];
  let serverToken = '';
  const KEYS = { main: 'main-key-outage-31f0' };
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => uncaught.push(err);

  before(async () => {
    process.on('uncaughtException', onUncaught);
    pgc = await startControlledPostgres();
    ingest = await startNginxIngest({ allowedKeys: Object.values(KEYS) });
    hooksServer = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { type: string; name?: string };
        hooks.push({ type: event.type, ...(event.name ? { name: event.name } : {}) });
        res.writeHead(200).end('{}');
      });
    });
    await new Promise<void>((r) => hooksServer.listen(0, '127.0.0.1', r));
    t = await startTestCallcast({
      config: { databaseUrl: pgc.url, webhookUrl: `http://127.0.0.1:${(hooksServer.address() as AddressInfo).port}/hooks` },
      log: captureLog,
      egress: { retry: { initialDelayMs: 200, maxDelayMs: 1000, giveUpAfterMs: 3000 }, rtmp: { connectTimeoutMs: 3000 } },
    });
    serverToken = await new SignJWT({ server: true })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .sign(new TextEncoder().encode(t.apiSecret));
  });
  after(async () => {
    process.off('uncaughtException', onUncaught);
    await t?.server.close();
    await ingest?.stop();
    await new Promise<void>((r) => (hooksServer ? hooksServer.close(() => r()) : r()));
    pgc?.destroy();
  });

  it('keeps broadcasting, answers 503 while PostgreSQL is stopped or its connections are killed, and recovers', {
    timeout: 240_000,
  }, async (tc) => {
    const client = t.client;
    await client.upsertUsers([{ id: 'host', name: 'Host', role: 'admin' }]);
    await client.video.updateCallType({
      name: 'livestream',
      settings: { broadcasting: { enabled: true, rtmp: { enabled: true, quality: '360p' } } } as any,
    });
    const call = client.video.call('livestream', 'outage');
    await call.getOrCreate({ data: { created_by_id: 'host' } });
    await call.startRTMPBroadcasts({ broadcasts: [{ name: 'main', stream_url: ingest.url(), stream_key: KEYS.main }] });
    await until(() => t.server.engine.stats('livestream:outage').find((s) => s.name === 'main' && s.state === 'live'), 'main live', 30_000);
    const recording = ingest.recordingPath(KEYS.main);
    await until(() => sizeOf(recording) > 0, 'the ingest to record', 15_000);

    // A destination the ingest refuses: it fails (3 s give-up) while the store is away.
    await call.startRTMPBroadcasts({ broadcasts: [{ name: 'doomed', stream_url: ingest.url(), stream_key: 'refused-key' }] });

    // ---- 1. fast shutdown -------------------------------------------------------------------
    const beforeStop = sizeOf(recording);
    const stoppedAt = Date.now();
    pgc.stopFast();
    tc.diagnostic(`pg_ctl stop -m fast took ${Date.now() - stoppedAt} ms`);
    const down = await rawRequest(t, 'GET', '/api/v2/video/call/livestream/outage', { token: serverToken });
    assert.equal(down.status, 503);
    assert.equal(down.body.StatusCode, 503);
    assert.equal(down.body.code, -1);
    assert.match(
      down.body.message,
      /^GetCall failed with error: "the service is temporarily unavailable \(store unreachable\); retry shortly"$/,
    );
    assert.equal(typeof down.body.duration, 'string');
    assert.deepEqual(down.body.details, []);
    assert.equal(down.headers.get('retry-after'), '5');
    await assert.rejects(call.get(), (err: Error) => /Stream error code -1/.test(err.message), 'the SDK sees the error');
    // /metrics does not need the store: it answers, with the last known dead-webhook count.
    const metrics = await fetch(`${t.server.url}/metrics`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /^callcast_webhook_dead 0$/m);
    const stopAttempt = await rawRequest(t, 'POST', '/api/v2/video/call/livestream/outage/rtmp_broadcasts/main/stop', {
      token: serverToken,
      body: {},
    });
    assert.equal(stopAttempt.status, 503, 'a stop needs the store: refused, and the broadcast goes on');

    // The outage lasts 8 s: the doomed destination fails in it, the main one keeps streaming.
    await sleep(8_000);
    const duringStop = sizeOf(recording);
    tc.diagnostic(`ingest recording: ${beforeStop} bytes at the stop, ${duringStop} bytes 8 s later`);
    assert.ok(duringStop > beforeStop, 'the ingest kept receiving while PostgreSQL was down');
    assert.equal(t.server.engine.stats('livestream:outage').find((s) => s.name === 'main')?.state, 'live');
    assert.equal(
      t.server.engine.stats('livestream:outage').find((s) => s.name === 'doomed'),
      undefined,
      'the doomed destination failed',
    );

    pgc.start();
    const backAfter = await until(
      async () => {
        const r = await rawRequest(t, 'GET', '/api/v2/video/call/livestream/outage', { token: serverToken });
        return r.status === 200 ? r : null;
      },
      'the API to answer after PostgreSQL restarted',
      30_000,
    );
    tc.diagnostic(`API answered 200 again ${Date.now() - stoppedAt} ms after the stop`);
    // State consistent: the failure during the outage reached the store; main is still active.
    const names = (backAfter.body.call.egress.rtmps as Array<{ name: string }>).map((r) => r.name);
    await until(
      async () => {
        const r = await rawRequest(t, 'GET', '/api/v2/video/call/livestream/outage', { token: serverToken });
        return r.status === 200 && (r.body.call.egress.rtmps as Array<{ name: string }>).map((x) => x.name).join() === 'main';
      },
      `the failed broadcast to leave the stored state (was ${names.join()})`,
      20_000,
    );
    await until(
      () => hooks.find((h) => h.type === 'call.rtmp_broadcast_failed' && h.name === 'doomed'),
      'the failed webhook published during the outage',
      30_000,
    );
    assert.equal(
      t.server.engine.stats('livestream:outage').find((s) => s.name === 'main')?.reconnects,
      0,
      'the ingest session was never interrupted',
    );

    // ---- 2. killed backend connections ------------------------------------------------------
    // Fill the pool with idle connections, then kill them all.
    await Promise.all(Array.from({ length: 6 }, () => call.get()));
    const killed = await pgc.terminateBackends();
    tc.diagnostic(`pg_terminate_backend ended ${killed} connections`);
    assert.ok(killed > 0);
    const beforeKill = sizeOf(recording);
    const statuses: number[] = [];
    const ok = await until(
      async () => {
        const r = await rawRequest(t, 'GET', '/api/v2/video/call/livestream/outage', { token: serverToken });
        statuses.push(r.status);
        if (r.status !== 200) assert.equal(r.status, 503, 'while reconnecting, requests are answered 503');
        return r.status === 200 ? r : null;
      },
      'the API after the killed connections',
      20_000,
    );
    tc.diagnostic(`answers after the kill: ${statuses.join(',')}`);
    assert.deepEqual(
      (ok.body.call.egress.rtmps as Array<{ name: string }>).map((x) => x.name),
      ['main'],
    );
    await sleep(2_000);
    assert.ok(sizeOf(recording) > beforeKill, 'the ingest kept receiving');

    // The API works for writes too, and the broadcast stops cleanly.
    await call.update({ custom: { after: 'outage' } });
    await call.stopRTMPBroadcast({ name: 'main' });
    await until(() => hooks.find((h) => h.type === 'call.rtmp_broadcast_stopped' && h.name === 'main'), 'stopped webhook', 20_000);
    const info = await probe(recording);
    tc.diagnostic(`recording: ${JSON.stringify(info)}`);
    assert.equal(info.video?.codec, 'h264');
    assert.ok(info.format.duration > 10, `the recording spans the outage (${info.format.duration} s)`);

    assert.deepEqual(uncaught, [], 'no uncaught exception');
    const logText = logLines.join('');
    assert.match(logText, /store connection lost/);
    assert.match(logText, /request answered 503: the store is unavailable/);
    assert.doesNotMatch(logText, new RegExp(KEYS.main), 'stream keys never appear in logs');
    assert.doesNotMatch(logText, new RegExp(t.apiSecret), 'the API secret never appears in logs');
  });
});
