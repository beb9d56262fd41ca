/**
 * Participant labels hold their whole name: the box the scene hands to the label sprite is never
 * narrower than the measured text, in the spotlight's participants bar and in a grid.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCanvas } from '@napi-rs/canvas';
import { composeScene, type Scene, type SceneItem } from '../../src/layout/scene.js';
import type { LayoutParticipant } from '../../src/layout/participants.js';
import { ImageStore } from '../../src/render/images.js';
import { overlaySprites, type Sprite } from '../../src/render/sprites.js';

const FONT_FAMILY = 'Inter, Avenir, Helvetica, Arial, "DejaVu Sans", sans-serif';
type Label = Extract<SceneItem, { kind: 'label' }>;

function person(i: number, name: string): LayoutParticipant {
  return {
    sessionId: `s${i}`,
    userId: `u${i}`,
    name,
    roles: ['user'],
    hasVideo: true,
    hasAudio: true,
    isSpeaking: false,
    isDominantSpeaker: false,
    joinedAt: 1000 + i,
  };
}

function scene(name: 'spotlight' | 'grid', names: string[], width = 1280, height = 720): Scene {
  return composeScene({
    canvas: { width, height },
    participants: names.map((n, i) => person(i, n)),
    nowMs: 0,
    layout: { name, external_app_url: '', external_css_url: '', options: { 'participant_label.background_color': '#202020' } },
  });
}

/** Columns of the sprite's middle row that were drawn (alpha > 0). */
function drawnColumns(sprite: Sprite): number {
  const y = Math.floor(sprite.height / 2);
  let n = 0;
  for (let x = 0; x < sprite.width; x++) if (sprite.rgba[(y * sprite.width + x) * 4 + 3]! > 0) n += 1;
  return n;
}

function labelSprite(sprites: Sprite[], label: Label): Sprite {
  const cy = label.rect.y + label.rect.height / 2;
  const found = sprites.filter(
    (s) =>
      s.y <= cy &&
      s.y + s.height >= cy &&
      s.x <= label.rect.x + label.rect.width &&
      s.x + s.width >= label.rect.x &&
      Math.abs(s.height - label.rect.height) <= 6,
  );
  assert.equal(found.length, 1, `one sprite for the label "${label.text}"`);
  return found[0]!;
}

describe('participant labels', () => {
  const measure = createCanvas(2, 2).getContext('2d');
  measure.font = `14px ${FONT_FAMILY}`;
  for (const [layout, names] of [
    ['spotlight', ['Alice', 'Bob', 'bob', 'Wim', 'MMM']],
    ['grid', ['Bob', 'bob', 'W', 'Mia']],
  ] as const) {
    it(`${layout}: each label box holds its whole name, and the sprite is as wide as the text`, () => {
      const s = scene(layout, [...names]);
      const labels = s.items.filter((i): i is Label => i.kind === 'label');
      assert.equal(labels.length, names.length);
      const sprites = overlaySprites(s, new ImageStore());
      for (const label of labels) {
        const chrome = 2 * label.paddingInline + 2 * label.borderWidth;
        const textW = measure.measureText(label.text).width;
        assert.ok(
          label.rect.width >= textW + chrome,
          `box for "${label.text}" (${label.rect.width.toFixed(1)} px) holds the text (${(textW + chrome).toFixed(1)} px)`,
        );
        const drawn = drawnColumns(labelSprite(sprites, label));
        const expected = Math.ceil(textW + chrome);
        console.log(`${layout} "${label.text}": text ${textW.toFixed(1)} px, label drawn ${drawn} px wide (expected ${expected})`);
        assert.ok(Math.abs(drawn - expected) <= 1, `"${label.text}" drawn ${drawn} px wide, the full text needs ${expected}`);
      }
    });
  }
});
