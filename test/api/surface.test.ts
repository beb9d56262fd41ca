/**
 * The rest of the API a broadcasting app calls, through the node SDK: GetApp / UpdateApp,
 * DeleteCall (soft and hard), QueryCallMembers, UpdateUsersPartial, DeleteUsers with GetTask,
 * QueryUsers on name and custom, QueryCalls on backstage and ongoing, and goLive flags Callcast
 * cannot honour. Every answer and event is checked against the required fields of the SDK's own
 * model (test/support/sdk-model.ts); state is read back after each call; refusals carry Stream's
 * code and name what they refuse.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MAX_DURATION_REASON, maxDurationDeadline } from '../../src/calls/call-limits.js';
import { missingRequired } from '../support/sdk-model.js';
import { rawRequest, startTestServer, type TestServer } from '../support/server.js';
import { waitFor } from '../support/wait.js';

const code = (err: unknown) => (err as { code?: number }).code;

function refusedWith(expectedCode: number, pattern: RegExp) {
  return (err: Error) => {
    assert.equal(code(err), expectedCode, err.message);
    assert.match(err.message, pattern);
    return true;
  };
}

function assertModel(value: unknown, model: string): void {
  assert.deepEqual(missingRequired(value, model), [], `${model}: required fields missing`);
}

describe('the rest of the surface', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
    await t.client.upsertUsers([
      { id: 'host', name: 'Hostess Alpha' },
      { id: 'ann', name: 'Ann Smith', custom: { team: 'red', level: 3 } },
      { id: 'bob', name: 'Bob Jones', custom: { team: 'blue', level: 1 } },
      { id: 'cat', name: 'Catherine Annex', custom: { team: 'red', level: 2 } },
      { id: 'dan', name: 'Dan', image: 'https://example.test/dan.png' },
    ]);
  });
  after(async () => {
    await t?.close();
  });

  describe('app settings', () => {
    it('GetApp answers every field GetApplicationResponse requires', async () => {
      const res = await t.client.getApp();
      assertModel(res, 'GetApplicationResponse');
      assert.equal(res.app.name, 'callcast');
      assert.ok(res.app.call_types.livestream, 'call types listed');
      assert.equal(res.app.call_types.livestream!.name, 'livestream');
    });

    it('UpdateApp keeps webhook_url and webhook_events and refuses, by name, the fields it does not keep', async () => {
      await t.client.updateApp({ webhook_url: 'https://hooks.example.test/x', webhook_events: ['call.ended'] });
      let app = (await t.client.getApp()).app;
      assert.equal(app.webhook_url, 'https://hooks.example.test/x');
      assert.deepEqual(app.webhook_events, ['call.ended']);
      await assert.rejects(
        t.client.updateApp({ webhook_url: 'https://other.example.test/y', enforce_unique_usernames: 'app', multi_tenant_enabled: true }),
        refusedWith(4, /enforce_unique_usernames, multi_tenant_enabled cannot be set/),
      );
      app = (await t.client.getApp()).app;
      assert.equal(app.webhook_url, 'https://hooks.example.test/x', 'a refused update changes nothing');
      assert.equal(app.multi_tenant_enabled, false);
      await t.client.updateApp({ webhook_url: '', webhook_events: [] });
    });

    it('GetApp and UpdateApp are server-side only', async () => {
      const token = t.client.generateUserToken({ user_id: 'ann' });
      assert.equal((await rawRequest(t, 'GET', '/api/v2/app', { token })).body.code, 17);
    });
  });

  describe('DeleteCall', () => {
    it('soft delete stops the broadcasts, ends the call, hides it from get and query, and a new call may take its id', async () => {
      const call = t.client.video.call('default', 'del-soft');
      await call.getOrCreate({ data: { created_by_id: 'host', members: [{ user_id: 'ann' }], custom: { sweep: 'del' } } });
      await call.startRTMPBroadcasts({ broadcasts: [{ name: 'yt', stream_url: 'rtmp://ingest.example.test/live', stream_key: 'k1' }] });
      const mark = t.events.length;
      const res = await call.delete();
      assertModel(res, 'DeleteCallResponse');
      assert.equal(res.call.cid, 'default:del-soft');
      assert.ok(res.call.ended_at instanceof Date, 'the deleted call has ended');
      assert.equal(res.call.egress.broadcasting, false);
      assert.equal(res.task_id, undefined);
      assert.deepEqual(t.engine.stopped.at(-1), { callCid: 'default:del-soft', name: 'yt' });

      const deleted = await waitFor(() => t.events.slice(mark).find((e) => e.type === 'call.deleted'), 'call.deleted');
      assertModel({ ...deleted, created_at: new Date(deleted.created_at) }, 'CallDeletedEvent');
      assert.equal(deleted.call_cid, 'default:del-soft');

      await assert.rejects(call.get(), (err) => code(err) === 16);
      const q = await t.client.video.queryCalls({ filter_conditions: { 'custom.sweep': 'del' } });
      assert.deepEqual(
        q.calls.map((c) => c.call.id),
        [],
      );
      await assert.rejects(call.delete(), (err) => code(err) === 16, 'a deleted call cannot be deleted again');

      const again = await call.getOrCreate({ data: { created_by_id: 'host' } });
      assert.equal(again.created, true, 'a new call with the same id');
      assert.equal(again.call.ended_at, null);
      assert.deepEqual(again.members, [], 'the old members went with the old call');
    });

    it('hard delete removes the call and its members and answers a finished task', async () => {
      const call = t.client.video.call('default', 'del-hard');
      await call.getOrCreate({ data: { created_by_id: 'host', members: [{ user_id: 'ann' }, { user_id: 'bob' }] } });
      const res = await t.client.video.deleteCall({ type: 'default', id: 'del-hard', hard: true });
      assertModel(res, 'DeleteCallResponse');
      assert.equal(typeof res.task_id, 'string');
      const task = await t.client.getTask({ id: res.task_id! });
      assertModel(task, 'GetTaskResponse');
      assert.equal(task.status, 'completed');
      assert.equal(task.result?.call_cid, 'default:del-hard');
      await assert.rejects(call.get(), (err) => code(err) === 16);
      assert.deepEqual(await t.server.store.listMembers('default:del-hard'), []);
      await assert.rejects(t.client.getTask({ id: 'no-such-task' }), (err) => code(err) === 16);
    });

    it('is refused with a user token (403, code 17) and the call stays', async () => {
      const call = t.client.video.call('default', 'del-user');
      await call.getOrCreate({ data: { created_by_id: 'ann' } });
      const token = t.client.generateUserToken({ user_id: 'ann' });
      const res = await rawRequest(t, 'POST', '/api/v2/video/call/default/del-user/delete', { token, body: {} });
      assert.equal(res.status, 403);
      assert.equal(res.body.code, 17);
      assert.match(res.body.message, /^DeleteCall failed with error: /);
      assert.equal((await call.get()).call.ended_at, null);
    });
  });

  describe('QueryCallMembers', () => {
    before(async () => {
      await t.client.video.call('default', 'members-q').getOrCreate({
        data: {
          created_by_id: 'host',
          members: [
            { user_id: 'host', role: 'host' },
            { user_id: 'ann', custom: { seat: 1, vip: true } },
            { user_id: 'bob', custom: { seat: 2 } },
            { user_id: 'cat', role: 'moderator', custom: { seat: 3, vip: true } },
            { user_id: 'dan', custom: { seat: 4 } },
          ],
        },
      });
    });

    const ids = (res: { members: Array<{ user_id: string }> }) => res.members.map((m) => m.user_id);

    it('filters on user_id, role and custom, with every required field', async () => {
      const call = t.client.video.call('default', 'members-q');
      const all = await call.queryMembers({ sort: [{ field: 'user_id', direction: 1 }] });
      assertModel(all, 'QueryCallMembersResponse');
      assert.deepEqual(ids(all), ['ann', 'bob', 'cat', 'dan', 'host']);
      assert.equal(all.members.find((m) => m.user_id === 'ann')!.user.name, 'Ann Smith');
      assert.deepEqual(
        ids(
          await call.queryMembers({
            filter_conditions: { user_id: { $in: ['dan', 'bob', 'zed'] } },
            sort: [{ field: 'user_id', direction: 1 }],
          }),
        ),
        ['bob', 'dan'],
      );
      assert.deepEqual(ids(await call.queryMembers({ filter_conditions: { user_id: 'cat' } })), ['cat']);
      assert.deepEqual(
        ids(await call.queryMembers({ filter_conditions: { role: 'call_member' }, sort: [{ field: 'user_id', direction: -1 }] })),
        ['dan', 'bob', 'ann'],
      );
      assert.deepEqual(
        ids(
          await call.queryMembers({
            filter_conditions: { role: { $in: ['host', 'moderator'] } },
            sort: [{ field: 'user_id', direction: 1 }],
          }),
        ),
        ['cat', 'host'],
      );
      assert.deepEqual(
        ids(await call.queryMembers({ filter_conditions: { 'custom.vip': true }, sort: [{ field: 'user_id', direction: 1 }] })),
        ['ann', 'cat'],
      );
      assert.deepEqual(
        ids(
          await call.queryMembers({
            filter_conditions: { 'custom.seat': { $nin: [1, 2, 3] } },
            sort: [{ field: 'user_id', direction: 1 }],
          }),
        ),
        ['dan', 'host'],
      );
      assert.deepEqual(
        ids(
          await call.queryMembers({ filter_conditions: { 'custom.vip': { $exists: false } }, sort: [{ field: 'user_id', direction: 1 }] }),
        ),
        ['bob', 'dan', 'host'],
      );
      assert.deepEqual(ids(await call.queryMembers({ filter_conditions: { custom: { seat: 2 } } })), ['bob']);
      assert.deepEqual(
        ids(
          await call.queryMembers({
            filter_conditions: { $or: [{ role: 'host' }, { 'custom.seat': 4 }] },
            sort: [{ field: 'user_id', direction: 1 }],
          }),
        ),
        ['dan', 'host'],
      );
      const viaClient = await t.client.video.queryCallMembers({ type: 'default', id: 'members-q', filter_conditions: { user_id: 'ann' } });
      assert.deepEqual(ids(viaClient), ['ann']);
    });

    it('pages with limit and the next / prev cursors', async () => {
      const call = t.client.video.call('default', 'members-q');
      const sort = [{ field: 'user_id', direction: 1 }];
      const p1 = await call.queryMembers({ sort, limit: 2 });
      assert.deepEqual(ids(p1), ['ann', 'bob']);
      assert.equal(p1.prev, undefined);
      assert.equal(typeof p1.next, 'string');
      const p2 = await call.queryMembers({ sort, limit: 2, next: p1.next! });
      assert.deepEqual(ids(p2), ['cat', 'dan']);
      const p3 = await call.queryMembers({ sort, limit: 2, next: p2.next! });
      assert.deepEqual(ids(p3), ['host']);
      assert.equal(p3.next, undefined);
      const back = await call.queryMembers({ sort, limit: 2, prev: p3.prev! });
      assert.deepEqual(ids(back), ['cat', 'dan']);
    });

    it('refuses unknown fields, operators and bad cursors (400, code 4), and unknown calls (404)', async () => {
      const call = t.client.video.call('default', 'members-q');
      await assert.rejects(
        call.queryMembers({ filter_conditions: { shoe_size: 42 } }),
        refusedWith(4, /filter_conditions\.shoe_size is not a supported filter field/),
      );
      await assert.rejects(
        call.queryMembers({ filter_conditions: { role: { $gt: 'a' } } }),
        refusedWith(4, /filter_conditions\.role supports/),
      );
      await assert.rejects(
        call.queryMembers({ filter_conditions: { 'custom.seat': { $gt: 1 } } }),
        refusedWith(4, /filter_conditions\.custom\.seat supports/),
      );
      await assert.rejects(
        call.queryMembers({ sort: [{ field: 'shoe_size', direction: 1 }] }),
        refusedWith(4, /shoe_size is not sortable/),
      );
      await assert.rejects(call.queryMembers({ next: 'garbage!' }), refusedWith(4, /next is not a valid cursor/));
      await assert.rejects(t.client.video.call('default', 'nope').queryMembers(), (err) => code(err) === 16);
    });
  });

  describe('users', () => {
    it('UpdateUsersPartial sets and unsets fields and custom keys, and user.updated carries custom', async () => {
      await t.client.upsertUsers([{ id: 'pat', name: 'Pat', image: 'https://example.test/p.png', custom: { color: 'red', size: 'm' } }]);
      const mark = t.events.length;
      const res = await t.client.updateUsersPartial({
        users: [{ id: 'pat', set: { name: 'Patricia', 'custom.color': 'green', language: 'fr' }, unset: ['image', 'custom.size'] }],
      });
      assertModel(res, 'UpdateUsersResponse');
      const pat = res.users.pat!;
      assert.equal(pat.name, 'Patricia');
      assert.equal(pat.image, undefined);
      assert.deepEqual(pat.custom, { color: 'green' });
      assert.equal(pat.language, 'fr');
      const stored = (await t.client.queryUsers({ payload: { filter_conditions: { id: 'pat' } } })).users[0]!;
      assert.equal(stored.name, 'Patricia');
      assert.deepEqual(stored.custom, { color: 'green' });
      assert.equal(stored.image, undefined);
      const event = await waitFor(() => t.events.slice(mark).find((e) => e.type === 'user.updated'), 'user.updated');
      assertModel({ ...event, created_at: new Date(event.created_at) }, 'UserUpdatedEvent');
      assert.deepEqual((event.user as { custom: unknown }).custom, { color: 'green' });

      const whole = await t.client.updateUsersPartial({ users: [{ id: 'pat', set: { custom: { only: 1 } } }] });
      assert.deepEqual(whole.users.pat!.custom, { only: 1 });
    });

    it('UpdateUsersPartial refuses fields that are not user fields, and a user token for someone else', async () => {
      await assert.rejects(
        t.client.updateUsersPartial({ users: [{ id: 'pat', set: { shoe_size: 42 } }] }),
        refusedWith(4, /users\[0\]\.set\.shoe_size is not a user field/),
      );
      await assert.rejects(t.client.updateUsersPartial({ users: [{ id: 'pat', unset: ['id'] }] }), refusedWith(4, /id cannot be unset/));
      assert.equal((await t.client.queryUsers({ payload: { filter_conditions: { id: 'pat' } } })).users[0]!.name, 'Patricia');
      const token = t.client.generateUserToken({ user_id: 'ann' });
      const other = await rawRequest(t, 'PATCH', '/api/v2/users', { token, body: { users: [{ id: 'pat', set: { name: 'x' } }] } });
      assert.equal(other.body.code, 17);
      const self = await rawRequest(t, 'PATCH', '/api/v2/users', {
        token,
        body: { users: [{ id: 'ann', set: { 'custom.mood': 'fine' } }] },
      });
      assert.equal(self.status, 200);
      assert.equal(self.body.users.ann.custom.mood, 'fine');
      assert.equal(self.body.users.ann.custom.team, 'red', 'other custom keys stay');
    });

    it('QueryUsers filters on name ($eq, $in, $autocomplete) and custom', async () => {
      const q = async (filter_conditions: Record<string, unknown>) =>
        (await t.client.queryUsers({ payload: { filter_conditions, sort: [{ field: 'id', direction: 1 }] } })).users.map((u) => u.id);
      assert.deepEqual(await q({ name: 'Bob Jones' }), ['bob']);
      assert.deepEqual(await q({ name: { $in: ['Bob Jones', 'Dan'] } }), ['bob', 'dan']);
      assert.deepEqual(await q({ name: { $autocomplete: 'ann' } }), ['ann', 'cat'], 'a word of the name starts with the text, any case');
      assert.deepEqual(await q({ name: { $autocomplete: 'JO' } }), ['bob']);
      assert.deepEqual(await q({ name: { $autocomplete: '%' } }), [], 'wildcards are text');
      assert.deepEqual(await q({ 'custom.team': 'red' }), ['ann', 'cat']);
      assert.deepEqual(await q({ 'custom.level': { $in: [1, 2] } }), ['bob', 'cat']);
      assert.deepEqual(await q({ 'custom.team': 'red', name: { $autocomplete: 'cath' } }), ['cat']);
      await assert.rejects(q({ name: { $gt: 'a' } }), refusedWith(4, /filter_conditions\.name supports/));
      const res = await t.client.queryUsers({ payload: { filter_conditions: { id: 'ann' } } });
      assertModel(res, 'QueryUsersResponse');
    });

    it('DeleteUsers (soft) answers a finished task; the users leave queries; user.deleted is sent', async () => {
      await t.client.upsertUsers([{ id: 'gone1', name: 'Gone One' }, { id: 'gone2' }]);
      const mark = t.events.length;
      const res = await t.client.deleteUsers({ user_ids: ['gone1', 'gone2', 'never-was'] });
      assertModel(res, 'DeleteUsersResponse');
      const task = await t.client.getTask({ id: res.task_id });
      assertModel(task, 'GetTaskResponse');
      assert.equal(task.status, 'completed');
      assert.deepEqual(task.result, { user_ids: ['gone1', 'gone2'], not_found: ['never-was'], calls: [] });
      const left = await t.client.queryUsers({ payload: { filter_conditions: { id: { $in: ['gone1', 'gone2'] } } } });
      assert.deepEqual(left.users, []);
      const events = t.events.slice(mark).filter((e) => e.type === 'user.deleted');
      assert.equal(events.length, 2);
      for (const e of events) assertModel({ ...e, created_at: new Date(e.created_at) }, 'UserDeletedEvent');
      // An upsert brings a soft-deleted user back.
      await t.client.upsertUsers([{ id: 'gone1', name: 'Back' }]);
      assert.equal((await t.client.queryUsers({ payload: { filter_conditions: { id: 'gone1' } } })).users[0]?.name, 'Back');
    });

    it('DeleteUsers (hard, calls hard) removes the users, their memberships and the calls they created', async () => {
      await t.client.upsertUsers([{ id: 'owner' }, { id: 'guest1' }]);
      await t.client.video.call('default', 'owned').getOrCreate({ data: { created_by_id: 'owner', members: [{ user_id: 'owner' }] } });
      await t.client.video
        .call('default', 'visited')
        .getOrCreate({ data: { created_by_id: 'host', members: [{ user_id: 'guest1' }, { user_id: 'host' }] } });
      const res = await t.client.deleteUsers({ user_ids: ['owner', 'guest1'], user: 'hard', calls: 'hard' });
      const task = await t.client.getTask({ id: res.task_id });
      assert.deepEqual(task.result?.calls, ['default:owned']);
      await assert.rejects(t.client.video.call('default', 'owned').get(), (err) => code(err) === 16);
      const visited = await t.client.video.call('default', 'visited').get();
      assert.deepEqual(
        visited.members.map((m) => m.user_id),
        ['host'],
        'the deleted user left the call',
      );
      assert.equal(await t.server.store.getUser('guest1'), null);
    });

    it('DeleteUsers refuses what it cannot do, and user tokens', async () => {
      await assert.rejects(
        t.client.deleteUsers({ user_ids: ['ann'], new_call_owner_id: 'bob' }),
        refusedWith(4, /new_call_owner_id is not supported/),
      );
      assert.equal((await t.client.queryUsers({ payload: { filter_conditions: { id: 'ann' } } })).users.length, 1);
      await assert.rejects(t.client.deleteUsers({ user_ids: [] }), (err) => code(err) === 4);
      const token = t.client.generateUserToken({ user_id: 'ann' });
      assert.equal((await rawRequest(t, 'POST', '/api/v2/users/delete', { token, body: { user_ids: ['ann'] } })).body.code, 17);
    });
  });

  describe('QueryCalls filters', () => {
    it('backstage: as call responses show it (type setting or override, and not live)', async () => {
      const v = t.client.video;
      await v.call('livestream', 'qb-back').getOrCreate({ data: { created_by_id: 'host', custom: { sweep: 'qb' } } });
      await v.call('livestream', 'qb-live').getOrCreate({ data: { created_by_id: 'host', custom: { sweep: 'qb' } } });
      await v.call('livestream', 'qb-live').goLive();
      await v.call('default', 'qb-default').getOrCreate({ data: { created_by_id: 'host', custom: { sweep: 'qb' } } });
      await v.call('default', 'qb-override').getOrCreate({
        data: { created_by_id: 'host', custom: { sweep: 'qb' }, settings_override: { backstage: { enabled: true } } as never },
      });
      const ids = async (backstage: boolean) =>
        (await v.queryCalls({ filter_conditions: { 'custom.sweep': 'qb', backstage }, sort: [{ field: 'id', direction: 1 }] })).calls.map(
          (c) => {
            assert.equal(c.call.backstage, backstage);
            return c.call.id;
          },
        );
      assert.deepEqual(await ids(true), ['qb-back', 'qb-override']);
      assert.deepEqual(await ids(false), ['qb-default', 'qb-live']);
      await assert.rejects(v.queryCalls({ filter_conditions: { backstage: 'yes' } }), refusedWith(4, /backstage must be a boolean/));
    });

    it('ongoing: a call that has not ended with an active broadcast', async () => {
      const v = t.client.video;
      await v.call('default', 'qo-on').getOrCreate({ data: { created_by_id: 'host', custom: { sweep: 'qo' } } });
      await v.call('default', 'qo-off').getOrCreate({ data: { created_by_id: 'host', custom: { sweep: 'qo' } } });
      await v
        .call('default', 'qo-on')
        .startRTMPBroadcasts({ broadcasts: [{ name: 'live', stream_url: 'rtmp://ingest.example.test/app', stream_key: 'k' }] });
      const ids = async (ongoing: boolean) =>
        (await v.queryCalls({ filter_conditions: { 'custom.sweep': 'qo', ongoing }, sort: [{ field: 'id', direction: 1 }] })).calls.map(
          (c) => c.call.id,
        );
      assert.deepEqual(await ids(true), ['qo-on']);
      assert.deepEqual(await ids(false), ['qo-off']);
      await v.call('default', 'qo-on').stopAllRTMPBroadcasts();
      assert.deepEqual(await ids(true), []);
    });
  });

  describe('goLive', () => {
    it('answers 400 naming a flag Callcast cannot honour, and starts nothing', async () => {
      const call = t.client.video.call('livestream', 'golive-flags');
      await call.getOrCreate({ data: { created_by_id: 'host' } });
      for (const flag of ['start_hls', 'start_recording', 'start_transcription', 'start_closed_caption'] as const) {
        await assert.rejects(call.goLive({ [flag]: true }), refusedWith(4, new RegExp(`${flag} is not supported`)));
      }
      const state = await call.get();
      assert.equal(state.call.backstage, true, 'still in backstage');
      assert.equal(state.call.recording, false);
      const live = await call.goLive({});
      assertModel(live, 'GoLiveResponse');
      assert.equal(live.call.backstage, false);
    });
  });

  describe('call time limits', () => {
    it('maxDurationDeadline: seconds after the call became active; none without a positive limit', () => {
      assert.equal(maxDurationDeadline({ limits: { max_duration_seconds: 90 } }, 1_000), 91_000);
      assert.equal(maxDurationDeadline({ limits: { max_duration_seconds: 0 } }, 1_000), null);
      assert.equal(maxDurationDeadline({ limits: {} }, 1_000), null);
      assert.equal(maxDurationDeadline({}, 1_000), null);
    });

    async function endsAtLimit(id: string, initialSeconds: number, updateTo?: number) {
      const call = t.client.video.call('default', id);
      await call.getOrCreate({
        data: { created_by_id: 'host', settings_override: { limits: { max_duration_seconds: initialSeconds } } as never },
      });
      await call.startRTMPBroadcasts({ broadcasts: [{ name: 'out', stream_url: 'rtmp://ingest.example.test/app', stream_key: 'k' }] });
      const mark = t.events.length;
      const started = Date.now();
      t.engine.reportStarted(`default:${id}`, 'out');
      if (updateTo !== undefined) await call.update({ settings_override: { limits: { max_duration_seconds: updateTo } } as never });
      const ended = await waitFor(
        () => t.events.slice(mark).find((e) => e.type === 'call.ended' && e.call_cid === `default:${id}`),
        'call.ended at the limit',
        30_000,
      );
      console.log(`# ${id}: call.ended ${Date.now() - started} ms after the broadcast started (limit ${updateTo ?? initialSeconds} s)`);
      assert.equal(ended.reason, MAX_DURATION_REASON);
      assertModel({ ...ended, created_at: new Date(ended.created_at) }, 'CallEndedEvent');
      assert.deepEqual(t.engine.stopped.at(-1), { callCid: `default:${id}`, name: 'out' }, 'its broadcasts stopped');
      const state = await call.get();
      assert.ok(state.call.ended_at instanceof Date);
      assert.deepEqual(state.call.egress.rtmps, []);
    }

    it('limits.max_duration_seconds ends the call and its broadcasts, with call.ended reason max_duration', async () => {
      await endsAtLimit('limit-1', 1);
    });

    it('a changed limit moves the deadline', async () => {
      await endsAtLimit('limit-2', 3600, 1);
    });
  });
});
