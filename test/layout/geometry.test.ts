import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gridGeometry } from '../../src/layout/geometry.js';
import { people, scene, tiles } from './helpers.js';

function near(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= 1, `${what}: ${actual} is not within 1 px of ${expected}`);
}
type R = { x: number; y: number; width: number; height: number };
function rectNear(r: R, e: Partial<R>, what: string): void {
  for (const k of ['x', 'y', 'width', 'height'] as const) if (e[k] !== undefined) near(r[k], e[k]!, `${what}.${k}`);
}
function inside(r: R, W: number, H: number, what: string): void {
  assert.ok(
    r.x >= -0.01 && r.y >= -0.01 && r.x + r.width <= W + 0.01 && r.y + r.height <= H + 0.01,
    `${what} ${JSON.stringify(r)} leaves ${W}x${H}`,
  );
}

describe('spotlight, bar at the bottom (layouts.md §12 worked values)', () => {
  it('1920x1080, 5 people', () => {
    const t = tiles(scene(1920, 1080, 'spotlight', people(5)));
    assert.equal(t.length, 5);
    rectNear(t[0]!.rect, { x: 366, y: 116.9, width: 1188, height: 668.3 }, 'big');
    t.slice(1).forEach((b, i) => rectNear(b.rect, { x: 405 + 280 * i, y: 806.2, width: 270, height: 151.9 }, `bar${i}`));
    assert.equal(t[0]!.fit, 'contain');
    assert.equal(t[1]!.fit, 'cover');
  });
  it('1280x720, 5 people: cap 4', () => {
    const t = tiles(scene(1280, 720, 'spotlight', people(5)));
    rectNear(t[0]!.rect, { x: 244, y: 48.3, width: 792, height: 445.5 }, 'big');
    t.slice(1).forEach((b, i) => rectNear(b.rect, { x: 85 + 280 * i, y: 514.8 }, `bar${i}`));
    const t7 = tiles(scene(1280, 720, 'spotlight', people(8)));
    assert.equal(t7.length, 5, 'cap of 4 bar tiles');
  });
  it('2560x1440: cap 9', () => {
    const t = tiles(scene(2560, 1440, 'spotlight', people(5)));
    rectNear(t[0]!.rect, { x: 488, y: 185.6, width: 1584, height: 891 }, 'big');
    assert.equal(tiles(scene(2560, 1440, 'spotlight', people(15))).length, 10);
  });
  it('720x1280: cap 2', () => {
    const t = tiles(scene(720, 1280, 'spotlight', people(5)));
    assert.equal(t.length, 3);
    rectNear(t[0]!.rect, { x: 2, y: 349.7, width: 716, height: 402.8 }, 'big');
  });
  it('1080x1920: cap 3', () => {
    const t = tiles(scene(1080, 1920, 'spotlight', people(5)));
    assert.equal(t.length, 4);
    rectNear(t[0]!.rect, { width: 1076, height: 605.3 }, 'big');
  });
  it('640x360: the stack stays on the canvas (reference overflows to y=-20.3)', () => {
    const t = tiles(scene(640, 360, 'spotlight', people(5)));
    assert.equal(t.length, 3, 'cap 2');
    for (const x of t) inside(x.rect, 640, 360, x.sessionId);
    near(t[0]!.rect.width / t[0]!.rect.height, 16 / 9, 'aspect');
    assert.ok(t[1]!.rect.y >= t[0]!.rect.y + t[0]!.rect.height + 16 - 0.01, 'bar below big tile');
  });
  it('alone: big tile centred, no bar', () => {
    const t = tiles(scene(1920, 1080, 'spotlight', people(1)));
    assert.equal(t.length, 1);
    rectNear(t[0]!.rect, { x: 366, y: (1080 - 668.25) / 2, width: 1188 }, 'big');
  });
});

describe('spotlight, other bar positions and limits', () => {
  it('top bar at 1920x1080: bar first, big tile below', () => {
    const t = tiles(scene(1920, 1080, 'spotlight', people(5), { 'layout.spotlight.participants_bar_position': 'top' }));
    const y0 = (1080 - (668.25 + 16 + 161.875)) / 2;
    t.slice(1).forEach((b, i) => rectNear(b.rect, { x: 405 + 280 * i, y: y0 + 5 }, `bar${i}`));
    rectNear(t[0]!.rect, { x: 366, y: y0 + 161.875 + 16, width: 1188 }, 'big');
  });
  it('right bar at 1920x1080', () => {
    const t = tiles(scene(1920, 1080, 'spotlight', people(4), { 'layout.spotlight.participants_bar_position': 'right' }));
    rectNear(t[0]!.rect, { x: 2, width: 1620, height: 911.25, y: (1080 - 911.25) / 2 }, 'big');
    const slotH = 161.875;
    t.slice(1).forEach((b, i) => rectNear(b.rect, { x: 1920 - 277, y: (1080 - 3 * slotH) / 2 + slotH * i + 5, width: 270 }, `bar${i}`));
  });
  it('left bar at 1280x720 with a dynamic cap of floor(mh/162) = 3', () => {
    const t = tiles(scene(1280, 720, 'spotlight', people(8), { 'layout.spotlight.participants_bar_position': 'left' }));
    assert.equal(t.length, 4);
    rectNear(t[0]!.rect, { x: 298, width: 980 }, 'big');
    for (const b of t.slice(1)) near(b.rect.x, 7, 'bar x');
    for (const x of t) inside(x.rect, 1280, 720, x.sessionId);
  });
  it('left/right bars stay on small canvases', () => {
    for (const [W, H] of [
      [640, 360],
      [360, 640],
      [480, 854],
    ] as const) {
      for (const pos of ['left', 'right']) {
        for (const limit of ['dynamic', 6]) {
          const t = tiles(
            scene(W, H, 'spotlight', people(7), {
              'layout.spotlight.participants_bar_position': pos,
              'layout.spotlight.participants_bar_limit': limit,
            }),
          );
          for (const x of t) inside(x.rect, W, H, `${W}x${H} ${pos} ${limit} ${x.sessionId}`);
          assert.ok(t.length >= 2);
        }
      }
    }
  });
  it('a numeric limit caps the bar; a limit wider than the canvas shrinks the slots to fit', () => {
    assert.equal(tiles(scene(1920, 1080, 'spotlight', people(6), { 'layout.spotlight.participants_bar_limit': 2 })).length, 3);
    assert.equal(tiles(scene(1920, 1080, 'spotlight', people(6), { 'layout.spotlight.participants_bar_limit': '0' })).length, 1);
    const t = tiles(scene(1280, 720, 'spotlight', people(9), { 'layout.spotlight.participants_bar_limit': 8 }));
    assert.equal(t.length, 9);
    for (const x of t) inside(x.rect, 1280, 720, x.sessionId);
  });
  it('participant.aspect_ratio overrides the 16:9 tiles', () => {
    const t = tiles(scene(1920, 1080, 'spotlight', people(3), { 'participant.aspect_ratio': '4 / 3' }));
    near(t[0]!.rect.width / t[0]!.rect.height, 4 / 3, 'big aspect');
    near(t[1]!.rect.height, (270 * 3) / 4, 'bar tile height');
    const tall = tiles(scene(1920, 1080, 'spotlight', people(3), { 'participant.aspect_ratio': '9/16' }));
    for (const x of tall) inside(x.rect, 1920, 1080, x.sessionId);
    near(tall[0]!.rect.width / tall[0]!.rect.height, 9 / 16, 'tall aspect');
  });
});

describe('grid', () => {
  it('n=5 at 1920x1080', () => {
    const t = tiles(scene(1920, 1080, 'grid', people(5)));
    rectNear(t[0]!.rect, { x: 392.8, y: 256.4, width: 372.8, height: 279.6 }, 'first');
    // last row (2 tiles) centred
    const w = t[3]!.rect.width;
    near(t[3]!.rect.x, (1920 - (2 * w + 8)) / 2, 'last row x');
    near(t[3]!.rect.y, 256.4 + 279.6 + 8, 'second row y');
  });
  it('n=5 expanded at 1920x1080', () => {
    const t = tiles(scene(1920, 1080, 'grid', people(5), { 'layout.grid.expand_tiles': true }));
    rectNear(t[0]!.rect, { x: 30.4, y: 190.4, width: 614.4, height: 345.6 }, 'first');
  });
  it('n=1 and other canvases', () => {
    rectNear(tiles(scene(1920, 1080, 'grid', people(1)))[0]!.rect, { width: 1142, height: 856.5 }, '1080p n=1');
    rectNear(tiles(scene(1280, 720, 'grid', people(5)))[0]!.rect, { width: 242.2, height: 181.6 }, '720p n=5');
    rectNear(
      tiles(scene(1280, 720, 'grid', people(5), { 'layout.grid.expand_tiles': true }))[0]!.rect,
      { width: 403.2, height: 226.8 },
      '720p n=5 expanded',
    );
    rectNear(tiles(scene(1280, 720, 'grid', people(1)))[0]!.rect, { width: 746, height: 559.5 }, '720p n=1');
    rectNear(tiles(scene(720, 1280, 'grid', people(5)))[0]!.rect, { width: 218.4, height: 163.8 }, '720x1280 n=5');
    rectNear(
      tiles(scene(720, 1280, 'grid', people(5), { 'layout.grid.expand_tiles': true }))[0]!.rect,
      { width: 218.4, height: 122.8 },
      '720x1280 n=5 expanded',
    );
    rectNear(tiles(scene(720, 1280, 'grid', people(1)))[0]!.rect, { width: 674, height: 505.5 }, '720x1280 n=1');
  });
  it('2..20 participants: columns by count, rows filled left to right, last row centred, all on canvas', () => {
    for (let n = 2; n <= 20; n++) {
      const t = tiles(scene(1920, 1080, 'grid', people(n)));
      assert.equal(t.length, n);
      const c = n <= 4 ? 2 : n <= 9 ? 3 : 4;
      const rows = Math.ceil(n / c);
      const ys = [...new Set(t.map((x) => Math.round(x.rect.y * 100)))];
      assert.equal(ys.length, rows, `n=${n} rows`);
      for (let j = 0; j < rows; j++) {
        const row = t.slice(j * c, j * c + c);
        const left = row[0]!.rect.x;
        const right = row[row.length - 1]!.rect.x + row[row.length - 1]!.rect.width;
        near((left + right) / 2, 960, `n=${n} row ${j} centred`);
        for (let i = 1; i < row.length; i++) near(row[i]!.rect.x - (row[i - 1]!.rect.x + row[i - 1]!.rect.width), 8, 'gap');
      }
      const top = t[0]!.rect.y;
      const bottom = t[t.length - 1]!.rect.y + t[t.length - 1]!.rect.height;
      near((top + bottom) / 2, 540, `n=${n} block centred`);
      for (const x of t) inside(x.rect, 1920, 1080, `n=${n}`);
    }
  });
  it('page_size caps the tiles', () => {
    assert.equal(tiles(scene(1920, 1080, 'grid', people(12), { 'layout.grid.page_size': 4 })).length, 4);
    assert.equal(tiles(scene(1920, 1080, 'grid', people(25))).length, 20);
  });
  it('geometry is empty with no participants', () => {
    assert.deepEqual(gridGeometry({ width: 1920, height: 1080 }, 0, 4 / 3, false), []);
  });
});

describe('single participant and mobile', () => {
  it('fills a landscape canvas, 4:3 band on portrait', () => {
    rectNear(tiles(scene(1920, 1080, 'single-participant', people(3)))[0]!.rect, { x: 0, y: 0, width: 1920, height: 1080 }, '1080p');
    rectNear(tiles(scene(1280, 720, 'single-participant', people(3)))[0]!.rect, { x: 0, y: 0, width: 1280, height: 720 }, '720p');
    rectNear(tiles(scene(2560, 1440, 'single-participant', people(3)))[0]!.rect, { width: 2560, height: 1440 }, '1440p');
    rectNear(tiles(scene(720, 1280, 'single-participant', people(3)))[0]!.rect, { x: 0, y: 370, width: 720, height: 540 }, '720x1280');
    rectNear(tiles(scene(1080, 1920, 'mobile', people(3)))[0]!.rect, { x: 0, y: 555, width: 1080, height: 810 }, '1080x1920');
    rectNear(tiles(scene(640, 360, 'single-participant', people(1)))[0]!.rect, { width: 640, height: 360 }, '360p');
    assert.equal(tiles(scene(1920, 1080, 'single-participant', people(3))).length, 1);
  });
  it('mobile with a 9/16 aspect fills a portrait canvas', () => {
    rectNear(
      tiles(scene(1080, 1920, 'mobile', people(1), { 'participant.aspect_ratio': '9 / 16' }))[0]!.rect,
      { x: 0, y: 0, width: 1080, height: 1920 },
      '9/16',
    );
  });
  it('padding in px and %', () => {
    rectNear(
      tiles(
        scene(1920, 1080, 'single-participant', people(1), {
          'layout.single-participant.padding_inline': '100px',
          'layout.single-participant.padding_block': 40,
        }),
      )[0]!.rect,
      { x: 100, y: 40, width: 1720, height: 1000 },
      'px',
    );
    rectNear(
      tiles(
        scene(1920, 1080, 'single-participant', people(1), {
          'layout.single-participant.padding_inline': '20%',
        }),
      )[0]!.rect,
      { x: 384, width: 1152, height: 864, y: 108 },
      '%',
    );
    rectNear(
      tiles(
        scene(1920, 1080, 'single-participant', people(1), {
          'layout.single-participant.padding_inline': '2rem',
        }),
      )[0]!.rect,
      { x: 32, width: 1856 },
      'rem',
    );
  });
  it('forceMirrorParticipants mirrors the featured participant only in single-participant', () => {
    assert.equal(tiles(scene(1920, 1080, 'single-participant', people(2), { 'layout.forceMirrorParticipants': true }))[0]!.mirror, true);
    assert.equal(tiles(scene(1920, 1080, 'single-participant', people(2)))[0]!.mirror, false);
    assert.ok(tiles(scene(1920, 1080, 'grid', people(2), { 'layout.forceMirrorParticipants': true })).every((t) => !t.mirror));
  });
});
