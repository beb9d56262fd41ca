/**
 * The destination policy in the complete service, through the official node SDK: broadcasts to
 * internal addresses written literally are refused with a 400 naming the destination; a host
 * name that resolves to loopback is refused when the session connects (a failed event with the
 * reason, no connection made, no retries); CALLCAST_RTMP_ALLOW opens it.
 */
import assert from 'node:assert/strict';
import { lookup } from 'node:dns/promises';
import { createServer, type Server } from 'node:net';
import { hostname } from 'node:os';
import { after, before, describe, it } from 'node:test';
import type { Config } from '../../src/config.js';
import type { WireEvent } from '../../src/events/contract.js';
import { classifyAddress, parseIpLiteral } from '../../src/net/destination-policy.js';
import { startNginxIngest, type NginxIngest } from '../support/rtmp-ingest.js';
import { startTestCallcast, type TestCallcast } from '../support/callcast.js';
import { rawRequest } from '../support/server.js';
import { waitFor } from '../support/wait.js';
import { SignJWT } from 'jose';

async function enableBroadcasting(t: TestCallcast, id: string) {
  await t.client.upsertUsers([{ id: 'host', role: 'admin' }]);
  await t.client.video.updateCallType({
    name: 'livestream',
    settings: { broadcasting: { enabled: true, rtmp: { enabled: true, quality: '360p' } } } as any,
  });
  const call = t.client.video.call('livestream', id);
  await call.getOrCreate({ data: { created_by_id: 'host' } });
  return call;
}

describe('outgoing connections and the destination policy', () => {
  let strict: TestCallcast;
  let counting: Server;
  let connections = 0;
  let countingPort = 0;
  const events: WireEvent[] = [];

  before(async () => {
    // The default policy: no CALLCAST_RTMP_ALLOW.
    strict = await startTestCallcast({
      config: { rtmpAllow: undefined } as unknown as Partial<Config>,
      egress: { retry: { initialDelayMs: 200, maxDelayMs: 500, giveUpAfterMs: 20_000 }, rtmp: { connectTimeoutMs: 3000 } },
    });
    strict.server.bus.subscribe((e) => events.push(e));
    counting = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((r) => counting.listen(0, '127.0.0.1', r));
    countingPort = (counting.address() as { port: number }).port;
  });
  after(async () => {
    await strict?.server.close();
    await new Promise<void>((r) => counting.close(() => r()));
  });

  it('refuses internal addresses written literally with a 400 naming the destination', async (tc) => {
    const call = await enableBroadcasting(strict, 'literals');
    const ownPort = new URL(strict.server.url).port;
    const cases: Array<[string, RegExp]> = [
      ['rtmp://127.0.0.1:5432/live', /destination 127\.0\.0\.1:5432 is a loopback address/],
      [`rtmp://127.0.0.1:${ownPort}/live`, new RegExp(`destination 127\\.0\\.0\\.1:${ownPort} is a loopback address`)],
      ['rtmp://[::1]/live', /destination \[::1\]:1935 is a loopback address/],
      ['rtmp://169.254.169.254/live', /destination 169\.254\.169\.254:1935 is a link-local address/],
      ['rtmp://2130706433/live', /destination 127\.0\.0\.1:1935 is a loopback address/],
      ['rtmp://0.0.0.0/live', /destination 0\.0\.0\.0:1935 is an unspecified address/],
      ['rtmps://10.1.2.3/live', /destination 10\.1\.2\.3:443 is a private address/],
      ['rtmp://localhost:1935/live', /destination localhost:1935 is a loopback address/],
    ];
    for (const [url, reason] of cases) {
      await assert.rejects(call.startRTMPBroadcasts({ broadcasts: [{ name: 'x', stream_url: url, stream_key: 'k' }] }), (err: Error) => {
        assert.match(err.message, /Stream error code 4: StartRTMPBroadcasts failed with error: "broadcasts\[0\]\.stream_url: /, url);
        assert.match(err.message, reason, url);
        return true;
      });
    }
    const token = await new SignJWT({ server: true })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .sign(new TextEncoder().encode(strict.apiSecret));
    const raw = await rawRequest(
      { url: strict.server.url, apiKey: strict.apiKey },
      'POST',
      '/api/v2/video/call/livestream/literals/rtmp_broadcasts',
      {
        token,
        body: { broadcasts: [{ name: 'raw', stream_url: 'rtmp://2130706433:22/live', stream_key: 'k' }] },
      },
    );
    tc.diagnostic(`raw answer: ${raw.status} ${JSON.stringify(raw.body)}`);
    assert.equal(raw.status, 400);
    assert.equal(raw.body.code, 4);
    assert.equal((await call.get()).call.egress.rtmps.length, 0, 'nothing was started');
  });

  it('refuses a host name that resolves to loopback when connecting: failed event with the reason, no connection, no retries', async (tc) => {
    const name = hostname();
    const addresses = await lookup(name, { all: true }).catch(() => []);
    const internal = addresses.length > 0 && addresses.every((a) => classifyAddress(parseIpLiteral(a.address)!) !== 'public');
    if (!internal) return tc.skip(`the host name ${name} does not resolve to internal addresses only here`);
    tc.diagnostic(`${name} resolves to ${addresses.map((a) => a.address).join(', ')}`);
    const call = await enableBroadcasting(strict, 'by-name');
    await call.startRTMPBroadcasts({
      broadcasts: [{ name: 'named', stream_url: `rtmp://${name}:${countingPort}/live`, stream_key: 'named-key-51ab' }],
    });
    const failed = await waitFor(
      () => events.find((e) => e.type === 'call.rtmp_broadcast_failed' && e.name === 'named'),
      'the failed event',
      15_000,
    );
    tc.diagnostic(`failed event error: ${String(failed.error)}`);
    assert.match(String(failed.error), new RegExp(`destination ${name}:${countingPort} \\(127\\.0\\.0\\.1\\) is a loopback address`));
    assert.ok(!String(failed.error).includes('named-key-51ab'));
    assert.equal(connections, 0, 'no connection reached the address');
    assert.equal((await call.get()).call.egress.rtmps.length, 0, 'the failed broadcast left the state');
  });

  describe('with CALLCAST_RTMP_ALLOW', () => {
    let open: TestCallcast;
    let ingest: NginxIngest;
    before(async () => {
      ingest = await startNginxIngest({ allowedKeys: ['allowed-key-0c3d', 'allowed-key-0c3d-2'] });
      open = await startTestCallcast({ config: { rtmpAllow: `${hostname()},127.0.0.1:${ingest.rtmpPort}` } });
    });
    after(async () => {
      await open?.server.close();
      await ingest?.stop();
    });

    it('broadcasts to the allowed host name and address', async () => {
      const events: WireEvent[] = [];
      open.server.bus.subscribe((e) => events.push(e));
      const call = await enableBroadcasting(open, 'allowed');
      const port = ingest.rtmpPort;
      await call.startRTMPBroadcasts({ broadcasts: [{ name: 'by-address', stream_url: ingest.url(), stream_key: 'allowed-key-0c3d' }] });
      await waitFor(
        () => events.find((e) => e.type === 'call.rtmp_broadcast_started' && e.name === 'by-address'),
        'started by address',
        30_000,
      );
      const addresses = await lookup(hostname(), { all: true }).catch(() => []);
      if (addresses.some((a) => a.address === '127.0.0.1')) {
        await call.startRTMPBroadcasts({
          broadcasts: [{ name: 'by-name', stream_url: `rtmp://${hostname()}:${port}/live`, stream_key: 'allowed-key-0c3d-2' }],
        });
        await waitFor(
          () => events.find((e) => e.type === 'call.rtmp_broadcast_started' && e.name === 'by-name'),
          'started by name',
          30_000,
        );
      }
      // Another port of the same address stays refused.
      await assert.rejects(
        call.startRTMPBroadcasts({ broadcasts: [{ name: 'other-port', stream_url: 'rtmp://127.0.0.1:5432/live', stream_key: 'k' }] }),
        /127\.0\.0\.1:5432 is a loopback address/,
      );
    });
  });
});
