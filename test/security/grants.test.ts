/**
 * Grants that could be bypassed, through the SDK (server side) and raw HTTP with user tokens:
 * member roles set in getOrCreate / UpdateCallMembers, stop_live stopping broadcasts, mark_ended,
 * the seeded grants, and RTMP off in `development` until an operator enables it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rawRequest, startTestServer, type TestServer } from '../support/server.js';

describe('grants', () => {
  let t: TestServer;
  const token = (userId: string) => t.client.generateUserToken({ user_id: userId });
  before(async () => {
    t = await startTestServer();
    await t.client.upsertUsers([{ id: 'mallory' }, { id: 'owner' }, { id: 'hostess' }, { id: 'boss', role: 'admin' }]);
  });
  after(async () => {
    await t?.close();
  });

  it('refuses a plain user who names itself admin in getOrCreate, and creates nothing', async () => {
    const res = await rawRequest(t, 'POST', '/api/v2/video/call/default/grab', {
      token: token('mallory'),
      body: { data: { members: [{ user_id: 'mallory', role: 'admin' }] } },
    });
    assert.equal(res.status, 403, JSON.stringify(res.body));
    assert.equal(res.body.code, 17);
    assert.match(res.body.message, /update-call-member/);
    await assert.rejects(t.client.video.call('default', 'grab').get(), (err) => (err as { code?: number }).code === 16);

    // Without roles the same user creates the call, and holds a plain user's capabilities.
    const ok = await rawRequest(t, 'POST', '/api/v2/video/call/default/grab', {
      token: token('mallory'),
      body: { data: { members: [{ user_id: 'mallory' }] } },
    });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.equal(ok.body.members[0].role, 'call_member');
    assert.ok(!ok.body.own_capabilities.includes('start-broadcast-call'));
    assert.ok(!ok.body.own_capabilities.includes('update-call-member'));

    // UpdateCallMembers: the same rule.
    const promote = await rawRequest(t, 'POST', '/api/v2/video/call/default/grab/members', {
      token: token('mallory'),
      body: { update_members: [{ user_id: 'mallory', role: 'admin' }] },
    });
    assert.equal(promote.status, 403);
    assert.equal((await t.client.video.call('default', 'grab').get()).members[0]!.role, 'call_member');

    // Principals who may manage members may set roles (an app admin), and so may the server side.
    const byAdmin = await rawRequest(t, 'POST', '/api/v2/video/call/default/staffed', {
      token: token('boss'),
      body: { data: { members: [{ user_id: 'hostess', role: 'host' }] } },
    });
    assert.equal(byAdmin.status, 201, JSON.stringify(byAdmin.body));
    assert.equal(byAdmin.body.members[0].role, 'host');
  });

  it('stop_live stops broadcasts only with stop-broadcast-call', async () => {
    const call = t.client.video.call('default', 'show');
    await call.getOrCreate({ data: { created_by_id: 'owner', members: [{ user_id: 'hostess', role: 'host' }, { user_id: 'mallory' }] } });
    await call.goLive();
    await call.startRTMPBroadcasts({ broadcasts: [{ name: 'main', stream_url: 'rtmps://a.example.test/live2', stream_key: 'k' }] });

    const refused = await rawRequest(t, 'POST', '/api/v2/video/call/default/show/stop_live', { token: token('mallory'), body: {} });
    assert.equal(refused.status, 403, JSON.stringify(refused.body));
    assert.match(refused.body.message, /stop-broadcast-call/);
    assert.equal((await call.get()).call.egress.rtmps.length, 1);
    assert.equal(t.engine.stopped.filter((s) => s.callCid === 'default:show').length, 0);

    // Keeping the broadcasts needs only update-call.
    const kept = await rawRequest(t, 'POST', '/api/v2/video/call/default/show/stop_live', {
      token: token('mallory'),
      body: { continue_rtmp_broadcasts: true },
    });
    assert.equal(kept.status, 201, JSON.stringify(kept.body));
    assert.equal((await call.get()).call.egress.rtmps.length, 1);

    const byHost = await rawRequest(t, 'POST', '/api/v2/video/call/default/show/stop_live', { token: token('hostess'), body: {} });
    assert.equal(byHost.status, 201, JSON.stringify(byHost.body));
    assert.equal((await call.get()).call.egress.rtmps.length, 0);
  });

  it('mark_ended needs end-call: a plain user cannot end a call, its host can', async () => {
    const call = t.client.video.call('default', 'meeting');
    await call.getOrCreate({ data: { created_by_id: 'owner', members: [{ user_id: 'hostess', role: 'host' }] } });
    const refused = await rawRequest(t, 'POST', '/api/v2/video/call/default/meeting/mark_ended', { token: token('mallory'), body: {} });
    assert.equal(refused.status, 403, JSON.stringify(refused.body));
    assert.match(refused.body.message, /end-call/);
    assert.equal((await call.get()).call.ended_at ?? null, null);
    const byHost = await rawRequest(t, 'POST', '/api/v2/video/call/default/meeting/mark_ended', { token: token('hostess'), body: {} });
    assert.equal(byHost.status, 201, JSON.stringify(byHost.body));
    assert.ok((await call.get()).call.ended_at instanceof Date);
  });

  it('seeds the built-in grants as documented (reference section 6, ours)', async () => {
    const { call_types } = await t.client.video.listCallTypes();
    for (const name of ['default', 'audio_room', 'livestream']) {
      const g = call_types[name]!.grants;
      assert.equal(g.admin!.length, 36, `${name} admin`);
      assert.equal(g.host!.length, 36, `${name} host`);
      assert.ok(!g.moderator!.includes('update-call-settings') && !g.moderator!.includes('update-call-permissions'));
      for (const role of ['user', 'call_member', 'guest', 'anonymous']) {
        for (const cap of ['start-broadcast-call', 'stop-broadcast-call', 'update-call-member', 'end-call', 'update-call-permissions']) {
          assert.ok(!g[role]!.includes(cap), `${name} ${role} has no ${cap}`);
        }
      }
      assert.deepEqual(g.guest, name === 'livestream' ? ['read-call', 'join-call'] : ['read-call']);
    }
    assert.deepEqual(call_types.livestream!.grants.user, ['read-call', 'join-call', 'create-reaction']);
    for (const role of Object.keys(call_types.development!.grants)) assert.equal(call_types.development!.grants[role]!.length, 36);
  });

  it('development: everyone may broadcast once an operator enables RTMP, not before', async () => {
    await t.client.video.call('development', 'dev1').getOrCreate({ data: { created_by_id: 'owner' } });
    const body = { broadcasts: [{ name: 'x', stream_url: 'rtmps://a.example.test/live2', stream_key: 'k' }] };
    const before = await rawRequest(t, 'POST', '/api/v2/video/call/development/dev1/rtmp_broadcasts', { token: token('mallory'), body });
    assert.equal(before.status, 400, JSON.stringify(before.body));
    assert.match(before.body.message, /RTMP broadcasting is disabled/);
    assert.equal(t.engine.started.filter((s) => s.callCid === 'development:dev1').length, 0);
    await t.client.video.updateCallType({ name: 'development', settings: { broadcasting: { rtmp: { enabled: true } } } as any });
    const afterEnable = await rawRequest(t, 'POST', '/api/v2/video/call/development/dev1/rtmp_broadcasts', {
      token: token('mallory'),
      body,
    });
    assert.equal(afterEnable.status, 201, JSON.stringify(afterEnable.body));
  });
});
