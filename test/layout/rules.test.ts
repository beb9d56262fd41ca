import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseColor } from '../../src/layout/color.js';
import { matchesFilter } from '../../src/layout/filter.js';
import { parseLength } from '../../src/layout/length.js';
import { resolveOptions, validateLayoutOptions } from '../../src/layout/options.js';
import { orientQuality } from '../../src/layout/orientation.js';
import { initialsOf } from '../../src/layout/participants.js';
import { backgroundImageUrl, placeLogo } from '../../src/layout/scene.js';
import { labels, people, placeholders, scene, tiles } from './helpers.js';

const ids = (s: ReturnType<typeof scene>): string[] => tiles(s).map((t) => t.sessionId);

describe('ordering and speaker rules (§4)', () => {
  it('spotlight: pinned (most recent first), then dominant, speaking, video, audio, join order', () => {
    const ps = people(6, (i) => ({
      hasVideo: i !== 1,
      hasAudio: true,
      ...(i === 4 ? { pinnedAt: 10 } : {}),
      ...(i === 5 ? { pinnedAt: 20 } : {}),
      ...(i === 3 ? { isDominantSpeaker: true } : {}),
      ...(i === 2 ? { isSpeaking: true } : {}),
    }));
    assert.deepEqual(
      placeholders(scene(1920, 1080, 'spotlight', ps)).map((p) => p.sessionId),
      ['s5', 's4', 's3', 's2', 's0', 's1'],
    );
  });
  it('spotlight: without pins the dominant speaker takes the big tile', () => {
    const ps = people(3, (i) => ({ isDominantSpeaker: i === 2 }));
    assert.equal(tiles(scene(1920, 1080, 'spotlight', ps))[0]!.sessionId, 's2');
  });
  it('video before audio-only before silent', () => {
    const ps = people(3, (i) => ({ hasVideo: i === 2, hasAudio: i >= 1 }));
    assert.deepEqual(
      placeholders(scene(1920, 1080, 'spotlight', ps)).map((p) => p.sessionId),
      ['s2', 's1', 's0'],
    );
  });
  it('visible tiles keep their places; off-screen speakers are promoted', () => {
    const ps = people(8, (i) => ({ isSpeaking: i === 7, hasVideo: i !== 3 }));
    // without visibility information every rule applies: speaker first, then video before no video
    assert.deepEqual(
      placeholders(composeWith(ps, []))
        .map((p) => p.sessionId)
        .slice(0, 7),
      ['s7', 's0', 's1', 's2', 's4', 's5', 's6'],
    );
    // with s0..s6 on screen they keep join order (s3 without video stays put) and the off-screen speaker is promoted
    const order = placeholders(composeWith(ps, ['s0', 's1', 's2', 's3', 's4', 's5', 's6'])).map((p) => p.sessionId);
    assert.deepEqual(order, ['s7', 's0', 's1', 's2', 's3', 's4', 's5']);
  });
  it('grid keeps join order for visible tiles, promotes an off-screen dominant speaker', () => {
    const ps = people(6, (i) => ({ isDominantSpeaker: i === 5 }));
    assert.deepEqual(ids(scene(1920, 1080, 'grid', ps, { 'layout.grid.page_size': 3 })), ['s5', 's0', 's1']);
    const visible = tiles(composeWith(ps, ['s0', 's1', 's2', 's5'], 'grid'));
    assert.deepEqual(
      visible.map((t) => t.sessionId),
      ['s0', 's1', 's2', 's5', 's3', 's4'],
    );
  });
  it('single participant: pinned beats dominant; then speaker, video, audio, join order', () => {
    const ps = people(4, (i) => ({ isDominantSpeaker: i === 1, pinnedAt: i === 3 ? 5 : undefined }));
    assert.deepEqual(ids(scene(1920, 1080, 'single-participant', ps)), ['s3']);
    const ps2 = people(4, (i) => ({ hasVideo: i >= 2, isSpeaking: i === 1 }));
    assert.deepEqual(
      placeholders(scene(1920, 1080, 'single-participant', ps2)).map((p) => p.sessionId),
      ['s1'],
    );
    const ps3 = people(3, (i) => ({ hasVideo: i === 2 }));
    assert.deepEqual(ids(scene(1920, 1080, 'single-participant', ps3)), ['s2']);
  });
  it('shuffle mode is deterministic and changes with 3.5 s slots', () => {
    const ps = people(6);
    const pick = (t: number) =>
      placeholders(scene(1920, 1080, 'single-participant', ps, { 'layout.single-participant.mode': 'shuffle' }, t))[0]!.sessionId;
    assert.equal(pick(1000), pick(3000));
    const seen = new Set<string>();
    for (let k = 0; k < 40; k++) seen.add(pick(k * 3500));
    assert.ok(seen.size >= 3, `several participants are featured over time (${[...seen]})`);
    const sc = scene(1920, 1080, 'single-participant', ps, { 'layout.single-participant.mode': 'shuffle' }, 8000);
    assert.equal(sc.validUntilMs, 10500, 'the next 3.5 s slot');
    assert.equal(scene(1920, 1080, 'single-participant', ps, {}, 8000).validUntilMs, undefined);
    assert.deepEqual(visibleSessions(scene(1920, 1080, 'grid', ps)), ['s0', 's1', 's2', 's3', 's4', 's5']);
  });
});

import { composeScene, visibleSessions } from '../../src/layout/scene.js';
function composeWith(ps: ReturnType<typeof people>, visible: string[], name: 'spotlight' | 'grid' = 'spotlight') {
  return composeScene({
    canvas: { width: 1920, height: 1080 },
    participants: ps,
    nowMs: 0,
    visibleSessionIds: visible,
    layout: { name, external_app_url: '', external_css_url: '' },
  });
}

describe('participant.filter', () => {
  it('field equality, operators and logic', () => {
    const rec = { userId: 'a', roles: ['host', 'user'], hasVideo: true, n: 3 };
    assert.ok(matchesFilter({ userId: 'a' }, rec));
    assert.ok(matchesFilter({ roles: { $contains: 'host' } }, rec));
    assert.ok(!matchesFilter({ roles: { $contains: 'admin' } }, rec));
    assert.ok(matchesFilter({ userId: { $in: ['b', 'a'] } }, rec));
    assert.ok(matchesFilter({ userId: { $neq: 'b' } }, rec));
    assert.ok(matchesFilter({ n: { $gt: 2, $lte: 3 } }, rec));
    assert.ok(!matchesFilter({ n: { $lt: 3 } }, rec));
    assert.ok(matchesFilter({ $or: [{ userId: 'b' }, { hasVideo: true }] }, rec));
    assert.ok(!matchesFilter({ $and: [{ userId: 'a' }, { hasVideo: false }] }, rec));
    assert.ok(matchesFilter({ $not: { userId: 'b' } }, rec));
  });
  it('drops participants from every layout', () => {
    const ps = people(4, (i) => ({ hasVideo: i % 2 === 0, roles: i === 3 ? ['ingest'] : ['user'] }));
    const filter = { 'participant.filter': { hasVideo: true } };
    assert.deepEqual(ids(scene(1920, 1080, 'grid', ps, filter)), ['s0', 's2']);
    assert.deepEqual(
      placeholders(scene(1920, 1080, 'spotlight', ps, filter)).map((p) => p.sessionId),
      ['s0', 's2'],
    );
    const keepIngest = { 'participant.filter': { roles: { $contains: 'ingest' } } };
    assert.deepEqual(
      placeholders(scene(1920, 1080, 'single-participant', ps, keepIngest)).map((p) => p.sessionId),
      ['s3'],
    );
    assert.deepEqual(placeholders(scene(1920, 1080, 'grid', ps, { 'participant.filter': { isPinned: true } })), []);
  });
});

describe('tiles, placeholders, labels, outlines, overlays', () => {
  it('placeholders carry initials, image and colours; tiles only for video', () => {
    const ps = people(2, (i) => ({
      hasVideo: i === 0,
      name: i === 1 ? 'ada lovelace byron' : 'Bob',
      image: i === 1 ? 'http://127.0.0.1/a.png' : undefined,
    }));
    const s = scene(1920, 1080, 'grid', ps, { 'participant.placeholder_background_color': '#102030' });
    const ph = placeholders(s);
    assert.equal(ph.length, 2);
    assert.equal(ph[1]!.initials, 'AL');
    assert.equal(ph[1]!.imageUrl, 'http://127.0.0.1/a.png');
    assert.deepEqual(ph[1]!.background, { r: 0x10, g: 0x20, b: 0x30, a: 255 });
    assert.deepEqual(ph[1]!.circleColor, { r: 0, g: 0x5f, b: 0xff, a: 255 });
    assert.equal(tiles(s).length, 1);
    assert.equal(initialsOf({ userId: 'jane-doe' }), 'J');
    assert.equal(initialsOf({ userId: 'x', name: 'émile zola' }), 'ÉZ');
  });
  it('labels default to the bottom-left corner and follow position and margins', () => {
    const s = scene(1920, 1080, 'single-participant', people(1));
    const [l] = labels(s);
    assert.equal(l!.text, 'Person 0');
    assert.equal(l!.rect.x, 0);
    assert.ok(Math.abs(l!.rect.y + l!.rect.height - 1080) < 0.01);
    assert.deepEqual(l!.borderRadius, [0, 8, 0, 12]);
    const moved = labels(
      scene(1920, 1080, 'single-participant', people(1), {
        'participant_label.horizontal_position': 'right',
        'participant_label.vertical_position': 'top',
        'participant_label.margin_inline': '20px',
        'participant_label.margin_block': '1rem',
        'participant_label.border_radius': '4px',
        'participant_label.text_color': 'yellow',
      }),
    )[0]!;
    assert.ok(Math.abs(moved.rect.x + moved.rect.width - 1900) < 0.01, 'right edge 20 px from the tile edge');
    assert.equal(moved.rect.y, 16);
    assert.equal(moved.align, 'right');
    assert.deepEqual(moved.borderRadius, [4, 4, 4, 4]);
    assert.deepEqual(moved.textColor, { r: 255, g: 255, b: 0, a: 255 });
    const centred = labels(
      scene(1920, 1080, 'grid', people(1), {
        'participant_label.horizontal_position': 'center',
        'participant_label.vertical_position': 'center',
      }),
    )[0]!;
    const t = tiles(scene(1920, 1080, 'grid', people(1)))[0]!.rect;
    assert.ok(Math.abs(centred.rect.x + centred.rect.width / 2 - (t.x + t.width / 2)) < 0.01);
    assert.ok(Math.abs(centred.rect.y + centred.rect.height / 2 - (t.y + t.height / 2)) < 0.01);
    assert.equal(labels(scene(1920, 1080, 'grid', people(3), { 'participant_label.display': false })).length, 0);
  });
  it('speaking tiles get an outline around the tile', () => {
    const s = scene(
      1920,
      1080,
      'grid',
      people(3, (i) => ({ isSpeaking: i === 1 })),
      { 'participant.outline_color': 'red', 'participant.outline_width': '4px' },
    );
    const outlines = s.items.filter((i) => i.kind === 'outline');
    assert.equal(outlines.length, 1);
    const o = outlines[0] as Extract<(typeof s.items)[number], { kind: 'outline' }>;
    const t = tiles(s).find((x) => x.sessionId === 's1')!.rect;
    assert.equal(o.sessionId, 's1');
    assert.deepEqual(o.rect, { x: t.x - 4, y: t.y - 4, width: t.width + 8, height: t.height + 8 });
    assert.deepEqual(o.color, { r: 255, g: 0, b: 0, a: 255 });
  });
  it('fit rules: scale_mode, portrait tracks, big spotlight tile', () => {
    const ps = people(2, (i) => ({ videoSize: i === 1 ? { width: 720, height: 1280 } : { width: 1280, height: 720 } }));
    assert.deepEqual(
      tiles(scene(1920, 1080, 'grid', ps)).map((t) => t.fit),
      ['cover', 'contain'],
    );
    assert.deepEqual(
      tiles(scene(1920, 1080, 'grid', ps, { 'video.scale_mode': 'fit' })).map((t) => t.fit),
      ['contain', 'contain'],
    );
    assert.deepEqual(
      tiles(scene(1920, 1080, 'spotlight', ps, { 'video.scale_mode': 'fill' })).map((t) => t.fit),
      ['cover', 'cover'],
    );
    assert.equal(tiles(scene(480, 854, 'spotlight', people(1)))[0]!.fit, 'cover', 'big tile on a canvas under 600 px');
    assert.deepEqual(tiles(scene(1920, 1080, 'grid', ps, { 'video.background_color': '#fff' }))[0]!.videoBackground, {
      r: 255,
      g: 255,
      b: 255,
      a: 255,
    });
  });
  it('title, logo and background', () => {
    const s = scene(1920, 1080, 'grid', people(1), {
      'title.text': 'Live',
      'title.horizontal_position': 'center',
      'title.vertical_position': 'bottom',
      'title.font_size': '40px',
      'logo.image_url': 'http://127.0.0.1:1/logo.png',
      'logo.horizontal_position': 'left',
      'logo.vertical_position': 'top',
      'layout.background_color': 'rgb(10, 20, 30)',
      'layout.background_image': 'url("http://127.0.0.1:1/bg.png")',
      'layout.background_size': 'cover',
    });
    const title = s.items.find((i) => i.kind === 'title') as Extract<(typeof s.items)[number], { kind: 'title' }>;
    assert.equal(title.align, 'center');
    assert.equal(title.rect.y + title.rect.height, 1080 - 14);
    assert.equal(title.fontSize, 40);
    const logo = s.items.find((i) => i.kind === 'logo') as Extract<(typeof s.items)[number], { kind: 'logo' }>;
    assert.equal(logo.rect, null);
    assert.deepEqual(placeLogo(logo, { width: 1920, height: 1080 }, { width: 200, height: 100 }), { x: 14, y: 14, width: 80, height: 40 });
    const bottomRight = scene(1920, 1080, 'grid', [], {
      'logo.image_url': 'http://127.0.0.1:1/l.png',
      'logo.width': '100px',
      'logo.height': '50px',
    });
    const br = bottomRight.items.find((i) => i.kind === 'logo') as Extract<(typeof s.items)[number], { kind: 'logo' }>;
    assert.deepEqual(br.rect, { x: 1920 - 14 - 100, y: 1080 - 14 - 50, width: 100, height: 50 });
    const bg = s.items[0] as Extract<(typeof s.items)[number], { kind: 'background' }>;
    assert.deepEqual(bg.color, { r: 10, g: 20, b: 30, a: 255 });
    assert.deepEqual(bg.image, { url: 'http://127.0.0.1:1/bg.png', size: 'cover' });
    assert.equal(backgroundImageUrl('linear-gradient(red, blue)'), undefined);
  });
});

describe('custom_actions and layout overrides', () => {
  const actions = {
    custom_actions: [
      { action_type: 'layout_override', condition: { pinned_participant_count: { $gte: 1 } }, layout: 'dominant-speaker' },
      { action_type: 'layout_override', condition: { participant_count: { $gte: 1 } }, layout: 'grid' },
      {
        action_type: 'options_override',
        condition: { participant_count: { $gt: 1 } },
        options: { 'layout.background_color': 'red', 'title.text': 'A' },
      },
      { action_type: 'options_override', condition: { participant_count: { $gt: 2 } }, options: { 'title.text': 'B' } },
    ],
  };
  it('the first matching layout_override wins', () => {
    assert.equal(scene(1920, 1080, 'spotlight', people(1), actions).layout, 'grid');
    assert.equal(
      scene(
        1920,
        1080,
        'spotlight',
        people(2, (i) => ({ pinnedAt: i === 0 ? 1 : undefined })),
        actions,
      ).layout,
      'single-participant',
    );
    assert.equal(scene(1920, 1080, 'spotlight', [], actions).layout, 'spotlight');
  });
  it('all matching options_override entries merge in order', () => {
    const title = (n: number) =>
      (scene(1920, 1080, 'grid', people(n), actions).items.find((i) => i.kind === 'title') as { text: string } | undefined)?.text;
    assert.equal(title(1), undefined);
    assert.equal(title(2), 'A');
    assert.equal(title(3), 'B');
    const bg = scene(1920, 1080, 'grid', people(2), actions).items[0] as { color: unknown };
    assert.deepEqual(bg.color, { r: 255, g: 0, b: 0, a: 255 });
  });
  it('custom_layout_override and unknown names', () => {
    assert.equal(scene(1920, 1080, 'spotlight', people(2), { custom_layout_override: 'grid' }).layout, 'grid');
    assert.equal(scene(1920, 1080, 'spotlight', people(2), { custom_layout_override: 'skool' }).layout, 'spotlight');
    assert.equal(scene(1920, 1080, 'mobile', people(2)).layout, 'single-participant');
  });
});

describe('validateLayoutOptions', () => {
  const refused = (options: Record<string, unknown>, key: string) => {
    const r = validateLayoutOptions(options);
    assert.equal(r.ok, false, `${JSON.stringify(options)} should be refused`);
    if (!r.ok) {
      assert.equal(r.key, key);
      assert.ok(r.message.length > 0);
    }
  };
  it('accepts good values and ignores unknown keys', () => {
    assert.deepEqual(
      validateLayoutOptions({
        'title.text': 'x',
        'title.color': 'rgba(255, 0, 0, 0.5)',
        'layout.background_color': '#112233cc',
        'participant.border_radius': '1.5rem',
        'layout.single-participant.padding_inline': '20%',
        'layout.spotlight.participants_bar_position': 'left',
        'layout.spotlight.participants_bar_limit': 3,
        'participant.aspect_ratio': '9 / 16',
        'layout.grid.page_size': 9,
        'participant.filter': { $or: [{ hasVideo: true }, { roles: { $contains: 'host' } }] },
        'participant_label.border_radius': '0 8px 0 12px',
        'logo.width': 'initial',
        'some.unknown.key': { anything: 1 },
        'grid.columns': 'nonsense',
      }),
      { ok: true },
    );
    assert.deepEqual(validateLayoutOptions(undefined), { ok: true });
  });
  it('refuses bad values, naming the key', () => {
    refused({ 'layout.background_color': 'not-a-colour' }, 'layout.background_color');
    refused({ 'title.color': '#12' }, 'title.color');
    refused({ 'logo.margin_inline': '-4px' }, 'logo.margin_inline');
    refused({ 'participant.border_radius': 'wide' }, 'participant.border_radius');
    refused({ 'title.horizontal_position': 'middle' }, 'title.horizontal_position');
    refused({ 'participant_label.vertical_position': 'left' }, 'participant_label.vertical_position');
    refused({ 'layout.spotlight.participants_bar_position': 'center' }, 'layout.spotlight.participants_bar_position');
    refused({ 'layout.grid.page_size': 0 }, 'layout.grid.page_size');
    refused({ 'layout.grid.page_size': -3 }, 'layout.grid.page_size');
    refused({ 'participant.aspect_ratio': '16 : 9' }, 'participant.aspect_ratio');
    refused({ 'participant.aspect_ratio': '0/9' }, 'participant.aspect_ratio');
    refused({ 'participant.filter': { hasVideo: { $like: true } } }, 'participant.filter');
    refused({ 'participant.filter': { $or: { hasVideo: true } } }, 'participant.filter');
    refused({ 'participant.filter': 'hasVideo' }, 'participant.filter');
    refused({ 'layout.spotlight.participants_bar_limit': 'many' }, 'layout.spotlight.participants_bar_limit');
    refused({ 'video.scale_mode': 'stretch' }, 'video.scale_mode');
    refused({ 'logo.image_url': 'ftp://x/y.png' }, 'logo.image_url');
    refused({ custom_actions: [{ action_type: 'options_override', condition: {}, options: { 'title.color': 'nope' } }] }, 'custom_actions');
    refused({ custom_actions: [{ action_type: 'layout_override', condition: { $xor: [] }, layout: 'grid' }] }, 'custom_actions');
    const r = validateLayoutOptions({
      custom_actions: [{ action_type: 'options_override', condition: {}, options: { 'title.color': 'nope' } }],
    });
    assert.ok(!r.ok && r.message.includes('title.color'));
  });
  it('resolveOptions applies the reference defaults', () => {
    const o = resolveOptions({});
    assert.deepEqual(o.video.backgroundColor, { r: 0x1d, g: 0x29, b: 0x38, a: 255 });
    assert.deepEqual(o.participant.outlineColor, { r: 0, g: 0x5f, b: 0xff, a: 255 });
    assert.equal(o.participant.outlineWidth, 2);
    assert.equal(o.grid.pageSize, 20);
    assert.equal(o.spotlight.barPosition, 'bottom');
    assert.equal(o.spotlight.barLimit, 'dynamic');
    assert.equal(o.title.fontSize, 30);
    assert.deepEqual(o.logo.height, { unit: 'px', value: 40 });
    assert.deepEqual(o.logo.marginInline, { unit: 'px', value: 14 });
    assert.deepEqual(resolveOptions({ 'layout.grid.page_size': 'x' }).grid.pageSize, 20, 'invalid values fall back');
  });
});

describe('colours, lengths, orientation', () => {
  it('parses CSS colours', () => {
    assert.deepEqual(parseColor('#f00'), { r: 255, g: 0, b: 0, a: 255 });
    assert.deepEqual(parseColor('#00ff0080'), { r: 0, g: 255, b: 0, a: 128 });
    assert.deepEqual(parseColor('rgba(0, 0, 255, 0.5)'), { r: 0, g: 0, b: 255, a: 128 });
    assert.deepEqual(parseColor('rgb(0 128 255 / 50%)'), { r: 0, g: 128, b: 255, a: 128 });
    assert.deepEqual(parseColor('RebeccaPurple'), { r: 0x66, g: 0x33, b: 0x99, a: 255 });
    assert.deepEqual(parseColor('hsl(120, 100%, 50%)'), { r: 0, g: 255, b: 0, a: 255 });
    assert.deepEqual(parseColor('transparent'), { r: 0, g: 0, b: 0, a: 0 });
    for (const bad of ['', '#12', '#ggg', 'rgb(1,2)', 'blurple', 12]) assert.equal(parseColor(bad), undefined, String(bad));
  });
  it('parses lengths', () => {
    assert.deepEqual(parseLength('12px'), { unit: 'px', value: 12 });
    assert.deepEqual(parseLength('.875rem'), { unit: 'px', value: 14 });
    assert.deepEqual(parseLength('20%'), { unit: '%', value: 20 });
    assert.deepEqual(parseLength(8), { unit: 'px', value: 8 });
    assert.equal(parseLength('-1px'), undefined);
    assert.equal(parseLength('12vh'), undefined);
  });
  it('orientQuality picks the variant matching the track', () => {
    assert.equal(orientQuality('720p', { width: 720, height: 1280 }), 'portrait-720x1280');
    assert.equal(orientQuality('portrait-1080x1920', { width: 1920, height: 1080 }), '1080p');
    assert.equal(orientQuality('1080p', { width: 1920, height: 1080 }), '1080p');
    assert.equal(orientQuality('480p'), '480p');
    assert.equal(orientQuality('360p', { width: 480, height: 480 }), '360p');
  });
});
