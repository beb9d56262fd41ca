/**
 * Callcast's layout module for layout apps (served as `/sdk/layout.js`, types in
 * `/sdk/layout.d.ts`, see layout-api.ts):
 *
 *   import { layoutConfig, connectLayout, attachStream, markReady } from 'https://callcast.example.com/sdk/layout.js';
 *   const call = await connectLayout(await layoutConfig());
 *   call.onChange((participants) => { ...draw; markReady(); });
 *
 * The participants come from `GET` the call (`call.session.participants`), refreshed on the events
 * WebSocket's joins, leaves and screen shares (and every 10 s); speaking and dominant-speaker flags
 * from its speaking events. Each participant's camera and microphone, and its screen share, are
 * WHEP subscriptions. Their sound plays (one hidden audio element per subscription with sound,
 * unless `playAudio: false`): a layout app's sound is the broadcast's, so an app that only draws
 * videos (`attachStream`, muted) is heard as the call. The token is renewed on the
 * `callcast:token` window event Callcast dispatches.
 */
import { EventConnection } from '../lib/events.js';
import { WhepSubscriber } from '../lib/whep.js';
import type { ConnectOptions, LayoutCall, LayoutConfig, LayoutParticipant } from './layout-api.js';

export type { ConnectOptions, LayoutCall, LayoutConfig, LayoutParticipant } from './layout-api.js';

const REFRESH_MS = 10_000;
const RETRY_MS = 2_000;

declare global {
  interface Window {
    setupLayout?: (config: LayoutConfig) => unknown;
  }
}

export function layoutConfig(): Promise<LayoutConfig> {
  return new Promise((resolve) => {
    window.setupLayout = (config: LayoutConfig) => resolve(config);
  });
}

export function markReady(): void {
  if (document.getElementById('egress-ready-for-capture')) return;
  const span = document.createElement('span');
  span.id = 'egress-ready-for-capture';
  span.hidden = true;
  document.body.appendChild(span);
}

const attached = new WeakSet<HTMLVideoElement>();

export function attachStream(video: HTMLVideoElement, stream: MediaStream | null): void {
  video.muted = true;
  video.autoplay = true;
  video.playsInline = true;
  if (!attached.has(video)) {
    attached.add(video);
    // A new stream (or tracks arriving) may leave the element paused: start it again.
    for (const ev of ['loadedmetadata', 'pause', 'resize'] as const) {
      video.addEventListener(ev, () => {
        if (video.paused && video.srcObject) void video.play().catch(() => undefined);
      });
    }
  }
  if (video.srcObject !== stream) video.srcObject = stream;
  if (stream && video.paused) void video.play().catch(() => undefined);
}

interface WireParticipant {
  user_session_id: string;
  user: { id: string; name?: string; image?: string };
  role?: string;
  joined_at?: string;
  published_tracks?: string[];
}

interface Subscription {
  whep: WhepSubscriber;
  /** audio/video, as subscribed */
  kinds: string;
  stream: MediaStream | null;
  failed: boolean;
  /** plays the subscription's sound (when it has any and the call plays audio) */
  audio: HTMLAudioElement | null;
}

/** Ends a subscription: its sound stops, and the WHEP session ends (with a DELETE unless `remove` is false). */
function endSubscription(sub: Subscription, remove = true): void {
  if (sub.audio) {
    sub.audio.pause();
    sub.audio.srcObject = null;
    sub.audio = null;
  }
  void sub.whep.stop(remove);
}

interface Entry {
  p: LayoutParticipant;
  camera: Subscription | null;
  share: Subscription | null;
}

class Call implements LayoutCall {
  private readonly entries = new Map<string, Entry>();
  private readonly listeners = new Set<(ps: LayoutParticipant[]) => void>();
  private speaking = new Set<string>();
  private dominant: string | null = null;
  private events: EventConnection | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private closed = false;
  private refreshing: Promise<void> | null = null;
  private again = false;
  private readonly base: string;
  private readonly onToken = (ev: Event) => {
    const token = (ev as CustomEvent<{ token?: unknown }>).detail?.token;
    if (typeof token !== 'string' || !token) return;
    this.config.token = token;
    this.events?.setToken(token);
    for (const e of this.entries.values()) for (const s of [e.camera, e.share]) s?.whep.setToken(token);
  };

  constructor(
    readonly config: LayoutConfig,
    private readonly playAudio: boolean,
  ) {
    this.base = config.base_url.replace(/\/+$/, '');
  }

  async start(): Promise<void> {
    window.addEventListener('callcast:token', this.onToken);
    this.events = new EventConnection({
      apiKey: this.config.api_key,
      token: this.config.token,
      user: { id: this.config.user_id ?? tokenUserId(this.config.token) },
      baseUrl: this.base,
      onEvent: (e) => this.onEvent(e),
      onStatus: (status) => {
        if (status === 'connected') void this.refresh();
      },
    });
    // The list does not wait for the socket: GET first, the socket's events refresh it after.
    this.events.start().catch((err) => console.error(`layout events: ${String(err)}`));
    this.timer = setInterval(() => void this.refresh(), REFRESH_MS);
    await this.refresh();
  }

  participants(): LayoutParticipant[] {
    return [...this.entries.values()].map((e) => e.p).sort((a, b) => a.joinedAt - b.joinedAt || (a.sessionId < b.sessionId ? -1 : 1));
  }

  onChange(fn: (ps: LayoutParticipant[]) => void): () => void {
    this.listeners.add(fn);
    fn(this.participants());
    return () => this.listeners.delete(fn);
  }

  close(): void {
    this.closed = true;
    window.removeEventListener('callcast:token', this.onToken);
    if (this.timer) clearInterval(this.timer);
    this.events?.close();
    for (const e of this.entries.values()) for (const s of [e.camera, e.share]) if (s) endSubscription(s);
    this.entries.clear();
  }

  private changed(): void {
    if (this.closed) return;
    const ps = this.participants();
    for (const fn of this.listeners) fn(ps);
  }

  private onEvent(e: Record<string, unknown>): void {
    if (e.call_cid !== `${this.config.call_type}:${this.config.call_id}`) return;
    switch (e.type) {
      case 'call.speaking_changed':
        this.speaking = new Set(Array.isArray(e.speaking_session_ids) ? e.speaking_session_ids.map(String) : []);
        this.dominant = typeof e.dominant_speaker_session_id === 'string' ? e.dominant_speaker_session_id : null;
        this.applySpeaking();
        return;
      case 'call.dominant_speaker_changed':
        this.dominant = typeof e.user_session_id === 'string' ? e.user_session_id : null;
        this.applySpeaking();
        return;
      case 'call.session_participant_joined':
      case 'call.session_participant_left':
      case 'call.screen_share_started':
      case 'call.screen_share_stopped':
      case 'call.track_published':
      case 'call.track_unpublished':
      case 'call.session_ended':
        void this.refresh();
        return;
      default:
        return;
    }
  }

  private applySpeaking(): void {
    let any = false;
    for (const e of this.entries.values()) {
      const isSpeaking = this.speaking.has(e.p.sessionId);
      const isDominantSpeaker = this.dominant === e.p.sessionId;
      if (e.p.isSpeaking === isSpeaking && e.p.isDominantSpeaker === isDominantSpeaker) continue;
      e.p = { ...e.p, isSpeaking, isDominantSpeaker };
      any = true;
    }
    if (any) this.changed();
  }

  /** GETs the call and reconciles the participants (one request at a time; a request meanwhile runs once after). */
  private refresh(): Promise<void> {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.again = false;
        try {
          this.reconcile(await this.fetchParticipants());
        } catch (err) {
          console.error(`layout participants: ${String(err)}`);
        }
      } while (this.again && !this.closed);
    })().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async fetchParticipants(): Promise<WireParticipant[]> {
    const { call_type: type, call_id: id, api_key: key } = this.config;
    const url = `${this.base}/api/v2/video/call/${encodeURIComponent(type)}/${encodeURIComponent(id)}?api_key=${encodeURIComponent(key)}`;
    const res = await fetch(url, { headers: { Authorization: this.config.token, 'stream-auth-type': 'jwt' } });
    if (!res.ok) throw new Error(`GET call: HTTP ${res.status}`);
    const body = (await res.json()) as { call?: { session?: { participants?: WireParticipant[] } | null } };
    return body.call?.session?.participants ?? [];
  }

  private reconcile(list: WireParticipant[]): void {
    if (this.closed) return;
    const seen = new Set<string>();
    for (const w of list) {
      seen.add(w.user_session_id);
      const tracks = w.published_tracks ?? [];
      const prev = this.entries.get(w.user_session_id);
      const entry: Entry = prev ?? { p: participantFrom(w, tracks), camera: null, share: null };
      entry.p = {
        ...participantFrom(w, tracks),
        isSpeaking: this.speaking.has(w.user_session_id),
        isDominantSpeaker: this.dominant === w.user_session_id,
        stream: entry.camera?.stream ?? null,
        screenShareStream: entry.share?.stream ?? null,
      };
      this.entries.set(w.user_session_id, entry);
      const cameraKinds = kindsOf(entry.p.hasAudio, entry.p.hasVideo);
      const shareKinds = kindsOf(tracks.includes('screen_share_audio'), entry.p.hasScreenShare);
      entry.camera = this.keep(entry, 'camera', entry.camera, cameraKinds);
      entry.share = this.keep(entry, 'screen_share', entry.share, shareKinds);
      if (!entry.camera) entry.p = { ...entry.p, stream: null };
      if (!entry.share) entry.p = { ...entry.p, screenShareStream: null };
    }
    for (const [id, e] of this.entries) {
      if (seen.has(id)) continue;
      // The participant left: the server has ended its subscriptions.
      for (const s of [e.camera, e.share]) if (s) endSubscription(s, false);
      this.entries.delete(id);
    }
    this.changed();
  }

  /** The subscription for `kinds` of media: the current one, a new one (none yet, failed, other kinds), or none. */
  private keep(
    entry: Entry,
    kind: 'camera' | 'screen_share',
    sub: Subscription | null,
    kinds: Array<'audio' | 'video'>,
  ): Subscription | null {
    if (sub && !sub.failed && sub.kinds === kinds.join()) return sub;
    if (sub && !sub.failed) endSubscription(sub);
    return kinds.length > 0 ? this.subscribe(entry, kind, kinds) : null;
  }

  private subscribe(entry: Entry, kind: 'camera' | 'screen_share', kinds: Array<'audio' | 'video'>): Subscription {
    const { call_type: type, call_id: id } = this.config;
    const sessionId = entry.p.sessionId;
    const path = `/api/v2/video/call/${encodeURIComponent(type)}/${encodeURIComponent(id)}/participants/${encodeURIComponent(sessionId)}/whep`;
    const endpoint = `${this.base}${path}${kind === 'screen_share' ? '?track_type=screen_share' : ''}`;
    const sub: Subscription = {
      whep: new WhepSubscriber(endpoint, this.config.token, new URL(this.base).origin, kinds),
      kinds: kinds.join(),
      stream: null,
      failed: false,
      audio: null,
    };
    const fail = (why: string) => {
      if (sub.failed) return;
      sub.failed = true;
      endSubscription(sub, false);
      console.error(`layout ${kind} of ${sessionId}: ${why}`);
      // Subscribed again by the next refresh, a little later.
      setTimeout(() => void this.refresh(), RETRY_MS);
    };
    sub.whep
      .subscribe((state) => {
        if (state === 'failed') fail('the connection failed');
      })
      .then((stream) => {
        const current = this.entries.get(sessionId);
        if (this.closed || !current || (kind === 'camera' ? current.camera : current.share) !== sub || sub.failed) {
          endSubscription(sub);
          return;
        }
        sub.stream = stream;
        if (this.playAudio && kinds.includes('audio')) {
          const audio = new Audio();
          audio.autoplay = true;
          audio.srcObject = stream;
          void audio.play().catch((err) => console.error(`layout sound of ${sessionId}: ${String(err)}`));
          sub.audio = audio;
        }
        current.p = kind === 'camera' ? { ...current.p, stream } : { ...current.p, screenShareStream: stream };
        this.changed();
      })
      .catch((err) => fail(String(err)));
    return sub;
  }
}

function kindsOf(audio: boolean, video: boolean): Array<'audio' | 'video'> {
  return [...(audio ? (['audio'] as const) : []), ...(video ? (['video'] as const) : [])];
}

function participantFrom(w: WireParticipant, tracks: readonly string[]): LayoutParticipant {
  const joinedAt = w.joined_at ? Date.parse(w.joined_at) : 0;
  return {
    sessionId: w.user_session_id,
    userId: w.user.id,
    ...(w.user.name ? { name: w.user.name } : {}),
    ...(w.user.image ? { image: w.user.image } : {}),
    role: w.role ?? 'user',
    joinedAt: Number.isFinite(joinedAt) ? joinedAt : 0,
    publishedTracks: [...tracks],
    hasVideo: tracks.includes('video'),
    hasAudio: tracks.includes('audio'),
    hasScreenShare: tracks.includes('screen_share'),
    isSpeaking: false,
    isDominantSpeaker: false,
    stream: null,
    screenShareStream: null,
  };
}

/** The `user_id` claim of a JWT (the events connection names its user). */
function tokenUserId(token: string): string {
  try {
    const payload = JSON.parse(atob(token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))) as { user_id?: unknown };
    return typeof payload.user_id === 'string' ? payload.user_id : '';
  } catch {
    return '';
  }
}

export async function connectLayout(config: LayoutConfig, options: ConnectOptions = {}): Promise<LayoutCall> {
  const call = new Call({ ...config }, options.playAudio !== false);
  await call.start();
  return call;
}
