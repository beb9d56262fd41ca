/**
 * The whole broadcast flow, end to end: the official node SDK drives a Callcast server whose real
 * egress engine publishes to a real nginx-rtmp ingest (plain RTMP and RTMPS through a TLS proxy).
 * Signed webhooks go to a loopback receiver that verifies them with the SDK. What the ingest
 * recorded is read back with ffprobe, pixels included.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { StreamClient } from '@stream-io/node-sdk';
import { createLogger } from '../../src/log.js';
import { grabFrameRgb, pixelAt, probe } from '../support/ffprobe.js';
import { startNginxIngest, type NginxIngest } from '../support/rtmp-ingest.js';
import { startTestCallcast, type TestCallcast } from '../support/callcast.js';
import { waitFor } from '../support/wait.js';

interface ReceivedHook {
  id: string;
  attempt: string;
  apiKey: string;
  event: { type: string; call_cid?: string; name?: string; [k: string]: unknown };
}

/** A webhook receiver that only keeps deliveries whose signature the official SDK accepts. */
async function startWebhookReceiver(verifier: () => StreamClient | undefined) {
  const hooks: ReceivedHook[] = [];
  const rejected: string[] = [];
  const readBody = (req: IncomingMessage) =>
    new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });
  const server: Server = createServer(async (req, res) => {
    const body = await readBody(req);
    const signature = String(req.headers['x-signature'] ?? '');
    const client = verifier();
    let event: ReceivedHook['event'];
    try {
      if (!client || !client.verifyWebhook(body, signature)) throw new Error('bad signature');
      // The SDK's own parser accepts it too (it verifies again and decodes the event).
      const parsed = client.verifyAndParseWebhook(body, signature) as { type: string };
      if (parsed.type !== JSON.parse(body).type) throw new Error('parsed a different event');
      event = JSON.parse(body);
    } catch {
      rejected.push(body);
      res.writeHead(401).end();
      return;
    }
    hooks.push({
      id: String(req.headers['x-webhook-id']),
      attempt: String(req.headers['x-webhook-attempt']),
      apiKey: String(req.headers['x-api-key']),
      event,
    });
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    hooks,
    rejected,
    find: (type: string, name: string) => hooks.find((h) => h.event.type === type && h.event.name === name),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

function assertColorNear(actual: number[], expected: number[], what: string): void {
  for (let i = 0; i < 3; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= 20, `${what}: got rgb(${actual.join(',')}), want rgb(${expected.join(',')})`);
  }
}

/** Every line the service logs (pino JSON, as `callcast serve` writes it), kept for assertions. */
const logLines: string[] = [];
const captureLog = createLogger('info', { write: (line: string) => void logLines.push(line) });

describe('broadcasts through the node SDK to a real RTMP ingest', () => {
  let ingest: NginxIngest;
  let t: TestCallcast;
  let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
  const KEYS = { main: 'main-key-4f1c', backup: 'backup-key-9a2e', ended: 'ended-key-77d0' };

  before(async () => {
    ingest = await startNginxIngest({ allowedKeys: Object.values(KEYS) });
    receiver = await startWebhookReceiver(() => t?.client);
    // The complete service as `callcast serve` assembles it.
    t = await startTestCallcast({
      config: { webhookUrl: receiver.url },
      log: captureLog,
      egress: {
        tls: { ca: ingest.caCertPem },
        retry: { initialDelayMs: 200, maxDelayMs: 1000, giveUpAfterMs: 3000 },
        rtmp: { connectTimeoutMs: 3000, handshakeTimeoutMs: 3000, publishTimeoutMs: 3000 },
      },
    });
  });
  after(async () => {
    await t?.close();
    await receiver?.close();
    await ingest?.stop();
  });

  it('starts, reports, stops by name, fails, stops all and ends, with verified webhooks', async (tc) => {
    const client = t.client;
    await client.upsertUsers([{ id: 'host', name: 'Host', role: 'admin' }]);
    await client.video.updateCallType({
      name: 'livestream',
      settings: {
        broadcasting: {
          enabled: true,
          rtmp: {
            enabled: true,
            quality: '360p',
            layout: { name: 'spotlight', options: { 'layout.background_color': '#1040d0', 'title.text': 'Launch day' } },
          },
        },
      } as any,
    });
    const call = client.video.call('livestream', 'launch');
    const created = await call.getOrCreate({ data: { created_by_id: 'host' } });
    assert.equal(created.call.egress.broadcasting, false);
    assert.deepEqual(created.call.egress.rtmps, []);

    // Two destinations of the same quality and layout: one encode.
    await call.startRTMPBroadcasts({ broadcasts: [{ name: 'main', stream_url: ingest.url(), stream_key: KEYS.main }] });
    await call.startRTMPBroadcasts({ broadcasts: [{ name: 'backup', stream_url: ingest.secureUrl(), stream_key: KEYS.backup }] });

    let state = await call.get();
    assert.equal(state.call.egress.broadcasting, true);
    assert.deepEqual(state.call.egress.rtmps.map((r) => r.name).sort(), ['backup', 'main']);
    const main = state.call.egress.rtmps.find((r) => r.name === 'main')!;
    assert.equal(main.stream_url, ingest.url());
    assert.ok(main.started_at instanceof Date);

    await waitFor(() => receiver.find('call.rtmp_broadcast_started', 'main'), 'started webhook for main', 20_000);
    await waitFor(() => receiver.find('call.rtmp_broadcast_started', 'backup'), 'started webhook for backup', 20_000);
    assert.equal(t.server.engine.encoderCount(), 1);
    const startedHook = receiver.find('call.rtmp_broadcast_started', 'main')!;
    assert.equal(startedHook.event.call_cid, 'livestream:launch');
    assert.equal(startedHook.apiKey, t.apiKey);
    assert.equal(startedHook.attempt, '1');

    // A destination that refuses the key: a failed event, and it leaves the call's state.
    await call.startRTMPBroadcasts({ broadcasts: [{ name: 'refused', stream_url: ingest.url(), stream_key: 'not-a-valid-key' }] });
    const failedHook = await waitFor(() => receiver.find('call.rtmp_broadcast_failed', 'refused'), 'failed webhook for refused', 30_000);
    assert.equal(typeof failedHook.event.error, 'string');
    assert.ok(!String(failedHook.event.error).includes('not-a-valid-key'), 'the reason does not show the stream key');
    state = await call.get();
    assert.deepEqual(state.call.egress.rtmps.map((r) => r.name).sort(), ['backup', 'main']);

    // Let the broadcast run, then stop one by name: the other goes on.
    await new Promise((r) => setTimeout(r, 4000));
    await call.stopRTMPBroadcast({ name: 'main' });
    await waitFor(() => receiver.find('call.rtmp_broadcast_stopped', 'main'), 'stopped webhook for main', 10_000);
    state = await call.get();
    assert.deepEqual(
      state.call.egress.rtmps.map((r) => r.name),
      ['backup'],
    );
    assert.equal(state.call.egress.broadcasting, true);
    // The call's egress state carries the destination's live stats.
    const liveStats = (state.call.egress.rtmps[0] as unknown as { stats: { state: string; bytesSent: number; videoFramesSent: number } })
      .stats;
    assert.equal(liveStats.state, 'live');
    assert.ok(liveStats.bytesSent > 0 && liveStats.videoFramesSent > 0);
    const backupStats = t.server.engine.stats('livestream:launch').find((s) => s.name === 'backup');
    assert.equal(backupStats?.state, 'live');
    assert.equal(backupStats?.reconnects, 0);

    await call.stopAllRTMPBroadcasts();
    await waitFor(() => receiver.find('call.rtmp_broadcast_stopped', 'backup'), 'stopped webhook for backup', 10_000);
    state = await call.get();
    assert.equal(state.call.egress.broadcasting, false);
    assert.deepEqual(state.call.egress.rtmps, []);
    // The group's encoder stops with its last destination.
    await waitFor(() => t.server.engine.encoderCount() === 0, 'the encoder to stop', 10_000);

    // Ending the call stops its broadcasts.
    await call.startRTMPBroadcasts({ broadcasts: [{ name: 'ended', stream_url: ingest.url(), stream_key: KEYS.ended }] });
    await waitFor(() => receiver.find('call.rtmp_broadcast_started', 'ended'), 'started webhook for ended', 20_000);
    await call.end();
    await waitFor(() => receiver.find('call.rtmp_broadcast_stopped', 'ended'), 'stopped webhook for ended', 10_000);
    await waitFor(() => receiver.hooks.find((h) => h.event.type === 'call.ended'), 'call.ended webhook', 10_000);
    state = await call.get();
    assert.deepEqual(state.call.egress.rtmps, []);

    // Every delivery carried a signature the SDK accepts; call.updated followed the egress changes.
    assert.deepEqual(receiver.rejected, []);
    assert.ok(receiver.hooks.some((h) => h.event.type === 'call.updated'));

    // What the ingest received: the layout's empty state at 360p, H.264 + AAC.
    await new Promise((r) => setTimeout(r, 500));
    for (const name of ['main', 'backup'] as const) {
      const path = ingest.recordingPath(KEYS[name]);
      const info = await probe(path);
      tc.diagnostic(`${name}: ${JSON.stringify(info)}`);
      assert.equal(info.video?.codec, 'h264');
      assert.equal(info.video?.width, 640);
      assert.equal(info.video?.height, 360);
      assert.ok(Math.abs(info.video!.fps - 30) < 1, `fps ${info.video!.fps}`);
      assert.equal(info.audio?.codec, 'aac');
      assert.equal(info.audio?.sampleRate, 48000);
      assert.ok(info.format.duration >= 3, `duration ${info.format.duration}`);
      const frame = await grabFrameRgb(path, 2, 640, 360);
      // Background colour away from the title.
      assertColorNear(pixelAt(frame, 640, 320, 300), [0x10, 0x40, 0xd0], `${name} background`);
      // The title (white text, top-left) changes the pixels of its region.
      let titlePixels = 0;
      for (let y = 14; y < 50; y++) {
        for (let x = 14; x < 200; x++) {
          const [r, g, b] = pixelAt(frame, 640, x, y);
          if (r > 180 && g > 180 && b > 180) titlePixels++;
        }
      }
      assert.ok(titlePixels > 50, `${name}: title drawn (${titlePixels} bright pixels)`);
    }

    // The logs say why the refused destination failed, and never show a stream key.
    const log = logLines.join('\n');
    assert.match(log, /refused|REJECTED|rejected/i);
    for (const key of [...Object.values(KEYS), 'not-a-valid-key']) assert.ok(!log.includes(key), `stream key ${key} leaked into the log`);
  });
});
