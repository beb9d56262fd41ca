/**
 * What the built-in layouts page hands the scene engine: the layout settings from the
 * `setupLayout` config, and the layout module's participants as the engine's. Pure.
 */
import type { LayoutParticipant as SceneParticipant } from '../../../src/layout/participants.js';
import { isLayoutName, type LayoutName, type LayoutSettings } from '../../../src/layout/settings.js';

/** The keys of the `setupLayout` config (LayoutConfig) the scene depends on. */
export interface LayoutConfigKeys {
  layout?: string;
  screenshare_layout?: string;
  options?: Record<string, unknown>;
  ext_css?: string;
}

/** What the scene needs of a layout module participant (LayoutParticipant). */
export interface ParticipantFacts {
  sessionId: string;
  userId: string;
  name?: string;
  image?: string;
  role: string;
  joinedAt: number;
  hasVideo: boolean;
  hasAudio: boolean;
  hasScreenShare: boolean;
  isSpeaking: boolean;
  isDominantSpeaker: boolean;
}

/** A screen share's key in the scene: its user's session with this suffix. */
export const SHARE_SUFFIX = '#screen';

/** The layout settings the page draws, from the config (`custom` draws as spotlight, as natively). */
export function layoutFromConfig(config: LayoutConfigKeys): LayoutSettings {
  const name: LayoutName = isLayoutName(config.layout) ? config.layout : 'spotlight';
  return {
    name,
    external_app_url: '',
    external_css_url: config.ext_css ?? '',
    options: { ...(config.options ?? {}) },
    ...(isLayoutName(config.screenshare_layout) ? { screenshare_layout: config.screenshare_layout } : {}),
  };
}

/** A layout module participant as the scene engine sees it (a share is keyed `<session>#screen`). */
export function sceneParticipant(p: ParticipantFacts, sizes: ReadonlyMap<string, { width: number; height: number }>): SceneParticipant {
  const shareKey = p.sessionId + SHARE_SUFFIX;
  const size = sizes.get(p.sessionId);
  const shareSize = sizes.get(shareKey);
  const shareOnly = p.hasScreenShare && !p.hasVideo && !p.hasAudio;
  return {
    sessionId: p.sessionId,
    userId: p.userId,
    ...(p.name ? { name: p.name } : {}),
    ...(p.image ? { image: p.image } : {}),
    roles: [p.role],
    hasVideo: p.hasVideo,
    hasAudio: p.hasAudio,
    isSpeaking: p.isSpeaking,
    isDominantSpeaker: p.isDominantSpeaker,
    joinedAt: p.joinedAt,
    ...(size ? { videoSize: size } : {}),
    ...(p.hasScreenShare
      ? { screenShare: { sessionId: shareKey, hasVideo: true, startedAt: p.joinedAt, ...(shareSize ? { videoSize: shareSize } : {}) } }
      : {}),
    ...(shareOnly ? { shareOnly: true } : {}),
  };
}
