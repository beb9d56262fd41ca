/**
 * RTMP broadcast state through the SDK against a recording engine double: start/stop/stop-all,
 * settings resolution, every validation rule (right code AND no state change), permissions with
 * user tokens, the engine callbacks and their events, restart persistence, end of call.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { callUpdatedWithBroadcasts, rawRequest, startTestServer, type TestServer } from '../support/server.js';
import { waitFor } from '../support/wait.js';

const code = (err: unknown) => (err as { code?: number }).code;

describe('RTMP broadcasts', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
    await t.client.upsertUsers([{ id: 'host1' }, { id: 'viewer' }]);
  });
  after(async () => {
    await t?.close();
  });

  async function egressOf(type: string, id: string) {
    return (await t.client.video.call(type, id).get()).call.egress;
  }

  it('starts, lists, and stops a broadcast by name with events', async () => {
    const call = t.client.video.call('default', 'b1');
    await call.getOrCreate({ data: { created_by_id: 'host1' } });
    const before = t.events.length;
    const res = await call.startRTMPBroadcasts({
      broadcasts: [{ name: 'youtube', stream_url: 'rtmps://a.example.test/live2', stream_key: 'secret-key' }],
    });
    assert.equal(res.metadata.responseCode, 201);
    assert.equal(typeof res.duration, 'string');
    assert.deepEqual(t.engine.started.at(-1), {
      callCid: 'default:b1',
      name: 'youtube',
      streamUrl: 'rtmps://a.example.test/live2',
      streamKey: 'secret-key',
      quality: '720p',
      layout: { name: 'spotlight', external_app_url: '', external_css_url: '' },
    });
    const egress = await egressOf('default', 'b1');
    assert.equal(egress.broadcasting, true);
    assert.equal(egress.rtmps.length, 1);
    assert.equal(egress.rtmps[0]!.name, 'youtube');
    assert.equal(egress.rtmps[0]!.stream_url, 'rtmps://a.example.test/live2');
    assert.equal(egress.rtmps[0]!.stream_key, 'secret-key');
    assert.ok(egress.rtmps[0]!.started_at instanceof Date);
    const updated = await waitFor(() => t.events.slice(before).find((e) => e.type === 'call.updated'), 'call.updated');
    assert.equal((updated.call as any).egress.rtmps[0].name, 'youtube');

    t.engine.reportStarted('default:b1', 'youtube');
    const started = t.events.find((e) => e.type === 'call.rtmp_broadcast_started' && e.name === 'youtube');
    assert.ok(started);
    assert.equal(started.call_cid, 'default:b1');
    assert.equal(typeof started.created_at, 'string');

    const details = await rawRequest(t, 'GET', '/api/v2/video/call/default/b1/rtmp_broadcasts/youtube', {
      token: t.client.generateUserToken({ user_id: 'host1' }),
    });
    assert.equal(details.status, 200);
    assert.equal(details.body.broadcast.name, 'youtube');
    assert.equal(details.body.broadcast.stats.state, 'live');

    const stopMark = t.events.length;
    await call.stopRTMPBroadcast({ name: 'youtube' });
    assert.deepEqual(t.engine.stopped.at(-1), { callCid: 'default:b1', name: 'youtube' });
    assert.deepEqual(await egressOf('default', 'b1'), { broadcasting: false, rtmps: [] });
    await waitFor(
      () => t.events.slice(stopMark).find((e) => e.type === 'call.rtmp_broadcast_stopped' && e.name === 'youtube'),
      'stopped event',
    );
    const afterStop = await waitFor(() => t.events.slice(stopMark).find((e) => e.type === 'call.updated'), 'call.updated after stop');
    assert.deepEqual((afterStop.call as any).egress.rtmps, []);

    await assert.rejects(call.stopRTMPBroadcast({ name: 'youtube' }), (err) => code(err) === 16);
  });

  it('announces a stop at once: call.updated no longer lists the broadcast while the engine is still closing it', async () => {
    const call = t.client.video.call('default', 'b-slow-stop');
    await call.getOrCreate({ data: { created_by_id: 'host1' } });
    await call.startRTMPBroadcasts({ broadcasts: [{ name: 'main', stream_url: 'rtmp://127.0.0.1:1935/live', stream_key: 'k1' }] });
    await call.startRTMPBroadcasts({ broadcasts: [{ name: 'backup', stream_url: 'rtmp://127.0.0.1:1935/live', stream_key: 'k2' }] });
    const release = t.engine.holdStops();
    try {
      const mark = t.events.length;
      await call.stopRTMPBroadcast({ name: 'main' });
      // The engine has not reported the stop (a slow RTMP close), but the call response already
      // lacks "main": the last call.updated must say so, or pages keep asking for its preview (404).
      // (A call.updated of the second start may still be on its way, listing both: the one without
      // "main" must follow while the engine still holds the stop.)
      type Updated = { call?: { egress?: { rtmps?: Array<{ name: string }> } } };
      const names = (e: unknown) => (e as Updated).call?.egress?.rtmps?.map((r) => r.name);
      const updated = await waitFor(
        () =>
          t.events
            .slice(mark)
            .find((e) => e.type === 'call.updated' && e.call_cid === 'default:b-slow-stop' && !names(e)?.includes('main')),
        'a call.updated without "main" while its stop is still held',
      );
      assert.deepEqual(names(updated), ['backup']);
      // Pages that have not heard yet may still ask for its picture: "no picture", not "no such broadcast".
      assert.equal(t.server.broadcasts.recentlyStopped('default:b-slow-stop', 'main'), true);
      assert.equal(t.server.broadcasts.recentlyStopped('default:b-slow-stop', 'backup'), false);
      assert.equal(
        t.events.slice(mark).some((e) => e.type === 'call.rtmp_broadcast_stopped'),
        false,
        'the engine is still closing it',
      );
      const all = t.events.length;
      await call.stopAllRTMPBroadcasts();
      const afterAll = await waitFor(
        () => t.events.slice(all).find((e) => e.type === 'call.updated' && e.call_cid === 'default:b-slow-stop' && names(e)?.length === 0),
        'a call.updated with no broadcast after stop all, while the stops are still held',
      );
      assert.deepEqual(names(afterAll), []);
    } finally {
      release();
    }
    await waitFor(
      () => t.events.filter((e) => e.type === 'call.rtmp_broadcast_stopped' && e.call_cid === 'default:b-slow-stop').length === 2,
      'both stopped by the engine',
    );
    // Every call.updated of the call is published in order: the last one is the call as it is now.
    const last = t.events.filter((e) => e.type === 'call.updated' && e.call_cid === 'default:b-slow-stop').at(-1) as unknown as {
      call: { egress: { rtmps: unknown[] } };
    };
    assert.deepEqual(last.call.egress.rtmps, []);
  });

  it('runs several named broadcasts and stops them all', async () => {
    const call = t.client.video.call('default', 'b2');
    await call.getOrCreate({ data: { created_by_id: 'host1' } });
    await call.startRTMPBroadcasts({ broadcasts: [{ name: 'yt', stream_url: 'rtmp://127.0.0.1:1935/live', stream_key: 'k1' }] });
    await call.startRTMPBroadcasts({ broadcasts: [{ name: 'twitch tv', stream_url: 'rtmp://127.0.0.1:1935/app' }] });
    await call.startRTMPBroadcasts({ broadcasts: [{ name: 'stop', stream_url: 'rtmp://127.0.0.1:1935/app' }] });
    assert.deepEqual((await egressOf('default', 'b2')).rtmps.map((r) => r.name).sort(), ['stop', 'twitch tv', 'yt']);
    await call.stopRTMPBroadcast({ name: 'twitch tv' });
    await call.stopRTMPBroadcast({ name: 'stop' });
    assert.deepEqual(
      (await egressOf('default', 'b2')).rtmps.map((r) => r.name),
      ['yt'],
    );
    await call.startRTMPBroadcasts({ broadcasts: [{ name: 'fb', stream_url: 'rtmp://127.0.0.1:1935/app' }] });
    const mark = t.events.length;
    await call.stopAllRTMPBroadcasts();
    assert.deepEqual(await egressOf('default', 'b2'), { broadcasting: false, rtmps: [] });
    const stopped = t.events
      .slice(mark)
      .filter((e) => e.type === 'call.rtmp_broadcast_stopped')
      .map((e) => e.name)
      .sort();
    assert.deepEqual(stopped, ['fb', 'yt']);
    await call.stopAllRTMPBroadcasts(); // nothing active: still fine
  });

  it('resolves quality and layout: request over call override over call type', async () => {
    await t.client.video.updateCallType({
      name: 'livestream',
      settings: { broadcasting: { enabled: true, rtmp: { enabled: true, quality: '1080p', layout: { name: 'grid' } } } } as any,
    });
    const typeOnly = t.client.video.call('livestream', 'r1');
    await typeOnly.getOrCreate({ data: { created_by_id: 'host1' } });
    await typeOnly.startRTMPBroadcasts({ broadcasts: [{ name: 'a', stream_url: 'rtmp://127.0.0.1/live' }] });
    let spec = t.engine.started.at(-1)!;
    assert.equal(spec.quality, '1080p');
    assert.equal(spec.layout.name, 'grid');

    const overridden = t.client.video.call('livestream', 'r2');
    await overridden.getOrCreate({
      data: {
        created_by_id: 'host1',
        settings_override: {
          broadcasting: { rtmp: { quality: 'portrait-720x1280', layout: { name: 'single-participant', options: { 'title.text': 'Hi' } } } },
        } as any,
      },
    });
    await overridden.startRTMPBroadcasts({ broadcasts: [{ name: 'a', stream_url: 'rtmp://127.0.0.1/live' }] });
    spec = t.engine.started.at(-1)!;
    assert.equal(spec.quality, 'portrait-720x1280');
    assert.deepEqual(spec.layout, {
      name: 'single-participant',
      external_app_url: '',
      external_css_url: '',
      options: { 'title.text': 'Hi' },
    });

    await overridden.startRTMPBroadcasts({
      broadcasts: [{ name: 'b', stream_url: 'rtmp://127.0.0.1/live', quality: '360p', layout: { name: 'mobile' } }],
    });
    spec = t.engine.started.at(-1)!;
    assert.equal(spec.quality, '360p');
    assert.deepEqual(spec.layout, { name: 'mobile', external_app_url: '', external_css_url: '' });
  });

  describe('validation: the right code and no state change', () => {
    const call = () => t.client.video.call('default', 'v1');
    before(async () => {
      await call().getOrCreate({ data: { created_by_id: 'host1' } });
      await call().startRTMPBroadcasts({ broadcasts: [{ name: 'existing', stream_url: 'rtmp://127.0.0.1/live' }] });
    });

    const base = { name: 'n', stream_url: 'rtmp://127.0.0.1/live' };
    const cases: Array<[string, unknown, RegExp]> = [
      ['no broadcast', { broadcasts: [] }, /exactly one/],
      ['two broadcasts', { broadcasts: [base, { ...base, name: 'm' }] }, /exactly one/],
      ['missing broadcasts', {}, /broadcasts is required/],
      ['empty name', { broadcasts: [{ ...base, name: '' }] }, /name must be a non-empty string/],
      ['long name', { broadcasts: [{ ...base, name: 'x'.repeat(256) }] }, /at most 255/],
      ['slash in name', { broadcasts: [{ ...base, name: 'a/b' }] }, /must not contain/],
      ['question mark in name', { broadcasts: [{ ...base, name: 'a?b' }] }, /must not contain/],
      ['hash in name', { broadcasts: [{ ...base, name: 'a#b' }] }, /must not contain/],
      ['percent in name', { broadcasts: [{ ...base, name: 'a%20b' }] }, /must not contain/],
      ['control character in name', { broadcasts: [{ ...base, name: 'a\nb' }] }, /must not contain/],
      ['dot name', { broadcasts: [{ ...base, name: '.' }] }, /must not contain/],
      ['dot-dot name', { broadcasts: [{ ...base, name: '..' }] }, /must not contain/],
      ['duplicate name', { broadcasts: [{ ...base, name: 'existing' }] }, /already active/],
      ['http url', { broadcasts: [{ ...base, stream_url: 'http://127.0.0.1/live' }] }, /rtmp:\/\/ or rtmps:\/\//],
      ['url without host', { broadcasts: [{ ...base, stream_url: 'rtmp:///live' }] }, /rtmp|host/],
      ['not a url', { broadcasts: [{ ...base, stream_url: 'nonsense' }] }, /rtmp:\/\/ or rtmps:\/\//],
      ['long url', { broadcasts: [{ ...base, stream_url: `rtmp://127.0.0.1/${'x'.repeat(250)}` }] }, /at most 255/],
      ['numeric stream_key', { broadcasts: [{ ...base, stream_key: 5 }] }, /stream_key must be string/],
      ['bad quality', { broadcasts: [{ ...base, quality: '4k' }] }, /quality must be one of/],
      ['bad layout name', { broadcasts: [{ ...base, layout: { name: 'diagonal' } }] }, /layout\.name must be one of/],
      ['layout without name', { broadcasts: [{ ...base, layout: {} }] }, /layout\.name is required/],
      [
        'bad layout option',
        { broadcasts: [{ ...base, layout: { name: 'grid', options: { 'layout.spotlight.participants_bar_position': 'diagonal' } } }] },
        /participants_bar_position/,
      ],
    ];
    for (const [what, body, message] of cases) {
      it(`rejects ${what}`, async () => {
        const startedBefore = t.engine.started.length;
        const egressBefore = await egressOf('default', 'v1');
        const res = await rawRequest(t, 'POST', '/api/v2/video/call/default/v1/rtmp_broadcasts', {
          token: t.client.generateCallToken({ user_id: 'host1', call_cids: ['default:v1'], role: 'host' }),
          body: body as object,
        });
        assert.equal(res.status, 400, JSON.stringify(res.body));
        assert.equal(res.body.code, 4);
        assert.match(res.body.message, /^StartRTMPBroadcasts failed with error: /);
        assert.match(res.body.message, message);
        assert.equal(t.engine.started.length, startedBefore);
        assert.deepEqual(await egressOf('default', 'v1'), egressBefore);
      });
    }

    it('rejects through the SDK too (Stream error code 4)', async () => {
      await assert.rejects(
        call().startRTMPBroadcasts({ broadcasts: [{ name: 'x', stream_url: 'ftp://example.test/x' }] }),
        (err) => code(err) === 4,
      );
    });

    it('requires broadcasting and RTMP to be enabled (400/4)', async () => {
      const off = t.client.video.call('default', 'v-off');
      await off.getOrCreate({ data: { created_by_id: 'host1', settings_override: { broadcasting: { rtmp: { enabled: false } } } as any } });
      const startedBefore = t.engine.started.length;
      await assert.rejects(
        off.startRTMPBroadcasts({ broadcasts: [base] }),
        (err: Error) => code(err) === 4 && /RTMP broadcasting is disabled/.test(err.message),
      );
      await off.update({ settings_override: { broadcasting: { enabled: false, rtmp: { enabled: true } } } as any });
      await assert.rejects(
        off.startRTMPBroadcasts({ broadcasts: [base] }),
        (err: Error) => code(err) === 4 && /broadcasting is disabled/.test(err.message),
      );
      assert.equal(t.engine.started.length, startedBefore);
      assert.deepEqual(await egressOf('default', 'v-off'), { broadcasting: false, rtmps: [] });
    });

    it('answers an unknown call with 404/16 and an ended call with 400/4', async () => {
      await assert.rejects(t.client.video.call('default', 'ghost').startRTMPBroadcasts({ broadcasts: [base] }), (err) => code(err) === 16);
      await assert.rejects(t.client.video.call('default', 'ghost').stopAllRTMPBroadcasts(), (err) => code(err) === 16);
      const ended = t.client.video.call('default', 'v-ended');
      await ended.getOrCreate({ data: { created_by_id: 'host1' } });
      await ended.end();
      await assert.rejects(ended.startRTMPBroadcasts({ broadcasts: [base] }), (err: Error) => code(err) === 4 && /ended/.test(err.message));
    });
  });

  describe('permissions with user tokens', () => {
    before(async () => {
      await t.client.video
        .call('default', 'p1')
        .getOrCreate({ data: { created_by_id: 'host1', members: [{ user_id: 'host1', role: 'host' }, { user_id: 'viewer' }] } });
      // RTMP in development is off until an operator enables it.
      await t.client.video.updateCallType({ name: 'development', settings: { broadcasting: { rtmp: { enabled: true } } } as any });
      await t.client.video.call('development', 'p2').getOrCreate({ data: { created_by_id: 'host1' } });
    });
    const body = { broadcasts: [{ name: 'perm', stream_url: 'rtmp://127.0.0.1/live' }] };

    it('refuses start without start-broadcast-call (403/17) and changes nothing', async () => {
      const startedBefore = t.engine.started.length;
      const res = await rawRequest(t, 'POST', '/api/v2/video/call/default/p1/rtmp_broadcasts', {
        token: t.client.generateUserToken({ user_id: 'viewer' }),
        body,
      });
      assert.equal(res.status, 403);
      assert.equal(res.body.code, 17);
      assert.match(res.body.message, /start-broadcast-call/);
      assert.equal(t.engine.started.length, startedBefore);
      assert.deepEqual(await egressOf('default', 'p1'), { broadcasting: false, rtmps: [] });
    });

    it('lets a host member start, refuses stop to a viewer, lets the host stop', async () => {
      const hostToken = t.client.generateUserToken({ user_id: 'host1' });
      const start = await rawRequest(t, 'POST', '/api/v2/video/call/default/p1/rtmp_broadcasts', { token: hostToken, body });
      assert.equal(start.status, 201, JSON.stringify(start.body));
      const denied = await rawRequest(t, 'POST', '/api/v2/video/call/default/p1/rtmp_broadcasts/perm/stop', {
        token: t.client.generateUserToken({ user_id: 'viewer' }),
        body: {},
      });
      assert.equal(denied.status, 403);
      assert.equal(denied.body.code, 17);
      const deniedAll = await rawRequest(t, 'POST', '/api/v2/video/call/default/p1/rtmp_broadcasts/stop', {
        token: t.client.generateUserToken({ user_id: 'viewer' }),
      });
      assert.equal(deniedAll.status, 403);
      assert.equal((await egressOf('default', 'p1')).rtmps.length, 1);
      const stop = await rawRequest(t, 'POST', '/api/v2/video/call/default/p1/rtmp_broadcasts/perm/stop', { token: hostToken, body: {} });
      assert.equal(stop.status, 201);
      assert.equal((await egressOf('default', 'p1')).rtmps.length, 0);
    });

    it('honours the role of a call token, and everyone may broadcast in development', async () => {
      const moderatorToken = t.client.generateCallToken({ user_id: 'viewer', call_cids: ['default:p1'], role: 'moderator' });
      const res = await rawRequest(t, 'POST', '/api/v2/video/call/default/p1/rtmp_broadcasts', { token: moderatorToken, body });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      const memberToken = t.client.generateCallToken({ user_id: 'someone', call_cids: ['default:p1'] });
      const refused = await rawRequest(t, 'POST', '/api/v2/video/call/default/p1/rtmp_broadcasts/perm/stop', {
        token: memberToken,
        body: {},
      });
      assert.equal(refused.status, 403);
      const dev = await rawRequest(t, 'POST', '/api/v2/video/call/development/p2/rtmp_broadcasts', {
        token: t.client.generateUserToken({ user_id: 'anybody' }),
        body,
      });
      assert.equal(dev.status, 201, JSON.stringify(dev.body));
    });
  });

  it('removes a failed broadcast from the state with failed and updated events', async () => {
    const call = t.client.video.call('default', 'f1');
    await call.getOrCreate({ data: { created_by_id: 'host1' } });
    await call.startRTMPBroadcasts({ broadcasts: [{ name: 'flaky', stream_url: 'rtmp://127.0.0.1:1/live' }] });
    const beforeSolid = t.events.length;
    await call.startRTMPBroadcasts({ broadcasts: [{ name: 'solid', stream_url: 'rtmp://127.0.0.1/live' }] });
    // The start's own call.updated is published after the response; wait for it so that the one
    // read below is the failure's.
    await callUpdatedWithBroadcasts(t, beforeSolid, 2);
    const mark = t.events.length;
    t.engine.reportFailed('default:f1', 'flaky', 'connection refused');
    await waitFor(() => t.events.slice(mark).find((e) => e.type === 'call.rtmp_broadcast_failed' && e.name === 'flaky'), 'failed event');
    const updated = await waitFor(() => t.events.slice(mark).find((e) => e.type === 'call.updated'), 'call.updated after failure');
    assert.deepEqual(
      (updated.call as any).egress.rtmps.map((r: any) => r.name),
      ['solid'],
    );
    assert.deepEqual(
      (await egressOf('default', 'f1')).rtmps.map((r) => r.name),
      ['solid'],
    );
    // The name is free again.
    await call.startRTMPBroadcasts({ broadcasts: [{ name: 'flaky', stream_url: 'rtmp://127.0.0.1/live' }] });
  });

  it('a broadcast restarted under the same name waits for the engine to close its predecessor', async () => {
    const call = t.client.video.call('default', 'again');
    await call.getOrCreate({ data: { created_by_id: 'host1' } });
    await call.startRTMPBroadcasts({ broadcasts: [{ name: 'yt', stream_url: 'rtmp://127.0.0.1/live' }] });
    const release = t.engine.holdStops();
    await call.stopRTMPBroadcast({ name: 'yt' });
    const restart = call.startRTMPBroadcasts({ broadcasts: [{ name: 'yt', stream_url: 'rtmp://127.0.0.1/live2' }] });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(t.engine.started.filter((s) => s.callCid === 'default:again').length, 1, 'not started while the old one closes');
    release();
    await restart;
    const specs = t.engine.started.filter((s) => s.callCid === 'default:again');
    assert.deepEqual(
      specs.map((s) => s.streamUrl),
      ['rtmp://127.0.0.1/live', 'rtmp://127.0.0.1/live2'],
    );
    assert.deepEqual(
      (await egressOf('default', 'again')).rtmps.map((r) => r.stream_url),
      ['rtmp://127.0.0.1/live2'],
    );
  });

  it('go live leaves backstage; stop live returns to it and stops broadcasts unless asked to continue', async () => {
    const call = t.client.video.call('livestream', 'live1');
    const created = await call.getOrCreate({ data: { created_by_id: 'host1' } });
    assert.equal(created.call.backstage, true);
    const live = await call.goLive({});
    assert.equal(live.call.backstage, false);
    assert.ok(t.events.find((e) => e.type === 'call.live_started' && e.call_cid === 'livestream:live1'));
    await assert.rejects(call.goLive({ start_hls: true }), (err: Error) => code(err) === 4 && /start_hls/.test(err.message));

    await call.startRTMPBroadcasts({ broadcasts: [{ name: 'kept', stream_url: 'rtmp://127.0.0.1/live' }] });
    const paused = await call.stopLive({ continue_rtmp_broadcasts: true });
    assert.equal(paused.call.backstage, true);
    assert.deepEqual(
      paused.call.egress.rtmps.map((r) => r.name),
      ['kept'],
    );

    await call.goLive({});
    const stopped = await call.stopLive({});
    assert.equal(stopped.call.backstage, true);
    assert.deepEqual(stopped.call.egress.rtmps, []);
    assert.ok(t.engine.stopped.some((s) => s.callCid === 'livestream:live1' && s.name === 'kept'));

    const viewer = await rawRequest(t, 'POST', '/api/v2/video/call/livestream/live1/go_live', {
      token: t.client.generateUserToken({ user_id: 'viewer' }),
      body: {},
    });
    assert.equal(viewer.status, 403);
    assert.equal(viewer.body.code, 17);
  });

  it('ending a call stops every broadcast', async () => {
    const call = t.client.video.call('default', 'e1');
    await call.getOrCreate({ data: { created_by_id: 'host1' } });
    await call.startRTMPBroadcasts({ broadcasts: [{ name: 'one', stream_url: 'rtmp://127.0.0.1/live' }] });
    await call.startRTMPBroadcasts({ broadcasts: [{ name: 'two', stream_url: 'rtmp://127.0.0.1/live' }] });
    await call.end();
    const stopped = t.engine.stopped
      .filter((s) => s.callCid === 'default:e1')
      .map((s) => s.name)
      .sort();
    assert.deepEqual(stopped, ['one', 'two']);
    assert.deepEqual(await egressOf('default', 'e1'), { broadcasting: false, rtmps: [] });
    assert.ok(t.events.find((e) => e.type === 'call.ended' && e.call_cid === 'default:e1'));
  });
});

describe('RTMP broadcast state across a restart', () => {
  it('starts the persisted broadcasts again on the new engine', async () => {
    let t = await startTestServer();
    try {
      const call = t.client.video.call('default', 'persist');
      await call.getOrCreate({ data: { created_by_id: 'host1' } });
      await call.startRTMPBroadcasts({
        broadcasts: [{ name: 'keep', stream_url: 'rtmps://a.example.test/live2', stream_key: 'k', quality: '480p' }],
      });
      await call.startRTMPBroadcasts({ broadcasts: [{ name: 'gone', stream_url: 'rtmp://127.0.0.1/live' }] });
      await call.stopRTMPBroadcast({ name: 'gone' });
      const first = t.engine;
      first.failOnShutdown = true; // reports during shutdown must not drop the persisted state
      t = await t.restart();
      assert.equal(first.shutdownCalls, 1);
      assert.deepEqual(
        t.engine.started.map((s) => [s.callCid, s.name, s.quality, s.streamKey]),
        [['default:persist', 'keep', '480p', 'k']],
      );
      const egress = (await t.client.video.call('default', 'persist').get()).call.egress;
      assert.deepEqual(
        egress.rtmps.map((r) => r.name),
        ['keep'],
      );
      await t.client.video.call('default', 'persist').stopRTMPBroadcast({ name: 'keep' });
      assert.deepEqual(t.engine.stopped, [{ callCid: 'default:persist', name: 'keep' }]);
    } finally {
      await t.close();
    }
  });
});
