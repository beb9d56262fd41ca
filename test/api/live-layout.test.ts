/**
 * Layouts of running broadcasts in the control plane, through the node SDK and raw HTTP against a
 * recording engine double: a broadcast started without a layout follows the call's and the call
 * type's RTMP layout settings, one started with a layout keeps it; PATCH of one broadcast changes
 * its layout (then kept), refuses a quality change, answers 404 for an unknown name and 403
 * without start-broadcast-call; screenshare_layout is accepted wherever a layout is; the layout
 * and where it comes from survive a restart.
 */
import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import { after, before, describe, it } from 'node:test';
import { callUpdatedWithBroadcasts, rawRequest, startTestServer, type TestServer } from '../support/server.js';
import { waitFor } from '../support/wait.js';

const code = (err: unknown) => (err as { code?: number }).code;

describe('layouts of running broadcasts', () => {
  let t: TestServer;
  let serverToken: string;
  before(async () => {
    t = await startTestServer();
    serverToken = await new SignJWT({ server: true })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .sign(new TextEncoder().encode(t.apiSecret));
    await t.client.upsertUsers([{ id: 'host1' }, { id: 'viewer' }]);
    await t.client.video.createCallType({
      name: 'studio',
      settings: { broadcasting: { enabled: true, rtmp: { enabled: true, quality: '720p', layout: { name: 'grid' } } } } as any,
    });
  });
  after(async () => {
    await t?.close();
  });

  const path = (type: string, id: string, name: string) => `/api/v2/video/call/${type}/${id}/rtmp_broadcasts/${name}`;
  const details = async (type: string, id: string, name: string) =>
    (await rawRequest(t, 'GET', path(type, id, name), { token: serverToken })).body.broadcast;
  const active = (cid: string, name: string) => t.engine.active.get(`${cid}\u0000${name}`);

  it('follows the call settings and the call type settings; a layout of the request is kept', async () => {
    const call = t.client.video.call('studio', 'live1');
    await call.getOrCreate({ data: { created_by_id: 'host1' } });
    const beforeStarts = t.events.length;
    await call.startRTMPBroadcasts({ broadcasts: [{ name: 'follows', stream_url: 'rtmps://a.example.test/live2', stream_key: 'k1' }] });
    await call.startRTMPBroadcasts({
      broadcasts: [{ name: 'own', stream_url: 'rtmps://b.example.test/live2', stream_key: 'k2', layout: { name: 'single-participant' } }],
    });
    assert.equal(active('studio:live1', 'follows')?.layout.name, 'grid');
    assert.equal((await details('studio', 'live1', 'follows')).layout_source, 'settings');
    assert.equal((await details('studio', 'live1', 'own')).layout_source, 'request');

    // The starts' own call.updated events are published after their responses: wait for the
    // second so that the one read below is the update's.
    await callUpdatedWithBroadcasts(t, beforeStarts, 2);

    // UpdateCall: name and options of the RTMP layout.
    const before = t.events.length;
    const changesBefore = t.engine.layoutChanges.length;
    await call.update({
      settings_override: {
        broadcasting: { rtmp: { layout: { name: 'spotlight', options: { 'layout.background_color': '#336699' } } } },
      } as any,
    });
    const changes = t.engine.layoutChanges.slice(changesBefore);
    assert.deepEqual(changes, [
      {
        callCid: 'studio:live1',
        name: 'follows',
        layout: { name: 'spotlight', external_app_url: '', external_css_url: '', options: { 'layout.background_color': '#336699' } },
      },
    ]);
    assert.equal(active('studio:live1', 'own')?.layout.name, 'single-participant');
    const shown = await details('studio', 'live1', 'follows');
    assert.equal(shown.layout.name, 'spotlight');
    assert.equal(shown.layout_source, 'settings');
    // call.updated carries the new settings.
    const updated = await waitFor(() => t.events.slice(before).find((e) => e.type === 'call.updated'), 'call.updated');
    const rtmp = (updated.call as any).settings.broadcasting.rtmp;
    assert.equal(rtmp.layout.name, 'spotlight');
    assert.equal(rtmp.layout.options['layout.background_color'], '#336699');
    // The same settings again change nothing.
    await call.update({ settings_override: { broadcasting: { rtmp: { layout: { name: 'spotlight' } } } } as any });
    assert.equal(t.engine.layoutChanges.length, changesBefore + 1);

    // UpdateCallType: a call of the type without an override of its own follows; this one (its
    // override sets the layout) keeps the override's.
    const other = t.client.video.call('studio', 'live2');
    await other.getOrCreate({ data: { created_by_id: 'host1' } });
    await other.startRTMPBroadcasts({ broadcasts: [{ name: 'follows', stream_url: 'rtmps://c.example.test/live2', stream_key: 'k3' }] });
    const typeBefore = t.events.length;
    await t.client.video.updateCallType({
      name: 'studio',
      settings: { broadcasting: { rtmp: { layout: { name: 'mobile', options: { 'layout.background_color': '#00ff00' } } } } } as any,
    });
    assert.equal(active('studio:live2', 'follows')?.layout.name, 'mobile');
    assert.deepEqual(active('studio:live2', 'follows')?.layout.options, { 'layout.background_color': '#00ff00' });
    assert.equal(active('studio:live1', 'follows')?.layout.name, 'spotlight');
    // (An earlier call.updated of that call, from its start, may still be on its way: the one that
    // carries the new settings must follow.)
    const typeUpdated = await waitFor(
      () =>
        t.events
          .slice(typeBefore)
          .find(
            (e) =>
              e.type === 'call.updated' &&
              e.call_cid === 'studio:live2' &&
              (e.call as any).settings.broadcasting.rtmp.layout.name === 'mobile',
          ),
      'call.updated of the call that followed, with the new settings',
    );
    assert.equal((typeUpdated.call as any).settings.broadcasting.rtmp.layout.options['layout.background_color'], '#00ff00');
    await call.stopAllRTMPBroadcasts();
    await other.stopAllRTMPBroadcasts();
  });

  it('PATCH changes one broadcast layout (then kept), refuses a quality change and unknown names', async () => {
    const call = t.client.video.call('studio', 'patch1');
    await call.getOrCreate({ data: { created_by_id: 'host1', members: [{ user_id: 'host1', role: 'host' }, { user_id: 'viewer' }] } });
    await call.startRTMPBroadcasts({ broadcasts: [{ name: 'main', stream_url: 'rtmps://a.example.test/live2', stream_key: 'secret-k' }] });
    const res = await rawRequest(t, 'PATCH', path('studio', 'patch1', 'main'), {
      token: serverToken,
      body: { layout: { name: 'single-participant', options: { 'layout.background_color': 'red' } } },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.broadcast.layout.name, 'single-participant');
    assert.equal(res.body.broadcast.layout_source, 'request');
    assert.equal(res.body.broadcast.stream_key, 'secret-k');
    assert.equal(active('studio:patch1', 'main')?.layout.name, 'single-participant');
    // Set on the broadcast: a later settings change leaves it.
    await call.update({ settings_override: { broadcasting: { rtmp: { layout: { name: 'spotlight' } } } } as any });
    assert.equal(active('studio:patch1', 'main')?.layout.name, 'single-participant');

    // Quality: another one is refused (Stream's error shape), the same one is accepted.
    const quality = await rawRequest(t, 'PATCH', path('studio', 'patch1', 'main'), {
      token: serverToken,
      body: { quality: '1080p', layout: { name: 'grid' } },
    });
    assert.equal(quality.status, 400);
    assert.equal(quality.body.code, 4);
    assert.equal(quality.body.StatusCode, 400);
    assert.match(quality.body.message, /quality of a running broadcast cannot change/);
    assert.equal(active('studio:patch1', 'main')?.layout.name, 'single-participant', 'nothing changed');
    const same = await rawRequest(t, 'PATCH', path('studio', 'patch1', 'main'), {
      token: serverToken,
      body: { quality: '720p', layout: { name: 'grid' } },
    });
    assert.equal(same.status, 200, JSON.stringify(same.body));
    assert.equal(active('studio:patch1', 'main')?.layout.name, 'grid');

    // Unknown name, bad bodies, permissions.
    const unknown = await rawRequest(t, 'PATCH', path('studio', 'patch1', 'nope'), {
      token: serverToken,
      body: { layout: { name: 'grid' } },
    });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, 16);
    for (const body of [
      {},
      { layout: { name: 'tiles' } },
      { layout: {} },
      { stream_url: 'rtmp://x.example.test/live' },
      { layout: 'grid' },
    ]) {
      const bad = await rawRequest(t, 'PATCH', path('studio', 'patch1', 'main'), { token: serverToken, body });
      assert.equal(bad.status, 400, JSON.stringify(body));
      assert.equal(bad.body.code, 4);
    }
    const viewer = await rawRequest(t, 'PATCH', path('studio', 'patch1', 'main'), {
      token: t.client.generateUserToken({ user_id: 'viewer' }),
      body: { layout: { name: 'spotlight' } },
    });
    assert.equal(viewer.status, 403);
    assert.equal(viewer.body.code, 17);
    const host = await rawRequest(t, 'PATCH', path('studio', 'patch1', 'main'), {
      token: t.client.generateUserToken({ user_id: 'host1' }),
      body: { layout: { name: 'spotlight' } },
    });
    assert.equal(host.status, 200, JSON.stringify(host.body));
    assert.equal(host.body.broadcast.stream_key, 'secret-k', 'a host may start broadcasts: it sees the key');
    assert.equal(active('studio:patch1', 'main')?.layout.name, 'spotlight');
    await call.stopAllRTMPBroadcasts();
    const gone = await rawRequest(t, 'PATCH', path('studio', 'patch1', 'main'), { token: serverToken, body: { layout: { name: 'grid' } } });
    assert.equal(gone.status, 404);
  });

  it('accepts screenshare_layout wherever a layout is accepted and hands it to the engine', async () => {
    await t.client.video.updateCallType({
      name: 'studio',
      settings: {
        broadcasting: { rtmp: { layout: { name: 'grid', screenshare_layout: 'single-participant' } } },
        recording: { layout: { name: 'grid', screenshare_layout: 'spotlight' } },
      } as any,
    });
    const call = t.client.video.call('studio', 'share1');
    await call.getOrCreate({ data: { created_by_id: 'host1' } });
    await call.startRTMPBroadcasts({ broadcasts: [{ name: 's', stream_url: 'rtmps://a.example.test/live2' }] });
    assert.equal(active('studio:share1', 's')?.layout.screenshare_layout, 'single-participant');
    await call.startRTMPBroadcasts({
      broadcasts: [
        { name: 'r', stream_url: 'rtmps://a.example.test/live2', layout: { name: 'spotlight', screenshare_layout: 'mobile' } as any },
      ],
    });
    assert.equal(active('studio:share1', 'r')?.layout.screenshare_layout, 'mobile');
    const patched = await rawRequest(t, 'PATCH', path('studio', 'share1', 'r'), {
      token: serverToken,
      body: { layout: { name: 'grid', screenshare_layout: 'spotlight' } },
    });
    assert.equal(patched.status, 200);
    assert.equal(active('studio:share1', 'r')?.layout.screenshare_layout, 'spotlight');

    await assert.rejects(
      call.update({ settings_override: { broadcasting: { rtmp: { layout: { screenshare_layout: 'tiles' } } } } as any }),
      (err) => code(err) === 4 && /screenshare_layout must be one of/.test(String((err as Error).message)),
    );
    const refused = await rawRequest(t, 'PATCH', path('studio', 'share1', 'r'), {
      token: serverToken,
      body: { layout: { name: 'grid', screenshare_layout: 3 } },
    });
    assert.equal(refused.status, 400);
    // custom_actions: ignore_screenshare must be a boolean.
    await assert.rejects(
      call.update({
        settings_override: {
          broadcasting: {
            rtmp: {
              layout: {
                options: { custom_actions: [{ action_type: 'layout_override', condition: {}, layout: 'grid', ignore_screenshare: 'yes' }] },
              },
            },
          },
        } as any,
      }),
      (err) => code(err) === 4 && /ignore_screenshare must be a boolean/.test(String((err as Error).message)),
    );
    await call.update({
      settings_override: {
        broadcasting: {
          rtmp: {
            layout: {
              options: { custom_actions: [{ action_type: 'layout_override', condition: {}, layout: 'grid', ignore_screenshare: true }] },
            },
          },
        },
      } as any,
    });
    const actions = active('studio:share1', 's')!.layout.options!.custom_actions as Array<{ ignore_screenshare?: boolean }>;
    assert.equal(actions[0]!.ignore_screenshare, true);
    assert.equal(active('studio:share1', 's')?.layout.screenshare_layout, 'single-participant');
  });

  it('keeps a changed layout and where it comes from across a restart', async () => {
    const call = t.client.video.call('studio', 'persist1');
    await call.getOrCreate({ data: { created_by_id: 'host1' } });
    await call.startRTMPBroadcasts({ broadcasts: [{ name: 'a', stream_url: 'rtmps://a.example.test/live2' }] });
    await call.startRTMPBroadcasts({ broadcasts: [{ name: 'b', stream_url: 'rtmps://a.example.test/live2' }] });
    const patched = await rawRequest(t, 'PATCH', path('studio', 'persist1', 'b'), {
      token: serverToken,
      body: { layout: { name: 'mobile' } },
    });
    assert.equal(patched.status, 200);
    t = await t.restart();
    assert.equal(active('studio:persist1', 'b')?.layout.name, 'mobile');
    await t.client.video
      .call('studio', 'persist1')
      .update({ settings_override: { broadcasting: { rtmp: { layout: { name: 'spotlight' } } } } as any });
    assert.equal(active('studio:persist1', 'a')?.layout.name, 'spotlight', 'a still follows the settings');
    assert.equal(active('studio:persist1', 'b')?.layout.name, 'mobile', 'b keeps its own');
  });
});
