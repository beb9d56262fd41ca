/** Which destinations share one encode (same call, quality and layout), and where a layout change takes one. Pure. */
import { layoutKey, type LayoutSettings, type Quality } from '../layout/settings.js';

export { layoutKey };

export function groupKey(callCid: string, quality: Quality, layout: LayoutSettings): string {
  return `${callCid}\u0000${quality}\u0000${layoutKey(layout)}`;
}

/**
 * What a layout change of one destination does, given the key of the group it streams from, the
 * key of the group it is moving to (a change still waiting for that group's keyframe), if any,
 * and the key of the group of its new layout:
 * - `stay`: the new layout is the one it streams; a pending move (if any) is cancelled.
 * - `keep`: it is already moving to that group; nothing changes.
 * - `move`: it moves to the target group (a pending move elsewhere is cancelled first).
 */
export type LayoutMove = { kind: 'stay'; cancel: boolean } | { kind: 'keep' } | { kind: 'move'; cancel: boolean };

export function planLayoutMove(currentKey: string, movingKey: string | null, targetKey: string): LayoutMove {
  if (targetKey === currentKey) return { kind: 'stay', cancel: movingKey !== null };
  if (targetKey === movingKey) return { kind: 'keep' };
  return { kind: 'move', cancel: movingKey !== null };
}
