/** Pure decisions of live layout changes: where a destination's layout change takes it, and which broadcasts follow the settings. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { followedLayoutUpdates, settingsLayout } from '../../src/calls/broadcast-layout.js';
import { parseBroadcastUpdate, toLayoutSettings, validateLayout } from '../../src/calls/validation.js';
import { groupKey, planLayoutMove } from '../../src/egress/group-key.js';
import { validateLayoutOptions } from '../../src/layout/options.js';
import { sameLayout, type LayoutSettings } from '../../src/layout/settings.js';
import type { BroadcastRecord } from '../../src/store/records.js';

const layout = (name: LayoutSettings['name'], options?: Record<string, unknown>): LayoutSettings => ({
  name,
  external_app_url: '',
  external_css_url: '',
  ...(options ? { options } : {}),
});

describe('layout moves', () => {
  const grid = groupKey('default:c', '720p', layout('grid'));
  const spot = groupKey('default:c', '720p', layout('spotlight'));
  const red = groupKey('default:c', '720p', layout('spotlight', { 'layout.background_color': 'red' }));

  it('stays for the layout it streams, keeps a move already under way, moves otherwise', () => {
    assert.deepEqual(planLayoutMove(grid, null, grid), { kind: 'stay', cancel: false });
    assert.deepEqual(planLayoutMove(grid, null, spot), { kind: 'move', cancel: false });
    assert.deepEqual(planLayoutMove(grid, spot, spot), { kind: 'keep' });
    // Changed again before the first move's keyframe: that move is called off.
    assert.deepEqual(planLayoutMove(grid, spot, red), { kind: 'move', cancel: true });
    assert.deepEqual(planLayoutMove(grid, spot, grid), { kind: 'stay', cancel: true });
  });

  it('tells layouts apart by content, not key order', () => {
    assert.ok(
      sameLayout(layout('grid', { a: 1, b: 2 }), { options: { b: 2, a: 1 }, external_css_url: '', name: 'grid', external_app_url: '' }),
    );
    assert.ok(!sameLayout(layout('grid'), layout('grid', { 'layout.background_color': 'red' })));
    assert.ok(!sameLayout(layout('grid'), { ...layout('grid'), screenshare_layout: 'spotlight' }));
  });
});

describe('broadcasts that follow the settings', () => {
  const record = (name: string, l: LayoutSettings, source: BroadcastRecord['layout_source']): BroadcastRecord => ({
    call_cid: 'default:c',
    name,
    stream_url: 'rtmp://x.example.test/live',
    stream_key: 'k',
    quality: '720p',
    layout: l,
    layout_source: source,
    started_at: '2026-01-01T00:00:00.000Z',
  });
  const settings = (l: unknown) => ({ broadcasting: { enabled: true, rtmp: { enabled: true, layout: l } } });

  it('resolves the RTMP layout of effective settings (spotlight when unset)', () => {
    assert.deepEqual(settingsLayout(settings({ name: 'grid', options: { x: 1 } })), layout('grid', { x: 1 }));
    assert.deepEqual(settingsLayout({}), layout('spotlight'));
    assert.deepEqual(settingsLayout(settings({ name: 'grid', screenshare_layout: 'single-participant' })), {
      ...layout('grid'),
      screenshare_layout: 'single-participant',
    });
  });

  it('changes only those that follow the settings and draw another layout', () => {
    const records = [
      record('follows-old', layout('grid'), 'settings'),
      record('follows-same', layout('spotlight', { 'layout.background_color': '#123456' }), 'settings'),
      record('own', layout('grid'), 'request'),
    ];
    const next = settings({ name: 'spotlight', options: { 'layout.background_color': '#123456' } });
    assert.deepEqual(followedLayoutUpdates(records, next), [
      { name: 'follows-old', layout: layout('spotlight', { 'layout.background_color': '#123456' }) },
    ]);
    assert.deepEqual(followedLayoutUpdates(records, settings({ name: 'grid' })), [{ name: 'follows-same', layout: layout('grid') }]);
  });
});

describe('validation of layout changes', () => {
  it('parses the PATCH body: a full layout, quality only to compare, nothing else', () => {
    assert.deepEqual(parseBroadcastUpdate({ layout: { name: 'grid' } }), { layout: { name: 'grid' } });
    assert.deepEqual(parseBroadcastUpdate({ layout: { name: 'grid' }, quality: '720p' }), { layout: { name: 'grid' }, quality: '720p' });
    for (const [body, message] of [
      [{}, /layout is required/],
      [null, /JSON object/],
      [{ layout: {} }, /layout.name is required/],
      [{ layout: { name: 'tiles' } }, /layout.name must be one of/],
      [{ quality: '999p' }, /quality must be one of/],
      [{ stream_key: 'x' }, /stream_key cannot be changed on a running broadcast/],
      [{ layout: { name: 'grid', screenshare_layout: 'tiles' } }, /layout.screenshare_layout must be one of/],
    ] as const) {
      assert.throws(
        () => parseBroadcastUpdate(body),
        (err: Error) => message.test(err.message),
        JSON.stringify(body),
      );
    }
  });

  it('accepts screenshare_layout in layouts and keeps it in the layout settings', () => {
    validateLayout({ screenshare_layout: 'spotlight' }, 'settings.broadcasting.rtmp.layout', true);
    assert.throws(() => validateLayout({ screenshare_layout: 'x' }, 'f', true), /f.screenshare_layout must be one of/);
    assert.deepEqual(toLayoutSettings({ name: 'grid', screenshare_layout: 'single-participant' }), {
      ...layout('grid'),
      screenshare_layout: 'single-participant',
    });
    assert.deepEqual(toLayoutSettings({ name: 'grid', screenshare_layout: 'nope' }), layout('grid'));
  });

  it('checks ignore_screenshare of custom_actions', () => {
    const action = (extra: Record<string, unknown>) => ({
      custom_actions: [{ action_type: 'layout_override', condition: { participant_count: { $gt: 1 } }, layout: 'grid', ...extra }],
    });
    assert.equal(validateLayoutOptions(action({ ignore_screenshare: true })).ok, true);
    assert.equal(validateLayoutOptions(action({})).ok, true);
    const bad = validateLayoutOptions(action({ ignore_screenshare: 'yes' }));
    assert.equal(bad.ok, false);
  });
});
