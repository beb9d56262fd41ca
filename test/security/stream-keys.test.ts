/**
 * Stream keys and destination error details per principal and channel: server tokens and
 * principals that may start or stop broadcasts see them (GET call, GET broadcast, QueryCalls,
 * call.updated on the WebSocket); a plain reader gets the entries without them; webhooks keep them.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import type { DestinationStats } from '../../src/egress/contract.js';
import { rawRequest, startTestServer, type TestServer } from '../support/server.js';
import { RecordingEngine } from '../support/recording-engine.js';
import { waitFor } from '../support/wait.js';

const KEY = 'sk-live-0123456789-secret';
const ERROR_DETAIL = 'connect ECONNREFUSED 127.0.0.1:5432';

/** Reports a last error on every destination, as the egress does after a failed attempt. */
class FailingStatsEngine extends RecordingEngine {
  override stats(callCid: string): DestinationStats[] {
    return super.stats(callCid).map((s) => ({ ...s, state: 'reconnecting', lastError: ERROR_DETAIL }));
  }
}

interface Client {
  ws: WebSocket;
  messages: any[];
}

async function connect(t: TestServer, token: string, userId: string): Promise<Client> {
  const ws = new WebSocket(`${t.url.replace('http', 'ws')}/video/connect?api_key=${t.apiKey}&stream-auth-type=jwt`);
  const messages: any[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(String(data))));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ token, user_details: { id: userId } }));
  await waitFor(() => messages.find((m) => m.type === 'connection.ok'), `${userId} connected`);
  return { ws, messages };
}

describe('stream keys per principal and channel', () => {
  let t: TestServer;
  let receiver: Server;
  const webhooks: any[] = [];
  const clients: WebSocket[] = [];
  const engine = new FailingStatsEngine();

  before(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        webhooks.push(JSON.parse(body));
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const port = (receiver.address() as AddressInfo).port;
    t = await startTestServer({ engine: engine.bind, webhookUrl: `http://127.0.0.1:${port}/hooks` });
    await t.client.upsertUsers([{ id: 'owner' }, { id: 'viewer' }, { id: 'producer' }]);
    await t.client.video.call('default', 'keys').getOrCreate({
      data: { created_by_id: 'owner', members: [{ user_id: 'producer', role: 'host' }, { user_id: 'viewer' }] },
    });
  });
  after(async () => {
    for (const ws of clients) ws.terminate();
    await t?.close();
    receiver?.close();
  });

  it('gives keys and error details to operators only, on every channel', async () => {
    const viewerToken = t.client.generateUserToken({ user_id: 'viewer' });
    const producerToken = t.client.generateUserToken({ user_id: 'producer' });
    const viewerWs = await connect(t, viewerToken, 'viewer');
    const producerWs = await connect(t, producerToken, 'producer');
    clients.push(viewerWs.ws, producerWs.ws);

    const call = t.client.video.call('default', 'keys');
    await call.startRTMPBroadcasts({ broadcasts: [{ name: 'yt', stream_url: 'rtmps://a.example.test/live2', stream_key: KEY }] });

    // Server token (SDK): keys and details.
    const asServer = await call.get();
    assert.equal(asServer.call.egress.rtmps[0]!.stream_key, KEY);
    assert.equal((asServer.call.egress.rtmps[0] as any).stats.lastError, ERROR_DETAIL);

    // A plain reader: the entry without the key and without the error detail.
    const viewerGet = await rawRequest(t, 'GET', '/api/v2/video/call/default/keys', { token: viewerToken });
    assert.equal(viewerGet.status, 200);
    const entry = viewerGet.body.call.egress.rtmps[0];
    assert.equal(entry.name, 'yt');
    assert.equal(entry.stream_url, 'rtmps://a.example.test/live2');
    assert.equal('stream_key' in entry, false);
    assert.equal(entry.stats.state, 'reconnecting');
    assert.equal('lastError' in entry.stats, false);
    assert.ok(!JSON.stringify(viewerGet.body).includes(KEY));
    assert.ok(!JSON.stringify(viewerGet.body).includes('ECONNREFUSED'));

    const viewerDetails = await rawRequest(t, 'GET', '/api/v2/video/call/default/keys/rtmp_broadcasts/yt', { token: viewerToken });
    assert.equal(viewerDetails.status, 200);
    assert.equal(viewerDetails.body.broadcast.name, 'yt');
    assert.ok(!JSON.stringify(viewerDetails.body).includes(KEY));
    assert.ok(!JSON.stringify(viewerDetails.body).includes('ECONNREFUSED'));

    const viewerQuery = await rawRequest(t, 'POST', '/api/v2/video/calls', {
      token: viewerToken,
      body: { filter_conditions: { id: 'keys' } },
    });
    assert.equal(viewerQuery.status, 201);
    assert.equal(viewerQuery.body.calls.length, 1);
    assert.equal(viewerQuery.body.calls[0].call.egress.rtmps[0].name, 'yt');
    assert.ok(!JSON.stringify(viewerQuery.body).includes(KEY));

    // A principal that may start and stop broadcasts (role host in the call): keys and details.
    const producerGet = await rawRequest(t, 'GET', '/api/v2/video/call/default/keys', { token: producerToken });
    assert.equal(producerGet.body.call.egress.rtmps[0].stream_key, KEY);
    assert.equal(producerGet.body.call.egress.rtmps[0].stats.lastError, ERROR_DETAIL);
    const producerDetails = await rawRequest(t, 'GET', '/api/v2/video/call/default/keys/rtmp_broadcasts/yt', { token: producerToken });
    assert.equal(producerDetails.body.broadcast.stream_key, KEY);
    const producerQuery = await rawRequest(t, 'POST', '/api/v2/video/calls', {
      token: producerToken,
      body: { filter_conditions: { id: 'keys' } },
    });
    assert.equal(producerQuery.body.calls[0].call.egress.rtmps[0].stream_key, KEY);
    const serverQuery = await t.client.video.queryCalls({ filter_conditions: { id: 'keys' } });
    assert.equal(serverQuery.calls[0]!.call.egress.rtmps[0]!.stream_key, KEY);

    // WebSocket call.updated: without the key for the viewer, with it for the producer.
    const viewerUpdate = await waitFor(
      () => viewerWs.messages.find((m) => m.type === 'call.updated' && m.call.egress.rtmps.length === 1),
      'viewer call.updated',
    );
    assert.equal(viewerUpdate.call.egress.rtmps[0].name, 'yt');
    assert.equal('stream_key' in viewerUpdate.call.egress.rtmps[0], false);
    const producerUpdate = await waitFor(
      () => producerWs.messages.find((m) => m.type === 'call.updated' && m.call.egress.rtmps.length === 1),
      'producer call.updated',
    );
    assert.equal(producerUpdate.call.egress.rtmps[0].stream_key, KEY);

    // A failure's reason goes to operators only.
    engine.reportFailed('default:keys', 'yt', ERROR_DETAIL);
    const viewerFailed = await waitFor(() => viewerWs.messages.find((m) => m.type === 'call.rtmp_broadcast_failed'), 'viewer failed event');
    assert.equal(viewerFailed.name, 'yt');
    assert.equal('error' in viewerFailed, false);
    const producerFailed = await waitFor(
      () => producerWs.messages.find((m) => m.type === 'call.rtmp_broadcast_failed'),
      'producer failed event',
    );
    assert.equal(producerFailed.error, ERROR_DETAIL);
    for (const m of viewerWs.messages) assert.ok(!JSON.stringify(m).includes(KEY), `viewer message ${m.type} has no key`);

    // Webhooks go to the operator: keys kept.
    const hooked = await waitFor(
      () => webhooks.find((w) => w.type === 'call.updated' && w.call?.egress?.rtmps?.length === 1),
      'call.updated webhook',
    );
    assert.equal(hooked.call.egress.rtmps[0].stream_key, KEY);
  });
});
