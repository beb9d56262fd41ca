/**
 * Where the layout engine puts participants' tiles, for tests that check pixels of a composed
 * picture: `n` participants with 640x360 video, the layout and options given, no labels unless the
 * options ask for them.
 */
import type { LayoutParticipant } from '../../src/layout/participants.js';
import { composeScene } from '../../src/layout/scene.js';
import type { LayoutName } from '../../src/layout/settings.js';

/** `n` participants who all publish video (640x360) and audio, joined in order. */
export function videoParticipants(n: number): LayoutParticipant[] {
  return Array.from({ length: n }, (_, i) => ({
    sessionId: `s${i}`,
    userId: `u${i}`,
    roles: ['user'],
    hasVideo: true,
    hasAudio: true,
    isSpeaking: false,
    isDominantSpeaker: false,
    joinedAt: i,
    videoSize: { width: 640, height: 360 },
  }));
}

/** The centre of each tile of `layout` on a `width` x `height` canvas with `n` participants, in scene order. */
export function tileCentres(
  layout: LayoutName,
  canvas: { width: number; height: number },
  n: number,
  options: Record<string, unknown> = { 'participant_label.display': false },
): Array<[number, number]> {
  const scene = composeScene({
    canvas,
    participants: videoParticipants(n),
    layout: { name: layout, external_app_url: '', external_css_url: '', options },
    nowMs: 0,
  });
  return scene.items
    .filter((i) => i.kind === 'tile')
    .map((i) => {
      const r = (i as { rect: { x: number; y: number; width: number; height: number } }).rect;
      return [Math.round(r.x + r.width / 2), Math.round(r.y + r.height / 2)];
    });
}
