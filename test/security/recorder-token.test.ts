/**
 * The token a layout app gets (a hidden recorder user, call_cids of its call, the recorder role)
 * reads its call and may subscribe to participants, and nothing else: it cannot publish, start or
 * stop broadcasts, or read another call, whatever the call type grants its user's app role.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mintRecorderToken } from '../../src/render/browser/recorder-token.js';
import { startTestCallcast, type TestCallcast } from '../support/callcast.js';
import { postOffer, TestPublisher } from '../support/publisher.js';
import { rawRequest } from '../support/server.js';

describe('the layout app token', () => {
  let cc: TestCallcast;
  let token: string;
  const closers: Array<{ close(): Promise<unknown> }> = [];
  before(async () => {
    cc = await startTestCallcast();
    for (const id of ['show', 'other']) {
      await cc.client.video
        .call('default', id)
        .getOrCreate({ data: { created_by_id: 'owner', settings_override: { broadcasting: { enabled: true } } as never } });
    }
    token = (await mintRecorderToken(cc.apiSecret, 'default:show')).token;
  });
  after(async () => {
    await Promise.allSettled(closers.map((c) => c.close()));
    await cc?.close();
  });

  it('reads its call with only read-call and join-call', async () => {
    const res = await rawRequest(cc, 'GET', '/video/call/default/show', { token });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual([...res.body.own_capabilities].sort(), ['join-call', 'read-call']);
  });

  it('may subscribe (WHEP passes the grant check: an unknown session is 404, not 403)', async () => {
    const { publisher, offer } = await TestPublisher.prepare({ url: `${cc.url}/x` });
    closers.push(publisher);
    const res = await postOffer(`${cc.url}/api/v2/video/call/default/show/participants/no-such-session/whep`, offer, token);
    assert.equal(res.status, 404, res.body);
  });

  it('cannot publish into the call', async () => {
    const { publisher, offer } = await TestPublisher.prepare({ url: `${cc.url}/x` });
    closers.push(publisher);
    const res = await postOffer(`${cc.url}/api/v2/video/call/default/show/whip`, offer, token);
    assert.equal(res.status, 403, res.body);
    assert.equal(cc.server.media.participants('default:show').length, 0);
  });

  it('cannot start or stop broadcasts', async () => {
    const start = await rawRequest(cc, 'POST', '/video/call/default/show/rtmp_broadcasts', {
      token,
      body: { broadcasts: [{ name: 'x', stream_url: 'rtmp://127.0.0.1:1/live', stream_key: 'k' }] },
    });
    assert.equal(start.status, 403, JSON.stringify(start.body));
    assert.equal(start.body.code, 17);
    const stop = await rawRequest(cc, 'POST', '/video/call/default/show/rtmp_broadcasts/stop', { token, body: {} });
    assert.equal(stop.status, 403, JSON.stringify(stop.body));
  });

  it('reads no other call', async () => {
    const res = await rawRequest(cc, 'GET', '/video/call/default/other', { token });
    assert.equal(res.status, 403, JSON.stringify(res.body));
    const sub = await postOffer(
      `${cc.url}/api/v2/video/call/default/other/participants/no-such-session/whep`,
      (await TestPublisher.prepare({ url: `${cc.url}/x` }).then((p) => (closers.push(p.publisher), p))).offer,
      token,
    );
    assert.equal(sub.status, 403, sub.body);
  });
});
