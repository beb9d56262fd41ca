/**
 * The public types of Callcast's layout module (`/sdk/layout.js`), served as `/sdk/layout.d.ts`
 * for layout app authors. Declarations only.
 */

/** What Callcast passes to `window.setupLayout(config)`. */
export interface LayoutConfig {
  /** How the page reaches Callcast, e.g. `https://callcast.example.com` (no trailing slash). */
  base_url: string;
  api_key: string;
  /** A user token of a hidden recorder user that may read this call and subscribe to its participants. */
  token: string;
  user_id?: string;
  call_type: string;
  call_id: string;
  /** The broadcast's layout name (spotlight, grid, single-participant, mobile, custom). */
  layout?: string;
  screenshare_layout?: string;
  /** The layout options, flat dotted keys as on the wire. */
  options?: Record<string, unknown>;
  /** The `external_css_url` of the layout ('' when none). */
  ext_css?: string;
  log_level?: string;
}

/** A participant of the call as the layout sees it. */
export interface LayoutParticipant {
  /** `user_session_id` */
  sessionId: string;
  userId: string;
  name?: string;
  image?: string;
  role: string;
  /** ms since the epoch */
  joinedAt: number;
  /** What arrives: audio, video, screen_share, screen_share_audio. */
  publishedTracks: readonly string[];
  hasVideo: boolean;
  hasAudio: boolean;
  hasScreenShare: boolean;
  isSpeaking: boolean;
  isDominantSpeaker: boolean;
  /** Camera and microphone (WHEP), null until subscribed or when it publishes neither. */
  stream: MediaStream | null;
  /** Screen share and its sound (WHEP), null when it shares nothing. */
  screenShareStream: MediaStream | null;
}

export interface LayoutCall {
  readonly config: LayoutConfig;
  /** The participants in join order (the recorder itself is never one). */
  participants(): LayoutParticipant[];
  /** Calls `fn` with the participants whenever anything about them changes (and once at once); returns an unsubscribe. */
  onChange(fn: (participants: LayoutParticipant[]) => void): () => void;
  /** Ends the subscriptions and the event connection. */
  close(): void;
}

export interface ConnectOptions {
  /**
   * Play the participants' sound (microphones, screen-share sound): default true. A layout app's
   * sound is its broadcast's sound; pass false to mix it your own way (WebAudio) or not at all.
   */
  playAudio?: boolean;
}

/** Resolves with the config once Callcast calls `window.setupLayout(config)` (defines it). */
export declare function layoutConfig(): Promise<LayoutConfig>;
/** Connects to the call: its participants with live streams (their sound playing), kept up to date. */
export declare function connectLayout(config: LayoutConfig, options?: ConnectOptions): Promise<LayoutCall>;
/**
 * Shows `stream` in `video`, muted (`connectLayout` plays the sound once, however many times a
 * stream is shown), and keeps it playing (a stream that changes restarts it). `null` detaches.
 */
export declare function attachStream(video: HTMLVideoElement, stream: MediaStream | null): void;
/** Adds `#egress-ready-for-capture`: Callcast starts capturing the page. */
export declare function markReady(): void;
