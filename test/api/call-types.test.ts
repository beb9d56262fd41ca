/**
 * Call types through the SDK: the seeded built-in types, create/get/list/update/delete, the
 * partial-merge update semantics, and validation (answered with code 4 and no state change).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rawRequest, startTestServer, type TestServer } from '../support/server.js';

function streamCode(err: unknown): number | undefined {
  return (err as { code?: number }).code;
}

describe('call types', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(async () => {
    await t?.close();
  });

  it('seeds the built-in types with RTMP at 720p spotlight (off in development) and the broadcast grants', async () => {
    const { call_types } = await t.client.video.listCallTypes();
    for (const name of ['default', 'audio_room', 'livestream', 'development']) {
      const ct = call_types[name];
      assert.ok(ct, name);
      assert.equal(ct.settings.broadcasting.enabled, true);
      assert.deepEqual(ct.settings.broadcasting.rtmp, {
        enabled: name !== 'development',
        quality: '720p',
        layout: { name: 'spotlight', external_app_url: '', external_css_url: '' },
      });
      for (const role of ['admin', 'host', 'moderator']) {
        assert.ok(ct.grants[role]!.includes('start-broadcast-call'), `${name} ${role}`);
        assert.ok(ct.grants[role]!.includes('stop-broadcast-call'), `${name} ${role}`);
      }
      const userMay = ct.grants.user!.includes('start-broadcast-call');
      assert.equal(userMay, name === 'development', `${name} user start-broadcast-call`);
    }
    assert.equal(call_types.livestream!.settings.backstage.enabled, true);
    assert.equal(call_types.audio_room!.settings.video.enabled, false);
    assert.equal(call_types.default!.settings.video.target_resolution.width, 2560);
    assert.equal(call_types.default!.settings.ring.incoming_call_timeout_ms, 15000);
    assert.equal(call_types.livestream!.settings.audio.default_device, 'speaker');
  });

  it('creates a type with default grants merged, gets, updates partially and deletes it', async () => {
    const created = await t.client.video.createCallType({
      name: 'ct1',
      grants: { admin: ['send-audio', 'send-video'] },
      settings: { geofencing: { names: ['european_union'] }, screensharing: { enabled: false } } as any,
    });
    assert.deepEqual(created.grants.admin, ['send-audio', 'send-video']);
    assert.ok(created.grants.user, 'default user grants are merged in');
    assert.deepEqual(created.settings.geofencing.names, ['european_union']);

    const options = {
      'logo.image_url': 'https://example.com/logo.png',
      'title.text': 'Hello',
      'layout.spotlight.participants_bar_position': 'top',
    };
    const updated = await t.client.video.updateCallType({
      name: 'ct1',
      grants: { user: ['read-call'], call_member: ['read-call', 'join-call'] },
      settings: {
        audio: { mic_default_on: false, default_device: 'earpiece' },
        broadcasting: { enabled: true, rtmp: { enabled: true, quality: '1080p', layout: { name: 'grid', options } } },
      } as any,
    });
    assert.deepEqual(updated.grants.user, ['read-call']);
    assert.deepEqual(updated.grants.call_member, ['read-call', 'join-call']);
    assert.deepEqual(updated.grants.admin, ['send-audio', 'send-video'], 'roles not in the update keep their grants');
    assert.equal(updated.settings.audio.mic_default_on, false);
    assert.equal(updated.settings.audio.speaker_default_on, true, 'fields not in the update are kept');
    assert.deepEqual(updated.settings.geofencing.names, ['european_union'], 'groups not in the update are kept');
    assert.equal(updated.settings.broadcasting.rtmp.quality, '1080p');
    assert.equal(updated.settings.broadcasting.rtmp.layout.name, 'grid');
    assert.deepEqual(updated.settings.broadcasting.rtmp.layout.options, options, 'layout options round-trip');
    assert.equal(updated.settings.broadcasting.rtmp.layout.external_app_url, '');

    const got = await t.client.video.getCallType({ name: 'ct1' });
    assert.deepEqual(got.settings, updated.settings);
    assert.deepEqual(got.grants, updated.grants);

    await t.client.video.deleteCallType({ name: 'ct1' });
    await assert.rejects(t.client.video.getCallType({ name: 'ct1' }), (err) => streamCode(err) === 16);
  });

  it('answers unknown types with 404 code 16 and duplicate creates with code 4', async () => {
    await assert.rejects(t.client.video.updateCallType({ name: 'nope', settings: {} as any }), (err) => streamCode(err) === 16);
    await assert.rejects(t.client.video.deleteCallType({ name: 'nope' }), (err) => streamCode(err) === 16);
    await assert.rejects(t.client.video.createCallType({ name: 'default' }), (err) => streamCode(err) === 4);
  });

  const invalid: Array<[string, unknown, RegExp]> = [
    [
      'layout name',
      { broadcasting: { rtmp: { layout: { name: 'diagonal' } } } },
      /settings\.broadcasting\.rtmp\.layout\.name must be one of/,
    ],
    ['quality', { broadcasting: { rtmp: { quality: '4k' } } }, /settings\.broadcasting\.rtmp\.quality must be one of/],
    [
      'layout option',
      { broadcasting: { rtmp: { layout: { name: 'spotlight', options: { 'layout.spotlight.participants_bar_position': 'diagonal' } } } } },
      /layout\.spotlight\.participants_bar_position/,
    ],
    ['boolean field', { broadcasting: { enabled: 'yes' } }, /settings\.broadcasting\.enabled must be a boolean/],
    ['unknown group', { nonsense: {} }, /settings\.nonsense is not a known settings group/],
    ['hls tracks', { broadcasting: { hls: { quality_tracks: [] } } }, /quality_tracks/],
  ];
  for (const [what, settings, message] of invalid) {
    it(`rejects an invalid ${what} with code 4 and changes nothing`, async () => {
      const before = await t.client.video.getCallType({ name: 'livestream' });
      await assert.rejects(t.client.video.updateCallType({ name: 'livestream', settings: settings as any }), (err: Error) => {
        assert.equal(streamCode(err), 4);
        assert.match(err.message, /UpdateCallType failed with error/);
        assert.match(err.message, message);
        return true;
      });
      const afterwards = await t.client.video.getCallType({ name: 'livestream' });
      assert.deepEqual(afterwards.settings, before.settings);
      assert.equal(afterwards.updated_at.getTime(), before.updated_at.getTime());
    });
  }

  it('rejects unknown capabilities in grants', async () => {
    await assert.rejects(
      t.client.video.updateCallType({ name: 'default', grants: { user: ['fly'] as any } }),
      (err) => streamCode(err) === 4,
    );
  });

  it('refuses call type changes with a user token (403 code 17)', async () => {
    const token = t.client.generateUserToken({ user_id: 'mallory' });
    const res = await rawRequest(t, 'PUT', '/api/v2/video/calltypes/default', { token, body: { settings: {} } });
    assert.equal(res.status, 403);
    assert.equal(res.body.code, 17);
  });
});
