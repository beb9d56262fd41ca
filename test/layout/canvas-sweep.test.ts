import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QUALITIES, canvasFor } from '../../src/layout/settings.js';
import { people, placeholders, scene } from './helpers.js';

type R = { x: number; y: number; width: number; height: number };
const overlap = (a: R, b: R): boolean =>
  a.x < b.x + b.width - 0.01 && b.x < a.x + a.width - 0.01 && a.y < b.y + b.height - 0.01 && b.y < a.y + a.height - 0.01;

describe('every preset canvas, layout and count keeps tiles on the canvas and apart', () => {
  const variants: Array<[string, 'spotlight' | 'grid' | 'single-participant' | 'mobile', Record<string, unknown>]> = [
    ['spotlight bottom', 'spotlight', {}],
    ['spotlight top', 'spotlight', { 'layout.spotlight.participants_bar_position': 'top' }],
    ['spotlight left', 'spotlight', { 'layout.spotlight.participants_bar_position': 'left' }],
    ['spotlight right', 'spotlight', { 'layout.spotlight.participants_bar_position': 'right' }],
    [
      'spotlight right, limit 9',
      'spotlight',
      { 'layout.spotlight.participants_bar_position': 'right', 'layout.spotlight.participants_bar_limit': 9 },
    ],
    ['spotlight bottom, limit 12', 'spotlight', { 'layout.spotlight.participants_bar_limit': 12 }],
    ['spotlight 9/16', 'spotlight', { 'participant.aspect_ratio': '9 / 16' }],
    ['grid', 'grid', {}],
    ['grid expanded', 'grid', { 'layout.grid.expand_tiles': true }],
    ['grid 9/16', 'grid', { 'participant.aspect_ratio': '9/16' }],
    ['single', 'single-participant', {}],
    [
      'mobile 9/16 padded',
      'mobile',
      {
        'participant.aspect_ratio': '9 / 16',
        'layout.single-participant.padding_inline': '5%',
        'layout.single-participant.padding_block': '20px',
      },
    ],
  ];
  for (const [label, name, options] of variants) {
    it(label, () => {
      for (const q of QUALITIES) {
        const { width: W, height: H } = canvasFor(q);
        for (let n = 0; n <= 14; n++) {
          const rects = placeholders(scene(W, H, name, people(n), options)).map((p) => p.rect);
          if (n > 0) assert.ok(rects.length >= 1, `${q} n=${n}: someone is drawn`);
          else assert.equal(rects.length, 0);
          for (const r of rects) {
            assert.ok(r.width > 0 && r.height > 0, `${q} n=${n}: empty tile`);
            assert.ok(
              r.x >= -0.01 && r.y >= -0.01 && r.x + r.width <= W + 0.01 && r.y + r.height <= H + 0.01,
              `${q} n=${n}: ${JSON.stringify(r)} leaves ${W}x${H}`,
            );
          }
          for (let i = 0; i < rects.length; i++) {
            for (let j = i + 1; j < rects.length; j++)
              assert.ok(!overlap(rects[i]!, rects[j]!), `${q} n=${n}: tiles ${i} and ${j} overlap`);
          }
        }
      }
    });
  }
});
