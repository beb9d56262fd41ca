/** The console's live layout change: the request it makes (method, URL, headers, body) and the layout it sends. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiClient } from '../../web/src/lib/api.js';
import { layoutChangeRequest, withLayoutName } from '../../web/src/lib/layout-change.js';

test('changing only the name keeps the broadcast layout options and share layout', () => {
  assert.deepEqual(withLayoutName(undefined, 'grid'), { name: 'grid' });
  assert.deepEqual(withLayoutName({ name: 'spotlight', options: {} }, 'grid'), { name: 'grid' });
  assert.deepEqual(
    withLayoutName({ name: 'spotlight', options: { 'layout.background_color': 'red' }, screenshare_layout: 'single-participant' }, 'grid'),
    { name: 'grid', options: { 'layout.background_color': 'red' }, screenshare_layout: 'single-participant' },
  );
});

test('the console sends PATCH .../rtmp_broadcasts/{name} with the layout, its token and api_key', async () => {
  const r = layoutChangeRequest('default', 'a b', 'you/tube', { name: 'grid' });
  assert.deepEqual(r, {
    method: 'PATCH',
    path: '/video/call/default/a%20b/rtmp_broadcasts/you%2Ftube',
    body: { layout: { name: 'grid' } },
  });

  const seen: Array<{ url: string; init: RequestInit }> = [];
  const realFetch = globalThis.fetch;
  globalThis.fetch = (async (url: string | URL | Request, init?: RequestInit) => {
    seen.push({ url: String(url), init: init ?? {} });
    return new Response(JSON.stringify({ broadcast: { name: 'you/tube', layout: { name: 'grid' } } }), { status: 200 });
  }) as typeof fetch;
  try {
    const api = new ApiClient({ apiKey: 'k1', token: 'jwt-1' }, 'http://console.test');
    const answer = await api.request<{ broadcast: { layout: { name: string } } }>(r.method, r.path, r.body);
    assert.equal(answer.broadcast.layout.name, 'grid');
  } finally {
    globalThis.fetch = realFetch;
  }
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.url, 'http://console.test/video/call/default/a%20b/rtmp_broadcasts/you%2Ftube?api_key=k1');
  assert.equal(seen[0]!.init.method, 'PATCH');
  const headers = seen[0]!.init.headers as Record<string, string>;
  assert.equal(headers.Authorization, 'jwt-1');
  assert.equal(headers['stream-auth-type'], 'jwt');
  assert.equal(headers['Content-Type'], 'application/json');
  assert.deepEqual(JSON.parse(String(seen[0]!.init.body)), { layout: { name: 'grid' } });
});
