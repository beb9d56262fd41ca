/**
 * Stream's HTTP conventions through the official SDK and raw requests with the SDK's headers:
 * auth failures with Stream's codes, error shape, status codes, durations, empty bodies,
 * malformed JSON, wrong types, oversized bodies, unknown routes, the /video mirror.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SignJWT, UnsecuredJWT } from 'jose';
import { StreamClient } from '@stream-io/node-sdk';
import { callCid } from '../../src/wire/call-cid.js';
import { ApiError } from '../../src/wire/errors.js';
import { rawRequest, startTestServer, type TestServer } from '../support/server.js';

function assertApiError(res: { status: number; body: any }, status: number, code: number, operation?: string): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body.code, code, JSON.stringify(res.body));
  assert.equal(res.body.StatusCode, status);
  assert.equal(typeof res.body.duration, 'string');
  assert.equal(res.body.more_info, 'https://getstream.io/chat/docs/api_errors_response');
  assert.deepEqual(res.body.details, []);
  assert.match(res.body.message, /^\w+ failed with error: ".*"$/s);
  if (operation) assert.ok(res.body.message.startsWith(`${operation} failed with error: "`), res.body.message);
}

describe('HTTP conventions', () => {
  let t: TestServer;
  let serverToken: string;
  const secretKey = () => new TextEncoder().encode(t.apiSecret);

  before(async () => {
    t = await startTestServer();
    serverToken = await new SignJWT({ server: true }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(secretKey());
    await t.client.upsertUsers([{ id: 'alice' }]);
    await t.client.video.call('default', 'conv').getOrCreate({ data: { created_by_id: 'alice' } });
  });
  after(async () => {
    await t?.close();
  });

  it('answers a successful GET with 200 and a duration, POST with 201', async () => {
    const get = await rawRequest(t, 'GET', '/api/v2/video/call/default/conv', { token: serverToken });
    assert.equal(get.status, 200);
    assert.match(get.body.duration, /^\d+(\.\d+)?ms$/);
    assert.match(get.headers.get('content-type') ?? '', /application\/json/);
    const post = await rawRequest(t, 'POST', '/api/v2/video/call/default/conv', { token: serverToken, body: {} });
    assert.equal(post.status, 201);
    assert.equal(post.body.created, false);
    assert.equal(typeof post.body.duration, 'string');
  });

  it('emits RFC3339 string timestamps and ended_at null', async () => {
    const get = await rawRequest(t, 'GET', '/api/v2/video/call/default/conv', { token: serverToken });
    assert.match(get.body.call.created_at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
    assert.ok('ended_at' in get.body.call);
    assert.equal(get.body.call.ended_at, null);
  });

  it('accepts an empty body with a JSON content type as {}', async () => {
    const res = await rawRequest(t, 'POST', '/api/v2/video/call/default/conv/rtmp_broadcasts/stop', { token: serverToken });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(typeof res.body.duration, 'string');
  });

  it('rejects a missing or unknown api_key with 401 code 2', async () => {
    assertApiError(await rawRequest(t, 'GET', '/api/v2/video/call/default/conv', { token: serverToken, apiKey: null }), 401, 2);
    assertApiError(
      await rawRequest(t, 'GET', '/api/v2/video/call/default/conv', { token: serverToken, apiKey: 'nope' }),
      401,
      2,
      'GetCall',
    );
    const wrong = new StreamClient('nope', t.apiSecret, { basePath: t.url, timeout: 10_000 });
    await assert.rejects(wrong.video.call('default', 'conv').get(), (err: Error & { code?: number }) => {
      assert.equal(err.code, 2);
      assert.match(err.message, /Stream error code 2: GetCall failed with error: "api_key not valid"/);
      return true;
    });
  });

  it('rejects a missing Authorization header with 401 code 5', async () => {
    assertApiError(await rawRequest(t, 'GET', '/api/v2/video/call/default/conv'), 401, 5);
  });

  it('accepts the token with a Bearer prefix', async () => {
    const res = await rawRequest(t, 'GET', '/api/v2/video/call/default/conv', { token: `Bearer ${serverToken}` });
    assert.equal(res.status, 200);
  });

  it('rejects alg none, other algorithms and bad signatures with code 43', async () => {
    const none = new UnsecuredJWT({ server: true }).encode();
    assertApiError(await rawRequest(t, 'GET', '/api/v2/video/call/default/conv', { token: none }), 401, 43);
    const hs512 = await new SignJWT({ server: true }).setProtectedHeader({ alg: 'HS512' }).sign(secretKey());
    assertApiError(await rawRequest(t, 'GET', '/api/v2/video/call/default/conv', { token: hs512 }), 401, 43);
    const otherSecret = await new SignJWT({ server: true })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode('not-the-secret'));
    assertApiError(await rawRequest(t, 'GET', '/api/v2/video/call/default/conv', { token: otherSecret }), 401, 43);
    const sdkWithWrongSecret = new StreamClient(t.apiKey, 'not-the-secret', { basePath: t.url, timeout: 10_000 });
    await assert.rejects(sdkWithWrongSecret.video.call('default', 'conv').get(), (err: Error & { code?: number }) => err.code === 43);
    assertApiError(await rawRequest(t, 'GET', '/api/v2/video/call/default/conv', { token: 'garbage' }), 401, 43);
  });

  it('rejects expired tokens (40), tokens issued in the future (42) and tokens not valid yet (41)', async () => {
    const expired = t.client.generateUserToken({
      user_id: 'alice',
      exp: Math.floor(Date.now() / 1000) - 120,
      iat: Math.floor(Date.now() / 1000) - 300,
    });
    assertApiError(await rawRequest(t, 'GET', '/api/v2/video/call/default/conv', { token: expired }), 401, 40);
    const future = t.client.generateUserToken({ user_id: 'alice', iat: Math.floor(Date.now() / 1000) + 600 });
    assertApiError(await rawRequest(t, 'GET', '/api/v2/video/call/default/conv', { token: future }), 401, 42);
    const nbf = await new SignJWT({ user_id: 'alice' })
      .setProtectedHeader({ alg: 'HS256' })
      .setNotBefore(Math.floor(Date.now() / 1000) + 600)
      .sign(secretKey());
    assertApiError(await rawRequest(t, 'GET', '/api/v2/video/call/default/conv', { token: nbf }), 401, 41);
  });

  it('accepts a token issued a second ago (the SDK default) and rejects one without user_id', async () => {
    const ok = t.client.generateUserToken({ user_id: 'alice' });
    assert.equal((await rawRequest(t, 'GET', '/api/v2/video/call/default/conv', { token: ok })).status, 200);
    const noUser = await new SignJWT({ foo: 1 }).setProtectedHeader({ alg: 'HS256' }).sign(secretKey());
    assertApiError(await rawRequest(t, 'GET', '/api/v2/video/call/default/conv', { token: noUser }), 401, 5);
  });

  it('answers malformed JSON with 400 code 4 and names wrong-typed fields', async () => {
    assertApiError(
      await rawRequest(t, 'POST', '/api/v2/video/call/default/conv', { token: serverToken, body: '{"data": ' }),
      400,
      4,
      'GetOrCreateCall',
    );
    const wrong = await rawRequest(t, 'POST', '/api/v2/video/call/default/conv/rtmp_broadcasts', {
      token: serverToken,
      body: { broadcasts: [{ name: 12, stream_url: 'rtmp://127.0.0.1/live' }] },
    });
    assertApiError(wrong, 400, 4, 'StartRTMPBroadcasts');
    assert.match(wrong.body.message, /broadcasts\[0\]\.name must be string/);
    const wrongRoot = await rawRequest(t, 'POST', '/api/v2/video/calls', { token: serverToken, body: '[1,2]' });
    assertApiError(wrongRoot, 400, 4);
    const wrongLimit = await rawRequest(t, 'POST', '/api/v2/video/calls', { token: serverToken, body: { limit: 'ten' } });
    assertApiError(wrongLimit, 400, 4);
    assert.match(wrongLimit.body.message, /limit must be integer/);
  });

  it('answers bodies over 1 MiB with 413 code 22', async () => {
    const big = JSON.stringify({ data: { custom: { blob: 'x'.repeat(1024 * 1024 + 10) } } });
    const res = await rawRequest(t, 'POST', '/api/v2/video/call/default/big', { token: serverToken, body: big });
    assertApiError(res, 413, 22);
    const get = await rawRequest(t, 'GET', '/api/v2/video/call/default/big', { token: serverToken });
    assertApiError(get, 404, 16);
  });

  it('answers unknown routes with 404 code 16', async () => {
    assertApiError(await rawRequest(t, 'GET', '/api/v2/nothing/here', { token: serverToken }), 404, 16);
    assertApiError(await rawRequest(t, 'DELETE', '/api/v2/video/call/default/conv', { token: serverToken }), 404, 16);
  });

  it('mirrors the video routes under /video', async () => {
    const res = await rawRequest(t, 'GET', '/video/call/default/conv', { token: serverToken });
    assert.equal(res.status, 200);
    assert.equal(res.body.call.cid, 'default:conv');
    const q = await rawRequest(t, 'POST', '/video/calls', { token: serverToken, body: {} });
    assert.equal(q.status, 201);
    assert.ok(q.body.calls.some((c: any) => c.call.cid === 'default:conv'));
  });

  it('lets plugins add routes that share the error conventions, authenticate and call access', async () => {
    const ext = await startTestServer({
      plugins: [
        (app, ctx) => {
          app.get('/api/v2/video/call/:type/:id/whip', { config: { operation: 'WHIP' } }, async () => {
            throw new ApiError(404, 16, `no ingest yet at ${ctx.publicUrl()}`);
          });
          app.get<{ Params: { type: string; id: string } }>('/peek/:type/:id', async (request) => {
            await ctx.access.requireRead(await request.authenticate(), callCid(request.params.type, request.params.id));
            return { ok: true };
          });
        },
      ],
    });
    try {
      const res = await rawRequest(ext, 'GET', '/api/v2/video/call/default/x/whip', { apiKey: null });
      assertApiError(res, 404, 16, 'WHIP');
      assert.match(res.body.message, new RegExp(`no ingest yet at ${ext.url}`));
      await ext.client.video.call('default', 'peek').getOrCreate({ data: { created_by_id: 'u1' } });
      const ok = await rawRequest(ext, 'GET', '/peek/default/peek', { token: ext.client.generateUserToken({ user_id: 'u2' }) });
      assert.equal(ok.status, 200);
      assertApiError(
        await rawRequest(ext, 'GET', '/peek/default/none', { token: ext.client.generateUserToken({ user_id: 'u2' }) }),
        404,
        16,
      );
      assertApiError(await rawRequest(ext, 'GET', '/peek/default/peek', {}), 401, 5);
      await ext.client.video.updateCallType({ name: 'default', grants: { user: [] } });
      assertApiError(
        await rawRequest(ext, 'GET', '/peek/default/peek', { token: ext.client.generateUserToken({ user_id: 'u2' }) }),
        403,
        17,
      );
    } finally {
      await ext.close();
    }
  });

  it('never leaks the API secret in errors', async () => {
    const res = await rawRequest(t, 'GET', '/api/v2/video/call/default/conv', { token: 'garbage' });
    assert.ok(!JSON.stringify(res.body).includes(t.apiSecret));
  });
});
