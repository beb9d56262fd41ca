import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { orientQuality, startQuality } from '../../src/layout/orientation.js';
import type { LayoutParticipant } from '../../src/layout/participants.js';

const p = (id: string, over: Partial<LayoutParticipant>): LayoutParticipant => ({
  sessionId: id,
  userId: id,
  roles: ['user'],
  hasVideo: true,
  hasAudio: true,
  isSpeaking: false,
  isDominantSpeaker: false,
  joinedAt: 0,
  ...over,
});

describe('detect_orientation', () => {
  it('maps a quality to its portrait or landscape variant', () => {
    assert.equal(orientQuality('720p', { width: 720, height: 1280 }), 'portrait-720x1280');
    assert.equal(orientQuality('portrait-1080x1920', { width: 1920, height: 1080 }), '1080p');
    assert.equal(orientQuality('360p', { width: 640, height: 360 }), '360p');
    assert.equal(orientQuality('480p'), '480p');
    assert.equal(orientQuality('480p', { width: 500, height: 500 }), '480p');
  });

  it('follows the featured participant at start, only when asked', () => {
    const phone = p('phone', { videoSize: { width: 360, height: 640 }, joinedAt: 1 });
    const laptop = p('laptop', { videoSize: { width: 1280, height: 720 }, joinedAt: 2 });
    assert.equal(startQuality('720p', false, [phone]), '720p');
    assert.equal(startQuality('720p', true, [phone, laptop]), 'portrait-720x1280');
    // The dominant speaker is featured before join order.
    assert.equal(startQuality('720p', true, [phone, { ...laptop, isDominantSpeaker: true }]), '720p');
    // Nobody with a known video size: the configured quality.
    assert.equal(startQuality('portrait-360x640', true, [p('audio', { hasVideo: false })]), 'portrait-360x640');
    assert.equal(startQuality('1080p', true, []), '1080p');
  });
});
