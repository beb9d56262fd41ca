/**
 * detect_orientation: pick the portrait or landscape variant of the configured quality from the
 * orientation of the published video (decided once, when the broadcast starts).
 */
import { singleOrder, type LayoutParticipant } from './participants.js';
import type { Quality } from './settings.js';

const PAIRS: ReadonlyArray<[Quality, Quality]> = [
  ['360p', 'portrait-360x640'],
  ['480p', 'portrait-480x854'],
  ['720p', 'portrait-720x1280'],
  ['1080p', 'portrait-1080x1920'],
  ['1440p', 'portrait-1440x2560'],
];

export function orientQuality(quality: Quality, videoSize?: { width: number; height: number }): Quality {
  if (!videoSize || videoSize.width <= 0 || videoSize.height <= 0 || videoSize.width === videoSize.height) return quality;
  const portrait = videoSize.height > videoSize.width;
  const pair = PAIRS.find(([l, p]) => l === quality || p === quality);
  if (!pair) return quality;
  return portrait ? pair[1] : pair[0];
}

/**
 * The quality a broadcast starts with: with `detect_orientation`, the orientation of the featured
 * participant's published video (the first in single-participant order among those whose video
 * size is known) picks the variant; otherwise, or with nobody publishing video, the configured one.
 */
export function startQuality(
  quality: Quality,
  detectOrientation: boolean | undefined,
  participants: readonly LayoutParticipant[],
): Quality {
  if (!detectOrientation) return quality;
  const featured = singleOrder(participants.filter((p) => p.hasVideo && p.videoSize))[0];
  return orientQuality(quality, featured?.videoSize);
}
