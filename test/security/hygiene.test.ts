/**
 * Token and input hygiene over raw HTTP and a WebSocket: a connection whose token expires is
 * closed with Stream's token-expired error (40); bounded lengths; user:password@ refused in a
 * stream URL; very deep or very wide query filters answered 400.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { CONNECT_CLOSE_CODES } from '../../src/http/connect.js';
import { rawRequest, startTestServer, type TestServer } from '../support/server.js';
import { waitFor } from '../support/wait.js';

describe('token and input hygiene', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
    await t.client.video.call('default', 'hy').getOrCreate({ data: { created_by_id: 'owner' } });
  });
  after(async () => {
    await t?.close();
  });

  it('closes a WebSocket when its token expires', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = t.client.generateUserToken({ user_id: 'shortlived', iat: now - 10, exp: now + 2 });
    const ws = new WebSocket(`${t.url.replace('http', 'ws')}/video/connect?api_key=${t.apiKey}&stream-auth-type=jwt`);
    const messages: any[] = [];
    let closed: { code: number } | null = null;
    ws.on('message', (d) => messages.push(JSON.parse(String(d))));
    ws.on('close', (code) => (closed = { code }));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.send(JSON.stringify({ token, user_details: { id: 'shortlived' } }));
    await waitFor(() => messages.find((m) => m.type === 'connection.ok'), 'connected');
    const err = await waitFor(() => messages.find((m) => m.type === 'connection.error'), 'expiry error', 30_000);
    assert.equal(err.error.code, 40);
    await waitFor(() => closed, 'closed', 30_000);
    assert.equal(closed!.code, CONNECT_CLOSE_CODES.authFailed);
  });

  it('refuses credentials in a stream URL and overlong keys and member ids', async () => {
    const call = t.client.video.call('default', 'hy');
    const before = t.engine.started.length;
    for (const url of ['rtmp://user:pass@a.example.test/live', 'rtmps://user@a.example.test/live']) {
      await assert.rejects(
        call.startRTMPBroadcasts({ broadcasts: [{ name: 'c', stream_url: url }] }),
        (e: Error) => (e as { code?: number }).code === 4 && /credentials/.test(e.message),
      );
    }
    await assert.rejects(
      call.startRTMPBroadcasts({ broadcasts: [{ name: 'k', stream_url: 'rtmp://a.example.test/live', stream_key: 'k'.repeat(513) }] }),
      (e) => (e as { code?: number }).code === 4,
    );
    assert.equal(t.engine.started.length, before);
    await assert.rejects(
      call.updateCallMembers({ update_members: [{ user_id: 'u'.repeat(256) }] }),
      (e) => (e as { code?: number }).code === 4,
    );
    assert.equal((await call.get()).members.length, 0);
  });

  it('answers very deep or very wide filters with 400', async () => {
    const n = 5000;
    const deep = `{"filter_conditions":${'{"$and":['.repeat(n)}{"id":"hy"}${']}'.repeat(n)}}`;
    const wide = JSON.stringify({ filter_conditions: { $or: Array.from({ length: n }, (_, i) => ({ id: `c${i}` })) } });
    const longList = JSON.stringify({ filter_conditions: { id: { $in: Array.from({ length: n }, (_, i) => `c${i}`) } } });
    for (const body of [deep, wide, longList]) {
      const res = await rawRequest(t, 'POST', '/api/v2/video/calls', { token: t.client.generateUserToken({ user_id: 'owner' }), body });
      assert.equal(res.status, 400, JSON.stringify(res.body).slice(0, 200));
      assert.equal(res.body.code, 4);
    }
    const ok = await t.client.video.queryCalls({ filter_conditions: { $or: [{ id: 'hy' }, { id: 'nope' }] } });
    assert.equal(ok.calls.length, 1);
  });
});
