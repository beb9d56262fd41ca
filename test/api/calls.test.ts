/**
 * Calls, members, users and app settings through the SDK: get-or-create (server and user tokens),
 * get, update with settings_override, members, query calls (filters, sort, cursors), end,
 * events on the bus, and the webhook wiring (app settings -> signed delivery).
 */
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { rawRequest, startTestServer, type TestServer } from '../support/server.js';
import { waitFor } from '../support/wait.js';

const code = (err: unknown) => (err as { code?: number }).code;

describe('calls', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
    await t.client.upsertUsers([
      { id: 'john', name: 'John', role: 'user', custom: { color: 'red' } },
      { id: 'jane', name: 'Jane' },
      { id: 'boss', role: 'admin' },
    ]);
  });
  after(async () => {
    await t?.close();
  });

  it('upserts users as a full replace and queries them', async () => {
    const res = await t.client.upsertUsers([{ id: 'temp', name: 'Temp', custom: { a: 1 } }]);
    assert.equal(res.users.temp!.name, 'Temp');
    assert.equal(res.users.temp!.role, 'user');
    await t.client.upsertUsers([{ id: 'temp', image: 'https://example.com/x.png' }]);
    const q = await t.client.queryUsers({
      payload: { filter_conditions: { id: { $in: ['temp', 'john'] } }, sort: [{ field: 'id', direction: 1 }] },
    });
    assert.deepEqual(
      q.users.map((u) => u.id),
      ['john', 'temp'],
    );
    const temp = q.users.find((u) => u.id === 'temp')!;
    assert.equal(temp.name, undefined, 'upsert replaces the whole user');
    assert.deepEqual(temp.custom, {});
    assert.equal(temp.image, 'https://example.com/x.png');
    const admins = await t.client.queryUsers({ payload: { filter_conditions: { role: 'admin' } } });
    assert.deepEqual(
      admins.users.map((u) => u.id),
      ['boss'],
    );
    await assert.rejects(t.client.queryUsers({ payload: { filter_conditions: { shoe_size: 42 } } }), (err) => code(err) === 4);
  });

  it('get-or-create needs created_by_id or created_by with server auth', async () => {
    await assert.rejects(t.client.video.call('default', 'nocreator').getOrCreate({}), (err: Error) => {
      assert.equal(code(err), 4);
      assert.match(err.message, /either data.created_by or data.created_by_id must be provided when using server side auth/);
      return true;
    });
    await assert.rejects(
      t.client.video.call('nosuchtype', 'x').getOrCreate({ data: { created_by_id: 'john' } }),
      (err) => code(err) === 16,
    );
    await assert.rejects(t.client.video.call('default', 'missing').get(), (err) => code(err) === 16);
  });

  it('creates a call with members, custom, settings_override and starts_at, then finds it again', async () => {
    const call = t.client.video.call('default', 'c1');
    const startsAt = new Date('2030-01-01T10:00:00.000Z');
    const created = await call.getOrCreate({
      data: {
        created_by_id: 'john',
        members: [{ user_id: 'john', role: 'host' }, { user_id: 'jane' }, { user_id: 'newcomer', custom: { seat: 3 } }],
        custom: { topic: 'launch' },
        settings_override: { screensharing: { enabled: false }, broadcasting: { rtmp: { quality: '480p' } } } as any,
        starts_at: startsAt,
      },
    });
    assert.equal(created.created, true);
    assert.equal(created.call.cid, 'default:c1');
    assert.equal(created.call.created_by.id, 'john');
    assert.equal(created.call.created_by.name, 'John');
    assert.deepEqual(created.call.custom, { topic: 'launch' });
    assert.equal(created.call.starts_at?.toISOString(), startsAt.toISOString());
    assert.equal(created.call.settings.screensharing.enabled, false, 'override merged over the type');
    assert.equal(created.call.settings.screensharing.access_request_enabled, true, 'type values kept');
    assert.equal(created.call.settings.broadcasting.rtmp.quality, '480p');
    assert.equal(created.call.settings.broadcasting.rtmp.layout.name, 'spotlight');
    assert.deepEqual(created.call.egress, { broadcasting: false, rtmps: [] });
    assert.equal(created.call.ingress.whip.address, `${t.url}/api/v2/video/call/default/c1/whip`);
    assert.equal(created.call.ingress.rtmp.address, '');
    assert.equal(created.call.ended_at, null);
    assert.equal(created.call.backstage, false);
    assert.deepEqual(created.members.map((m) => [m.user_id, m.role]).sort(), [
      ['jane', 'call_member'],
      ['john', 'host'],
      ['newcomer', 'call_member'],
    ]);
    assert.equal(created.members.find((m) => m.user_id === 'newcomer')!.user.id, 'newcomer');
    assert.ok(created.own_capabilities.includes('start-broadcast-call'));

    const again = await call.getOrCreate({ data: { created_by_id: 'jane' } });
    assert.equal(again.created, false);
    assert.equal(again.call.created_by.id, 'john');

    const got = await call.get();
    assert.equal(got.call.cid, 'default:c1');
    assert.equal(got.members.length, 3);

    const createdEvents = t.events.filter((e) => e.type === 'call.created' && e.call_cid === 'default:c1');
    assert.equal(createdEvents.length, 1);
    assert.equal((createdEvents[0]!.members as unknown[]).length, 3);
    assert.equal((createdEvents[0]!.call as { cid: string }).cid, 'default:c1');
  });

  it('creates with created_by, upserting that user', async () => {
    const res = await t.client.video.call('livestream', 'ls1').getOrCreate({ data: { created_by: { id: 'streamer', name: 'Streamer' } } });
    assert.equal(res.call.created_by.id, 'streamer');
    assert.equal(res.call.backstage, true);
    const q = await t.client.queryUsers({ payload: { filter_conditions: { id: 'streamer' } } });
    assert.equal(q.users[0]!.name, 'Streamer');
  });

  it('updates custom and merges settings_override, emitting call.updated', async () => {
    const call = t.client.video.call('default', 'c1');
    const before = t.events.length;
    const res = await call.update({ custom: { topic: 'changed' }, settings_override: { geofencing: { names: ['india'] } } as any });
    assert.deepEqual(res.call.custom, { topic: 'changed' });
    assert.deepEqual(res.call.settings.geofencing.names, ['india']);
    assert.equal(res.call.settings.screensharing.enabled, false, 'earlier override kept');
    assert.equal(res.call.settings.broadcasting.rtmp.quality, '480p');
    const updated = t.events.slice(before).find((e) => e.type === 'call.updated');
    assert.ok(updated);
    assert.ok(updated.capabilities_by_role);
    await assert.rejects(
      call.update({ settings_override: { broadcasting: { rtmp: { quality: 'huge' } } } as any }),
      (err) => code(err) === 4,
    );
    assert.equal((await call.get()).call.settings.broadcasting.rtmp.quality, '480p', 'invalid update changed nothing');
  });

  it('adds, updates and removes members with events', async () => {
    const call = t.client.video.call('default', 'c1');
    const before = t.events.length;
    const res = await call.updateCallMembers({
      update_members: [{ user_id: 'jane', role: 'moderator' }, { user_id: 'zed' }],
      remove_members: ['newcomer'],
    });
    assert.deepEqual(
      res.members.map((m) => [m.user_id, m.role]),
      [
        ['jane', 'moderator'],
        ['zed', 'call_member'],
      ],
    );
    const members = (await call.get()).members.map((m) => m.user_id).sort();
    assert.deepEqual(members, ['jane', 'john', 'zed']);
    const types = t.events.slice(before).map((e) => e.type);
    assert.ok(types.includes('call.member_added'));
    assert.ok(types.includes('call.member_updated'));
    const removed = t.events.slice(before).find((e) => e.type === 'call.member_removed');
    assert.deepEqual(removed?.members, ['newcomer']);
    await assert.rejects(call.updateCallMembers({ update_members: [{ user_id: '' }] }), (err) => code(err) === 4);
  });

  it('queries calls with filters, sort and cursors', async () => {
    for (const id of ['q1', 'q2', 'q3', 'q4', 'q5']) {
      await t.client.video
        .call('development', id)
        .getOrCreate({ data: { created_by_id: id === 'q5' ? 'jane' : 'john', custom: { group: id === 'q1' ? 'a' : 'b' } } });
    }
    const byType = await t.client.video.queryCalls({ filter_conditions: { type: 'development' }, sort: [{ field: 'cid', direction: 1 }] });
    assert.deepEqual(
      byType.calls.map((c) => c.call.id),
      ['q1', 'q2', 'q3', 'q4', 'q5'],
    );
    assert.ok(byType.calls[0]!.members);
    assert.ok(byType.calls[0]!.own_capabilities);

    const page1 = await t.client.video.queryCalls({
      filter_conditions: { type: 'development' },
      sort: [{ field: 'cid', direction: -1 }],
      limit: 2,
    });
    assert.deepEqual(
      page1.calls.map((c) => c.call.id),
      ['q5', 'q4'],
    );
    assert.ok(page1.next);
    assert.equal(page1.prev, undefined);
    const page2 = await t.client.video.queryCalls({
      filter_conditions: { type: 'development' },
      sort: [{ field: 'cid', direction: -1 }],
      limit: 2,
      next: page1.next!,
    });
    assert.deepEqual(
      page2.calls.map((c) => c.call.id),
      ['q3', 'q2'],
    );
    assert.ok(page2.prev);
    const back = await t.client.video.queryCalls({
      filter_conditions: { type: 'development' },
      sort: [{ field: 'cid', direction: -1 }],
      limit: 2,
      prev: page2.prev!,
    });
    assert.deepEqual(
      back.calls.map((c) => c.call.id),
      ['q5', 'q4'],
    );

    const byCreator = await t.client.video.queryCalls({ filter_conditions: { created_by_user_id: 'jane' } });
    assert.deepEqual(
      byCreator.calls.map((c) => c.call.cid),
      ['development:q5'],
    );
    const byId = await t.client.video.queryCalls({
      filter_conditions: { id: { $in: ['q1', 'q3'] } },
      sort: [{ field: 'id', direction: 1 }],
    });
    assert.deepEqual(
      byId.calls.map((c) => c.call.id),
      ['q1', 'q3'],
    );
    const byCustom = await t.client.video.queryCalls({ filter_conditions: { 'custom.group': 'a' } });
    assert.deepEqual(
      byCustom.calls.map((c) => c.call.id),
      ['q1'],
    );
    const byMember = await t.client.video.queryCalls({ filter_conditions: { members: { $in: ['zed'] } } });
    assert.deepEqual(
      byMember.calls.map((c) => c.call.cid),
      ['default:c1'],
    );
    const recent = await t.client.video.queryCalls({
      filter_conditions: { created_at: { $gte: new Date(Date.now() - 3_600_000).toISOString() }, type: 'development' },
    });
    assert.equal(recent.calls.length, 5);
    const either = await t.client.video.queryCalls({
      filter_conditions: { $or: [{ id: 'q1' }, { id: 'q2' }] },
      sort: [{ field: 'id', direction: 1 }],
    });
    assert.deepEqual(
      either.calls.map((c) => c.call.id),
      ['q1', 'q2'],
    );

    await assert.rejects(t.client.video.queryCalls({ limit: 101 }), (err) => code(err) === 4);
    await assert.rejects(t.client.video.queryCalls({ filter_conditions: { shoe: 1 } }), (err) => code(err) === 4);
    await assert.rejects(
      t.client.video.queryCalls({ sort: [{ field: 'id' }, { field: 'type' }, { field: 'cid' }] }),
      (err) => code(err) === 4,
    );
    await assert.rejects(t.client.video.queryCalls({ next: 'not-a-cursor' }), (err) => code(err) === 4);
  });

  it('user tokens: create needs create-call, reads are limited to readable calls', async () => {
    const token = t.client.generateUserToken({ user_id: 'jane' });
    const created = await rawRequest(t, 'POST', '/api/v2/video/call/default/byjane', {
      token,
      body: { data: { members: [{ user_id: 'jane' }] } },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.call.created_by.id, 'jane');
    assert.ok(!created.body.own_capabilities.includes('start-broadcast-call'));

    const noCreate = await rawRequest(t, 'POST', '/api/v2/video/call/livestream/byjane', { token, body: {} });
    assert.equal(noCreate.status, 403);
    assert.equal(noCreate.body.code, 17);
    await assert.rejects(t.client.video.call('livestream', 'byjane').get(), (err) => code(err) === 16, 'nothing was created');

    const audioRoomCall = await t.client.video.call('audio_room', 'ar1').getOrCreate({ data: { created_by_id: 'john' } });
    assert.equal(audioRoomCall.created, true);
    const guestToken = t.client.generateUserToken({ user_id: 'stranger' });
    await t.client.video.updateCallType({ name: 'audio_room', grants: { user: [] } });
    const denied = await rawRequest(t, 'GET', '/api/v2/video/call/audio_room/ar1', { token: guestToken });
    assert.equal(denied.status, 403);
    assert.equal(denied.body.code, 17);
    const callToken = t.client.generateCallToken({ user_id: 'stranger', call_cids: ['audio_room:ar1'] });
    const allowed = await rawRequest(t, 'GET', '/api/v2/video/call/audio_room/ar1', { token: callToken });
    assert.equal(allowed.status, 200, 'a call token makes the user a call_member');
    const list = await rawRequest(t, 'POST', '/api/v2/video/calls', {
      token: guestToken,
      body: { filter_conditions: { type: 'audio_room' } },
    });
    assert.equal(list.status, 201);
    assert.deepEqual(list.body.calls, []);
  });

  it('ends a call: ended_at set, call.ended emitted, members and updates still readable', async () => {
    const call = t.client.video.call('default', 'c1');
    const before = t.events.length;
    await call.end();
    const got = await call.get();
    assert.ok(got.call.ended_at instanceof Date);
    const ended = t.events.slice(before).find((e) => e.type === 'call.ended');
    assert.ok(ended);
    assert.equal(ended.call_cid, 'default:c1');
    assert.ok((ended.call as { ended_at: string | null }).ended_at);
  });

  it('reads and updates the app webhook settings, and webhooks are delivered signed', async () => {
    const received: Array<{ body: string; headers: IncomingMessage['headers'] }> = [];
    const receiver = createHttpServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ body: Buffer.concat(chunks).toString('utf8'), headers: req.headers });
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (receiver.address() as { port: number }).port;
      await t.client.updateApp({ webhook_url: `http://127.0.0.1:${port}/hook`, webhook_events: ['call.created'] });
      const app = await t.client.getApp();
      assert.equal((app.app as any).webhook_url, `http://127.0.0.1:${port}/hook`);
      assert.deepEqual((app.app as any).webhook_events, ['call.created']);
      await t.client.video.call('default', 'hooked').getOrCreate({ data: { created_by_id: 'john' } });
      await t.client.video.call('default', 'hooked').update({ custom: { x: 1 } });
      const hit = await waitFor(() => received.find((r) => r.body.includes('default:hooked')), 'webhook delivery', 10_000);
      assert.equal(hit.headers['x-api-key'], t.apiKey);
      assert.ok(t.client.verifyWebhook(hit.body, String(hit.headers['x-signature'])));
      const event = JSON.parse(hit.body);
      assert.equal(event.type, 'call.created');
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(
        received.every((r) => JSON.parse(r.body).type === 'call.created'),
        'only the configured event types are sent',
      );
      await t.client.updateApp({ webhook_url: '' });
    } finally {
      await new Promise<void>((r) => receiver.close(() => r()));
    }
  });
});
