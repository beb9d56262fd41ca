import type { LayoutParticipant } from '../../src/layout/participants.js';
import { composeScene, type Scene, type SceneItem } from '../../src/layout/scene.js';
import type { LayoutName } from '../../src/layout/settings.js';

export function people(n: number, extra: (i: number) => Partial<LayoutParticipant> = () => ({})): LayoutParticipant[] {
  return Array.from({ length: n }, (_, i) => ({
    sessionId: `s${i}`,
    userId: `u${i}`,
    name: `Person ${i}`,
    roles: ['user'],
    hasVideo: true,
    hasAudio: true,
    isSpeaking: false,
    isDominantSpeaker: false,
    joinedAt: 1000 + i,
    ...extra(i),
  }));
}

export function scene(
  width: number,
  height: number,
  name: LayoutName,
  participants: LayoutParticipant[],
  options: Record<string, unknown> = {},
  nowMs = 0,
): Scene {
  return composeScene({
    canvas: { width, height },
    participants,
    nowMs,
    layout: { name, external_app_url: '', external_css_url: '', options },
  });
}

export type TileItem = Extract<SceneItem, { kind: 'tile' }>;
export function tiles(s: Scene): TileItem[] {
  return s.items.filter((i): i is TileItem => i.kind === 'tile');
}
export function placeholders(s: Scene): Extract<SceneItem, { kind: 'placeholder' }>[] {
  return s.items.filter((i): i is Extract<SceneItem, { kind: 'placeholder' }> => i.kind === 'placeholder');
}
export function labels(s: Scene): Extract<SceneItem, { kind: 'label' }>[] {
  return s.items.filter((i): i is Extract<SceneItem, { kind: 'label' }> => i.kind === 'label');
}
