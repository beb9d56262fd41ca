/** The web plugin on a Fastify app: pages, assets, config, dev tokens, previews. */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadImage } from '@napi-rs/canvas';
import Fastify from 'fastify';
import { solidI420Frame, type FrameSource } from '../../src/egress/frame-source.js';
import { consoleLink, DEFAULT_WEB_ROOT, devTokensFromSecret, webPlugin, type PreviewAuth } from '../../src/http/web.js';
import { PreviewTap, i420ToJpeg, i420ToRgba } from '../../src/web/preview.js';
import { rawRequest, startTestServer } from '../support/server.js';
import { verifyToken } from '../../src/http/auth.js';
import { buildWebPages, WEB_ROOT } from './harness.js';
import { decodeJwt } from 'jose';

class Forbidden extends Error {
  statusCode = 403;
}

describe('web plugin', () => {
  const app = Fastify({ logger: false });
  const seen: Array<{ cid: string; name: string; auth: PreviewAuth }> = [];
  let jpeg: Buffer | null = null;

  before(async () => {
    await buildWebPages();
    jpeg = await i420ToJpeg({ data: solidI420Frame(64, 36, { r: 0, g: 0, b: 255 }), width: 64, height: 36 });
    await webPlugin(app, {
      webRoot: WEB_ROOT,
      apiKey: 'key-1',
      devTokens: (userId) => (userId === 'blocked' ? null : Promise.resolve(`token-for-${userId}`)),
      preview: async (cid, name, auth) => {
        seen.push({ cid, name, auth });
        if (auth.authorization !== 'good') throw new Forbidden('User is not allowed to read the call');
        return name === 'none' ? null : jpeg;
      },
    });
    await app.ready();
  });
  after(() => app.close());

  test('serves the join page and the console with security headers', async () => {
    for (const url of ['/join/default/my-call', '/console', '/console/calls/default/my-call']) {
      const res = await app.inject({ url });
      assert.equal(res.statusCode, 200, url);
      assert.match(String(res.headers['content-type']), /text\/html/);
      assert.match(String(res.headers['content-security-policy']), /default-src 'self'/);
      assert.equal(res.headers['referrer-policy'], 'no-referrer');
      assert.match(res.body, /<script type="module" crossorigin src="\/web\/assets\//);
    }
    assert.match((await app.inject({ url: '/join/default/x' })).body, /Display name/);
    assert.equal((await app.inject({ url: '/join/default/bad%20id' })).statusCode, 404);
  });

  test('serves the built-in layouts page and the layout module', async () => {
    const page = await app.inject({ url: '/layouts/builtin' });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /<div id="root"><\/div>/);
    const csp = String(page.headers['content-security-policy']);
    // An external stylesheet (and its fonts and images) from any http(s) origin; scripts and API calls only its own.
    assert.match(csp, /style-src 'self' http: https:/);
    assert.match(csp, /script-src 'self';/);
    assert.match(csp, /connect-src 'self';/);
    const sdk = await app.inject({ url: '/sdk/layout.js' });
    assert.equal(sdk.statusCode, 200);
    assert.match(String(sdk.headers['content-type']), /^text\/javascript/);
    assert.equal(sdk.headers['access-control-allow-origin'], '*');
    assert.match(sdk.body, /export \{.*connectLayout/s);
    const types = await app.inject({ url: '/sdk/layout.d.ts' });
    assert.equal(types.statusCode, 200);
    assert.match(types.body, /export interface LayoutConfig/);
    assert.match(String(types.headers['content-type']), /^text\/plain/);
    assert.equal((await app.inject({ url: '/sdk/other.js' })).statusCode, 404);
    assert.equal((await app.inject({ url: '/sdk/..%2Fjoin.html' })).statusCode, 404);
  });

  test('serves the built assets under /web/ with long caching', async () => {
    const page = await app.inject({ url: '/console' });
    const src = /src="(\/web\/assets\/[^"]+\.js)"/.exec(page.body)?.[1];
    assert.ok(src);
    const res = await app.inject({ url: src });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /javascript/);
    assert.match(String(res.headers['cache-control']), /immutable/);
    assert.equal((await app.inject({ url: '/web/assets/missing.js' })).statusCode, 404);
  });

  test('config and development tokens', async () => {
    assert.deepEqual((await app.inject({ url: '/web/config.json' })).json(), { api_key: 'key-1', dev_tokens: true });
    const ok = await app.inject({ url: '/dev/token?user_id=ada' });
    assert.equal(ok.statusCode, 200);
    assert.deepEqual(ok.json(), { user_id: 'ada', token: 'token-for-ada' });
    assert.equal(ok.headers['cache-control'], 'no-store');
    assert.equal((await app.inject({ url: '/dev/token' })).statusCode, 400);
    assert.equal((await app.inject({ url: '/dev/token?user_id=a%20b' })).statusCode, 400);
    assert.equal((await app.inject({ url: '/dev/token?user_id=blocked' })).statusCode, 403);
  });

  test('without devTokens there is no token endpoint', async () => {
    const prod = Fastify({ logger: false });
    await webPlugin(prod, { webRoot: WEB_ROOT, apiKey: 'k', preview: async () => null });
    assert.equal((await prod.inject({ url: '/dev/token?user_id=ada' })).statusCode, 404);
    assert.deepEqual((await prod.inject({ url: '/web/config.json' })).json(), { api_key: 'k', dev_tokens: false });
    await prod.close();
  });

  test('previews: credentials handed on, JPEG, 204 before the first picture, errors kept', async () => {
    const res = await app.inject({
      url: '/video/call/default/c1/rtmp_broadcasts/main/preview.jpg?api_key=key-1',
      headers: { authorization: 'good', 'stream-auth-type': 'jwt' },
    });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'image/jpeg');
    assert.deepEqual(res.rawPayload, jpeg);
    assert.deepEqual(seen.at(-1), { cid: 'default:c1', name: 'main', auth: { apiKey: 'key-1', authorization: 'good', authType: 'jwt' } });
    const none = await app.inject({
      url: '/api/v2/video/call/default/c1/rtmp_broadcasts/none/preview.jpg?api_key=key-1',
      headers: { authorization: 'good' },
    });
    assert.equal(none.statusCode, 204);
    const denied = await app.inject({
      url: '/video/call/default/c1/rtmp_broadcasts/main/preview.jpg?api_key=key-1',
      headers: { authorization: 'bad' },
    });
    assert.equal(denied.statusCode, 403);
    assert.match(denied.body, /not allowed/);
    const bad = await app.inject({ url: '/video/call/default/c%24/rtmp_broadcasts/main/preview.jpg' });
    assert.equal(bad.statusCode, 400);
  });

  test('pages answer 503 with a clear message when they are not built', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'callcast-web-empty-'));
    const unbuilt = Fastify({ logger: false });
    try {
      await webPlugin(unbuilt, { webRoot: empty, preview: async () => null });
      const res = await unbuilt.inject({ url: '/console' });
      assert.equal(res.statusCode, 503);
      assert.match(res.json().message, /npm run build:web/);
    } finally {
      await unbuilt.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('broadcast previews', () => {
  test('I420 to RGBA keeps colours and scales down', () => {
    const { rgba, width, height } = i420ToRgba({ data: solidI420Frame(640, 360, { r: 255, g: 0, b: 0 }), width: 640, height: 360 }, 320);
    assert.deepEqual([width, height], [320, 180]);
    const [r, g, b, a] = rgba.slice(0, 4);
    assert.ok(r! > 240 && g! < 15 && b! < 15 && a === 255, `got ${r},${g},${b}`);
    assert.throws(() => i420ToRgba({ data: Buffer.alloc(10), width: 640, height: 360 }, 320), /needs/);
  });

  test('a JPEG of a frame decodes to the same colour', async () => {
    const data = await i420ToJpeg({ data: solidI420Frame(640, 360, { r: 32, g: 96, b: 192 }), width: 640, height: 360 }, { maxWidth: 320 });
    assert.deepEqual([...data.subarray(0, 3)], [0xff, 0xd8, 0xff]);
    const img = await loadImage(data);
    assert.deepEqual([img.width, img.height], [320, 180]);
    const { createCanvas } = await import('@napi-rs/canvas');
    const c = createCanvas(img.width, img.height);
    const ctx = c.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const [r, g, b] = ctx.getImageData(160, 90, 1, 1).data;
    assert.ok(Math.abs(r! - 32) < 8 && Math.abs(g! - 96) < 8 && Math.abs(b! - 192) < 8, `got ${r},${g},${b}`);
  });

  test('the tap keeps the latest frame per call until its source closes', async () => {
    let now = 1000;
    const tap = new PreviewTap(() => now);
    const frames: Buffer[] = [solidI420Frame(640, 360, { r: 255, g: 0, b: 0 }), solidI420Frame(640, 360, { r: 0, g: 0, b: 255 })];
    let closed = 0;
    const factory = tap.wrap((): FrameSource => {
      let i = 0;
      return {
        videoFrame: () => frames[i++ % 2]!,
        audioSamples: (_pts, n) => Buffer.alloc(n * 4),
        close: () => void closed++,
      };
    });
    const layout = { name: 'grid' as const, external_app_url: '', external_css_url: '' };
    const src = factory('default:c1', '360p', layout);
    assert.equal(tap.latestFrame('default:c1'), null);
    assert.equal(await tap.latestJpeg('default:c1'), null);
    src.videoFrame(0);
    assert.equal(tap.latestFrame('default:c1')?.data, frames[0]);
    const first = await tap.latestJpeg('default:c1');
    assert.ok(first);
    src.videoFrame(33);
    assert.equal(await tap.latestJpeg('default:c1'), first, 'encoded at most twice a second');
    now += 600;
    assert.notEqual(await tap.latestJpeg('default:c1'), first);
    assert.equal(tap.latestFrame('default:c1', '720p'), null);
    assert.equal(src.audioSamples(0, 10).length, 40);
    src.close();
    assert.equal(closed, 1);
    assert.equal(tap.latestFrame('default:c1'), null);
  });
});

test('development tokens are user tokens the API accepts', async () => {
  const token = await devTokensFromSecret('s3cret')('ada');
  const { exp } = decodeJwt(token);
  assert.deepEqual(await verifyToken(token, 's3cret'), { kind: 'user', userId: 'ada', expiresAt: exp });
  await assert.rejects(verifyToken(token, 'other'), /signature/);
});

test('the pages on a server: no dev tokens unless enabled, previews checked before any picture', async () => {
  await buildWebPages();
  const ts = await startTestServer({ webRoot: WEB_ROOT });
  try {
    assert.equal((await fetch(`${ts.url}/console`)).status, 200);
    assert.equal((await fetch(`${ts.url}/dev/token?user_id=ada`)).status, 404);
    const config = (await (await fetch(`${ts.url}/web/config.json`)).json()) as Record<string, unknown>;
    assert.deepEqual([config.api_key, config.dev_tokens], [ts.apiKey, false]);
    await ts.client.video.call('default', 'c1').getOrCreate({ data: { created_by_id: 'ada' } });
    await ts.client.video
      .call('default', 'c1')
      .startRTMPBroadcasts({ broadcasts: [{ name: 'main', stream_url: 'rtmp://127.0.0.1:1/live' }] });
    const path = '/video/call/default/c1/rtmp_broadcasts/main/preview.jpg';
    const anonymous = await rawRequest(ts, 'GET', path);
    assert.equal(anonymous.status, 401);
    const missing = await rawRequest(ts, 'GET', '/video/call/default/c1/rtmp_broadcasts/other/preview.jpg', {
      token: serverToken(ts.apiSecret),
    });
    assert.equal(missing.status, 404);
    const allowed = await rawRequest(ts, 'GET', path, { token: serverToken(ts.apiSecret) });
    assert.equal(allowed.status, 204);
  } finally {
    await ts.close();
  }
  assert.equal(DEFAULT_WEB_ROOT, WEB_ROOT);
  assert.equal(consoleLink('http://127.0.0.1:3030/', 'a.b.c'), 'http://127.0.0.1:3030/console#token=a.b.c');
});

function serverToken(secret: string): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ server: true })}`;
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
}
