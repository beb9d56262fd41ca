import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LayoutParticipant } from '../../src/layout/participants.js';
import { composeScene, resolveLayout } from '../../src/layout/scene.js';
import type { LayoutName } from '../../src/layout/settings.js';
import { labels, people, placeholders, scene, tiles } from './helpers.js';

function near(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= 1, `${what}: ${actual} is not within 1 px of ${expected}`);
}
type R = { x: number; y: number; width: number; height: number };
function rectNear(r: R, e: Partial<R>, what: string): void {
  for (const k of ['x', 'y', 'width', 'height'] as const) if (e[k] !== undefined) near(r[k], e[k]!, `${what}.${k}`);
}

/** `n` people; the one at `presenter` shares a screen (session `share`). */
function withShare(n: number, presenter = 1, extra: (i: number) => Partial<LayoutParticipant> = () => ({})): LayoutParticipant[] {
  return people(n, (i) => ({
    ...(i === presenter ? { screenShare: { sessionId: 'share', hasVideo: true, startedAt: 5000 } } : {}),
    ...extra(i),
  }));
}

describe('spotlight share view (layouts.md §5.1, §12)', () => {
  it('1280x720: the share takes the big tile (contain), the presenter camera first in the bar', () => {
    const t = tiles(scene(1280, 720, 'spotlight', withShare(3, 2)));
    assert.equal(t.length, 4, 'share + presenter camera + 2 others');
    assert.equal(t[0]!.sessionId, 'share');
    rectNear(t[0]!.rect, { x: 244, y: 48.3, width: 792, height: 445.5 }, 'big');
    assert.equal(t[0]!.fit, 'contain');
    assert.deepEqual(
      t.slice(1).map((x) => x.sessionId),
      ['s2', 's0', 's1'],
    );
    t.slice(1).forEach((b, i) =>
      rectNear(b.rect, { x: (1280 - 280 * 3) / 2 + 280 * i + 5, y: 514.8, width: 270, height: 151.9 }, `bar${i}`),
    );
    assert.equal(t[1]!.fit, 'cover');
  });
  it('the presenter camera uses one of the bar slots (cap 4 at 1280x720)', () => {
    const t = tiles(scene(1280, 720, 'spotlight', withShare(8, 5)));
    assert.equal(t.length, 5);
    assert.equal(t[1]!.sessionId, 's5');
  });
  it('screenshare_scale_mode fill covers the big tile', () => {
    const t = tiles(scene(1280, 720, 'spotlight', withShare(2), { 'video.screenshare_scale_mode': 'fill' }));
    assert.equal(t[0]!.fit, 'cover');
  });
  it('participant.aspect_ratio is ignored while a share is on', () => {
    const t = tiles(scene(1280, 720, 'spotlight', withShare(2), { 'participant.aspect_ratio': '1' }));
    rectNear(t[0]!.rect, { width: 792, height: 445.5 }, 'big');
    near(t[1]!.rect.width / t[1]!.rect.height, 16 / 9, 'bar aspect');
  });
  it('no speaking outline on the share, and the share is labelled with the presenter', () => {
    const s = scene(
      1280,
      720,
      'spotlight',
      withShare(2, 0, () => ({ isSpeaking: true })),
    );
    const outlines = s.items.filter((i) => i.kind === 'outline').map((i) => (i as { sessionId: string }).sessionId);
    assert.ok(!outlines.includes('share'));
    assert.ok(outlines.includes('s0'), 'the presenter camera in the bar keeps its outline');
    assert.equal(labels(s).find((l) => l.sessionId === 'share')?.text, 'Person 0');
  });
  it('a share without a camera session shows alone, without a camera tile', () => {
    const ps = people(1, () => ({
      hasVideo: false,
      hasAudio: false,
      shareOnly: true,
      screenShare: { sessionId: 'share', hasVideo: true, startedAt: 1 },
    }));
    const t = tiles(scene(1280, 720, 'spotlight', ps));
    assert.deepEqual(
      t.map((x) => x.sessionId),
      ['share'],
    );
    rectNear(t[0]!.rect, { x: 244, y: (720 - 445.5) / 2, width: 792 }, 'big alone');
  });
  it('the earliest share wins the big tile', () => {
    const ps = people(3, (i) => (i > 0 ? { screenShare: { sessionId: `share${i}`, hasVideo: true, startedAt: 10 - i } } : {}));
    assert.equal(tiles(scene(1920, 1080, 'spotlight', ps))[0]!.sessionId, 'share2');
  });
  it('the share shows its placeholder until its video decodes', () => {
    const ps = withShare(2, 1);
    ps[1]!.screenShare!.hasVideo = false;
    const s = scene(1280, 720, 'spotlight', ps);
    assert.ok(!tiles(s).some((t) => t.sessionId === 'share'));
    assert.equal(placeholders(s)[0]!.sessionId, 'share');
  });
});

describe('single-participant and mobile share view (layouts.md §5.3, §12)', () => {
  for (const name of ['single-participant', 'mobile'] as LayoutName[]) {
    it(`${name} 1280x720: share W x min(H, W*3/4) centred, presenter picture-in-picture 240x180 at (W-250, 10)`, () => {
      const t = tiles(scene(1280, 720, name, withShare(3, 2)));
      assert.deepEqual(
        t.map((x) => x.sessionId),
        ['share', 's2'],
      );
      rectNear(t[0]!.rect, { x: 0, y: 0, width: 1280, height: 720 }, 'share');
      assert.equal(t[0]!.fit, 'contain');
      rectNear(t[1]!.rect, { x: 1030, y: 10, width: 240, height: 180 }, 'pip');
      assert.equal(t[1]!.fit, 'cover');
    });
  }
  it('portrait 720x1280: the share box is 720x540 at y 370', () => {
    const t = tiles(scene(720, 1280, 'mobile', withShare(2, 0)));
    rectNear(t[0]!.rect, { x: 0, y: 370, width: 720, height: 540 }, 'share');
    rectNear(t[1]!.rect, { x: 470, y: 10, width: 240, height: 180 }, 'pip');
  });
  it('1080x1920: 1080x810 at y 555', () => {
    rectNear(tiles(scene(1080, 1920, 'single-participant', withShare(1, 0)))[0]!.rect, { x: 0, y: 555, width: 1080, height: 810 }, 'share');
  });
  it('presenter_visible false hides the picture-in-picture', () => {
    const t = tiles(scene(1280, 720, 'single-participant', withShare(2, 1), { 'layout.single-participant.presenter_visible': false }));
    assert.deepEqual(
      t.map((x) => x.sessionId),
      ['share'],
    );
  });
  it('ignores participant.filter and the padding options', () => {
    const t = tiles(
      scene(1280, 720, 'single-participant', withShare(2, 1), {
        'participant.filter': { userId: 'u0' },
        'layout.single-participant.padding_inline': '20%',
      }),
    );
    assert.deepEqual(
      t.map((x) => x.sessionId),
      ['share', 's1'],
    );
    rectNear(t[0]!.rect, { x: 0, width: 1280 }, 'share');
  });
});

describe('choosing the share view (layouts.md §3, §7)', () => {
  const layout = (name: LayoutName, options: Record<string, unknown> = {}, screenshare_layout?: LayoutName) => ({
    name,
    external_app_url: '',
    external_css_url: '',
    options,
    ...(screenshare_layout ? { screenshare_layout } : {}),
  });
  it('grid falls back to the spotlight view while a share is on, and back to grid after', () => {
    assert.deepEqual(
      [resolveLayout(layout('grid'), withShare(3)).layout, resolveLayout(layout('grid'), people(3)).layout],
      ['spotlight', 'grid'],
    );
    const t = tiles(scene(1280, 720, 'grid', withShare(3, 0)));
    assert.equal(t[0]!.sessionId, 'share');
    rectNear(t[0]!.rect, { width: 792 }, 'big');
  });
  it('screenshare_layout (or custom_screen_share_layout_override) is used while a share is on', () => {
    assert.equal(resolveLayout(layout('grid', {}, 'single-participant'), withShare(2)).layout, 'single-participant');
    assert.equal(
      resolveLayout(layout('spotlight', { custom_screen_share_layout_override: 'mobile' }), withShare(2)).layout,
      'single-participant',
    );
    assert.equal(resolveLayout(layout('spotlight', {}, 'single-participant'), people(2)).layout, 'spotlight');
  });
  it('a layout_override applies during a share only with ignore_screenshare', () => {
    const action = (ignore: boolean) => ({
      custom_actions: [
        { action_type: 'layout_override', condition: { participant_count: { $gte: 1 } }, layout: 'grid', ignore_screenshare: ignore },
      ],
    });
    const plain = resolveLayout(layout('spotlight', action(false)), withShare(2));
    assert.deepEqual([plain.layout, plain.screenShare], ['spotlight', true]);
    const ignoring = resolveLayout(layout('spotlight', action(true)), withShare(2));
    assert.deepEqual([ignoring.layout, ignoring.screenShare], ['grid', false]);
    assert.equal(resolveLayout(layout('spotlight', action(false)), people(2)).layout, 'grid');
  });
  it('a share-only participant has no tile outside the share views', () => {
    const ps = [...people(1), { ...people(1)[0]!, sessionId: 'x', userId: 'ux', shareOnly: true, hasVideo: false, hasAudio: false }];
    const s = composeScene({
      canvas: { width: 1280, height: 720 },
      participants: ps,
      nowMs: 0,
      layout: layout('grid', {
        custom_actions: [
          { action_type: 'layout_override', condition: { participant_count: { $gte: 1 } }, layout: 'grid', ignore_screenshare: true },
        ],
      }),
    });
    assert.deepEqual(
      tiles(s).map((t) => t.sessionId),
      ['s0'],
    );
  });
  it('participant.filter sees hasScreenShare', () => {
    const t = tiles(
      scene(
        1280,
        720,
        'grid',
        people(3, (i) => (i === 1 ? { screenShare: { sessionId: 'sh', hasVideo: true, startedAt: 1 } } : {})),
        {
          'participant.filter': { hasScreenShare: false },
          custom_actions: [
            { action_type: 'layout_override', condition: { participant_count: { $gte: 1 } }, layout: 'grid', ignore_screenshare: true },
          ],
        },
      ),
    );
    assert.deepEqual(
      t.map((x) => x.sessionId),
      ['s0', 's2'],
    );
  });
});
