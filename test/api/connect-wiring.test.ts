/**
 * The control plane's side of the coordinator WebSocket: user token authentication, the user
 * upsert from user_details, and per-call read access, through a real WebSocket client.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { startTestServer, type TestServer } from '../support/server.js';
import { waitFor } from '../support/wait.js';

interface Client {
  messages: any[];
  ws: WebSocket;
}

async function connect(t: TestServer, token: string, userDetails: Record<string, unknown>): Promise<Client> {
  const ws = new WebSocket(`${t.url.replace('http', 'ws')}/video/connect?api_key=${t.apiKey}&stream-auth-type=jwt`);
  const messages: any[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(String(data))));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ token, user_details: userDetails }));
  await waitFor(() => messages.find((m) => m.type === 'connection.ok' || m.type === 'connection.error'), 'handshake answer');
  return { ws, messages };
}

describe('WebSocket wiring', () => {
  let t: TestServer;
  const clients: WebSocket[] = [];
  before(async () => {
    t = await startTestServer();
    await t.client.video.updateCallType({ name: 'audio_room', grants: { user: ['join-call'] } });
    await t.client.video.call('audio_room', 'mine').getOrCreate({ data: { created_by_id: 'owner' } });
    await t.client.video.call('audio_room', 'other').getOrCreate({ data: { created_by_id: 'owner' } });
  });
  after(async () => {
    for (const ws of clients) ws.terminate();
    await t?.close();
  });

  it('authenticates a call token, upserts the user, and scopes events to readable calls', async () => {
    const token = t.client.generateCallToken({ user_id: 'watcher', call_cids: ['audio_room:mine'] });
    const c = await connect(t, token, { id: 'watcher', name: 'Watcher', custom: { team: 'blue' } });
    clients.push(c.ws);
    const ok = c.messages.find((m) => m.type === 'connection.ok');
    assert.ok(ok, JSON.stringify(c.messages));
    assert.equal(ok.me.id, 'watcher');
    assert.equal(ok.me.name, 'Watcher');
    const stored = await t.client.queryUsers({ payload: { filter_conditions: { id: 'watcher' } } });
    assert.equal(stored.users[0]!.name, 'Watcher');
    assert.deepEqual(stored.users[0]!.custom, { team: 'blue' });

    await t.client.video.call('audio_room', 'other').update({ custom: { n: 1 } });
    await t.client.video
      .call('audio_room', 'mine')
      .startRTMPBroadcasts({ broadcasts: [{ name: 'ws', stream_url: 'rtmp://127.0.0.1/live' }] });
    const updated = await waitFor(
      () => c.messages.find((m) => m.type === 'call.updated' && m.call_cid === 'audio_room:mine'),
      'call.updated on the socket',
    );
    assert.equal(updated.call.egress.rtmps[0].name, 'ws');
    assert.ok(!c.messages.some((m) => m.call_cid === 'audio_room:other'), 'no events of a call the user may not read');
  });

  it('refuses expired tokens and server tokens', async () => {
    const expired = t.client.generateUserToken({
      user_id: 'late',
      iat: Math.floor(Date.now() / 1000) - 7200,
      exp: Math.floor(Date.now() / 1000) - 3600,
    });
    const c = await connect(t, expired, { id: 'late' });
    clients.push(c.ws);
    const err = c.messages.find((m) => m.type === 'connection.error');
    assert.ok(err, JSON.stringify(c.messages));
    assert.equal(err.error.code, 40);
    const serverToken = await new SignJWT({ server: true })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(t.apiSecret));
    const s = await connect(t, serverToken, { id: 'server' });
    clients.push(s.ws);
    const refused = s.messages.find((m) => m.type === 'connection.error');
    assert.ok(refused, JSON.stringify(s.messages));
    assert.equal(refused.error.code, 5);
  });
});
