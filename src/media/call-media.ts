/**
 * The media state of every live call: who publishes, their tracks and decoders, audio levels and
 * speaking flags. WHIP sessions join through `publish`; the frame sources read from here. Its
 * events are `CallMediaEvents`.
 *
 * A screen share is a WHIP session of its own (source `screen_share`) that belongs to its user: it
 * is listed under the user's camera session (`published_tracks` gets `screen_share`) when there is
 * one and as its own entry otherwise; one share per user (a new one replaces the old). Its sound is
 * mixed like a microphone's but takes no part in speaker detection.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { RtpPacket } from 'werift';
import { silentLogger, type Logger } from '../log.js';
import type { LayoutParticipant } from '../layout/participants.js';
import { Forwarder } from './forwarding/forwarder.js';
import { IngestPeer, type IngestTrack, type PeerState } from './ingest-peer.js';
import { PcmTimeline, rmsDbfs } from './mixer.js';
import { inspectOffer, OfferError, planOffer, type OfferPlan } from './sdp.js';
import { SpeakerDetector, type SpeakerOptions } from './speaker.js';
import { AudioTrackDecoder, TrackDecoder } from './track-decoder.js';
import { h264PayloadSize, vp8KeyframeSize, type VideoSize } from './video-size.js';
import type { IceHostConfig } from './webrtc.js';

export interface PublisherIdentity {
  userId: string;
  name?: string;
  image?: string;
  roles: string[];
  canSendAudio: boolean;
  canSendVideo: boolean;
  /** the `screenshare` capability: may publish a screen share (video and the screen's audio) */
  canScreenshare?: boolean;
  /** the call's `limits.max_participants` (users with a camera session), when it has one */
  maxParticipants?: number;
  /** not counted against (nor bound by) the participant limit (the owner or an excluded role) */
  exemptFromLimit?: boolean;
}

/** What a WHIP session publishes: the camera and microphone, or a screen share. */
export type PublishSource = 'camera' | 'screen_share';

/** A published track as `published_tracks` names it. */
export type PublishedTrackType = 'audio' | 'video' | 'screen_share' | 'screen_share_audio';

/** As in `call.session.participants` (Stream's CallParticipantResponse). */
export interface SessionParticipant {
  user_session_id: string;
  user: { id: string; name?: string; image?: string };
  role: string;
  joined_at: string;
  /**
   * the kinds of tracks whose media arrives, in order audio, video, screen_share,
   * screen_share_audio (beyond Stream's model)
   */
  published_tracks: PublishedTrackType[];
}

export interface PublishedTrackInfo {
  kind: 'audio' | 'video';
  codec: string | undefined;
  mid: string | undefined;
  receiving: boolean;
}

interface Participant {
  callCid: string;
  sessionId: string;
  source: PublishSource;
  identity: PublisherIdentity;
  joinedAt: number;
  peer: IngestPeer;
  tracks: IngestTrack[];
  receiving: Set<IngestTrack>;
  video: TrackDecoder | undefined;
  audio: AudioTrackDecoder | undefined;
  pcm: PcmTimeline;
  videoSize: VideoSize | undefined;
  audioLevel: number;
  isSpeaking: boolean;
  isDominantSpeaker: boolean;
  disconnectTimer: NodeJS.Timeout | undefined;
  connectTimer: NodeJS.Timeout | undefined;
  /** Media has flowed: the session is a participant of the call (listed, announced). */
  joined: boolean;
  /** When the last RTP packet arrived (ms, Date.now()). */
  lastMediaAt: number;
}

interface CallState {
  participants: Map<string, Participant>;
  speakers: SpeakerDetector;
  dominant: string | undefined;
  version: number;
}

export interface CallMediaOptions {
  ice?: IceHostConfig;
  log?: Logger;
  speaker?: Partial<SpeakerOptions>;
  /** how long a disconnected publisher may take to come back before it leaves (ms) */
  disconnectGraceMs?: number;
  /** how long a new publisher may take to connect (ICE + DTLS) before it is dropped (ms) */
  connectTimeoutMs?: number;
  /** the ffmpeg executable the track decoders run (default `ffmpeg` on the PATH) */
  ffmpegPath?: string;
  /** a participant whose media stopped this long ago (peer gone without DELETE) leaves (ms) */
  mediaTimeoutMs?: number;
  /** WHIP sessions one user may hold at once, over all calls, connected or not */
  maxSessionsPerUser?: number;
}

export const DEFAULT_MEDIA_TIMEOUT_MS = 5_000;
export const DEFAULT_MAX_SESSIONS_PER_USER = 4;

export interface PublishResult {
  sessionId: string;
  answer: string;
  plan: OfferPlan;
}

/** Why a participant left: a WHIP DELETE ('left' by default), a connection that ended, the call's end. */
export type LeaveReason =
  | 'left'
  | 'connect_timeout'
  | 'media_timeout'
  | 'disconnected'
  | 'connection_failed'
  | 'closed'
  | 'call_ended'
  | (string & {});

export interface ParticipantJoinedEvent {
  callCid: string;
  participant: SessionParticipant;
}
export interface ParticipantLeftEvent {
  callCid: string;
  participant: SessionParticipant;
  reason: LeaveReason;
}
/** A user's screen share started (its video arrives) or stopped. */
export interface ScreenShareEvent {
  callCid: string;
  /** the share's own session (what its frames and forwarding are found by) */
  shareSessionId: string;
  userId: string;
  /** the entry of `call.session.participants` the share is listed under */
  participant: SessionParticipant;
}
export interface SpeakerChangedEvent {
  callCid: string;
  dominantSessionId: string | undefined;
  dominantUserId: string | undefined;
}

/** The events of `CallMedia`. */
export interface CallMediaEvents {
  participant_joined: [event: ParticipantJoinedEvent];
  participant_left: [event: ParticipantLeftEvent];
  screen_share_started: [event: ScreenShareEvent];
  screen_share_stopped: [event: ScreenShareEvent & { reason: LeaveReason }];
  /** the dominant speaker of a call changed (undefined: nobody dominates) */
  speaker_changed: [event: SpeakerChangedEvent];
  /** anything the layout of the call depends on changed */
  changed: [callCid: string];
}

export class CallMedia extends EventEmitter<CallMediaEvents> {
  private readonly calls = new Map<string, CallState>();
  private readonly ice: IceHostConfig;
  private readonly log: Logger;
  private readonly speakerOptions: Partial<SpeakerOptions>;
  private readonly graceMs: number;
  private readonly connectTimeoutMs: number;
  private readonly ffmpegPath: string | undefined;
  private readonly mediaTimeoutMs: number;
  private readonly maxSessionsPerUser: number;
  private readonly timer: NodeJS.Timeout;
  /** Subscriptions (WHEP): every participant's packets forwarded to the subscribers. */
  readonly forwarding: Forwarder;
  private isClosed = false;

  constructor(options: CallMediaOptions = {}) {
    super();
    this.ice = options.ice ?? { host: '127.0.0.1' };
    this.log = options.log ?? silentLogger;
    this.speakerOptions = options.speaker ?? {};
    this.graceMs = options.disconnectGraceMs ?? 10_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 20_000;
    this.ffmpegPath = options.ffmpegPath;
    this.mediaTimeoutMs = options.mediaTimeoutMs ?? DEFAULT_MEDIA_TIMEOUT_MS;
    this.maxSessionsPerUser = options.maxSessionsPerUser ?? DEFAULT_MAX_SESSIONS_PER_USER;
    this.timer = setInterval(() => {
      const now = Date.now();
      this.dropSilent(now);
      this.updateSpeakers(now);
    }, 100);
    this.timer.unref();
    this.forwarding = new Forwarder({
      ice: this.ice,
      log: this.log,
      connectTimeoutMs: this.connectTimeoutMs,
      disconnectGraceMs: this.graceMs,
    });
  }

  /** WHIP sessions the user holds (every call, connected or not). */
  sessionsOf(userId: string): number {
    let n = 0;
    for (const call of this.calls.values()) for (const p of call.participants.values()) if (p.identity.userId === userId) n++;
    return n;
  }

  /**
   * Takes a WHIP offer: validates it against the user's grants, answers it and opens the session;
   * the publisher becomes a participant once its media flows. Throws OfferError for offers that
   * cannot be taken (429 past the user's session limit).
   */
  async publish(callCid: string, identity: PublisherIdentity, offer: string, source: PublishSource = 'camera'): Promise<PublishResult> {
    if (this.isClosed) throw new Error('the media plane is closed');
    if (this.sessionsOf(identity.userId) >= this.maxSessionsPerUser) {
      throw new OfferError(
        429,
        'too_many_sessions',
        `user "${identity.userId}" already holds ${this.maxSessionsPerUser} WHIP sessions (the limit); end one with DELETE first`,
      );
    }
    if (source === 'screen_share' && !identity.canScreenshare) {
      throw new OfferError(403, 'forbidden', `user "${identity.userId}" may not share a screen (screenshare)`);
    }
    if (source === 'camera') this.checkParticipantLimit(callCid, identity);
    // A screen share carries the screen and its sound under the screenshare capability.
    const plan = planOffer(inspectOffer(offer), source === 'screen_share' ? { canSendAudio: true, canSendVideo: true } : identity);
    const peer = await IngestPeer.answer(offer, plan, this.ice);
    const sessionId = randomUUID();
    const call = this.call(callCid);
    const p: Participant = {
      callCid,
      sessionId,
      source,
      identity,
      joinedAt: Date.now(),
      peer,
      tracks: [],
      receiving: new Set(),
      video: undefined,
      audio: undefined,
      pcm: new PcmTimeline(),
      videoSize: undefined,
      audioLevel: -Infinity,
      isSpeaking: false,
      isDominantSpeaker: false,
      disconnectTimer: undefined,
      connectTimer: undefined,
      joined: false,
      lastMediaAt: 0,
    };
    // One screen share per user: a new one replaces the old.
    const replaced = source === 'screen_share' ? this.shareOf(call, identity.userId) : undefined;
    call.participants.set(sessionId, p);
    if (replaced) this.leave(callCid, replaced.sessionId, 'replaced');
    for (const t of peer.tracks) this.onTrack(p, t);
    peer.on('track', (t) => this.onTrack(p, t));
    peer.on('rtp', (t, bytes, packet) => this.onRtp(p, t, bytes, packet));
    peer.on('state', (state) => this.onPeerState(p, state));
    // A publisher that never completes ICE and DTLS, or never sends media, is not left waiting.
    p.connectTimer = setTimeout(() => {
      if (peer.connectionState !== 'connected' || !p.joined) this.leave(callCid, sessionId, 'connect_timeout');
    }, this.connectTimeoutMs);
    p.connectTimer.unref();
    if (source === 'camera') {
      this.log.info(
        { callCid, sessionId, userId: identity.userId, accepted: plan.accepted.map((s) => s.kind) },
        'publisher session opened',
      );
    } else {
      this.touch(callCid);
      this.log.info({ callCid, sessionId, userId: identity.userId, accepted: plan.accepted.map((s) => s.kind) }, 'screen share published');
    }
    return { sessionId, answer: peer.answer, plan };
  }

  /**
   * `limits.max_participants`: a user who is not in the call yet is refused (403) when as many
   * users as the limit already hold a camera session in it (connecting or joined). A screen share
   * is not a participant; a user already in (a second camera, a reconnect) is not refused; exempt
   * users neither count nor are refused.
   */
  private checkParticipantLimit(callCid: string, identity: PublisherIdentity): void {
    const max = identity.maxParticipants;
    if (max === undefined || identity.exemptFromLimit) return;
    const users = new Set<string>();
    for (const p of this.calls.get(callCid)?.participants.values() ?? []) {
      if (p.source === 'camera' && !p.identity.exemptFromLimit) users.add(p.identity.userId);
    }
    if (users.has(identity.userId) || users.size < max) return;
    this.log.info({ callCid, userId: identity.userId, maxParticipants: max }, 'publisher refused: the call is full');
    throw new OfferError(
      403,
      'call_full',
      `call ${callCid} is full: it has ${users.size} participants and its limit is ${max} (settings.limits.max_participants)`,
    );
  }

  /** Whether the session exists in the call. */
  has(callCid: string, sessionId: string): boolean {
    return this.calls.get(callCid)?.participants.has(sessionId) ?? false;
  }

  /**
   * The participants as the layout engine sees them: every camera session with its user's screen
   * share, and a share whose user has no camera session as a participant of its own (`shareOnly`).
   */
  participants(callCid: string): LayoutParticipant[] {
    const call = this.calls.get(callCid);
    if (!call) return [];
    const out: LayoutParticipant[] = [];
    for (const p of call.participants.values()) {
      if (!p.joined) continue;
      if (p.source === 'camera') {
        const share = this.shareOf(call, p.identity.userId);
        const listed = share && this.cameraOf(call, p.identity.userId) === p;
        out.push({ ...this.layoutParticipant(p), ...(listed ? { screenShare: shareView(share) } : {}) });
      } else if (!this.cameraOf(call, p.identity.userId)) {
        out.push({
          ...this.layoutParticipant(p),
          hasVideo: false,
          hasAudio: false,
          isSpeaking: false,
          isDominantSpeaker: false,
          shareOnly: true,
          screenShare: shareView(p),
        });
      }
    }
    return out;
  }

  /** The session of a screen share a listed participant (`user_session_id`) publishes, if any. */
  screenShareSession(callCid: string, sessionId: string): string | undefined {
    const call = this.calls.get(callCid);
    const p = call?.participants.get(sessionId);
    if (!call || !p) return undefined;
    if (p.source === 'screen_share') return p.sessionId;
    return this.cameraOf(call, p.identity.userId) === p ? this.shareOf(call, p.identity.userId)?.sessionId : undefined;
  }

  private layoutParticipant(p: Participant): LayoutParticipant {
    return {
      sessionId: p.sessionId,
      userId: p.identity.userId,
      ...(p.identity.name ? { name: p.identity.name } : {}),
      ...(p.identity.image ? { image: p.identity.image } : {}),
      roles: [...p.identity.roles],
      hasVideo: p.tracks.some((t) => t.kind === 'video'),
      hasAudio: p.tracks.some((t) => t.kind === 'audio'),
      isSpeaking: p.isSpeaking,
      isDominantSpeaker: p.isDominantSpeaker,
      joinedAt: p.joinedAt,
      ...(p.videoSize ? { videoSize: { ...p.videoSize } } : {}),
    };
  }

  /** For `call.session.participants`: camera sessions (with their user's share), and shares of users without one. */
  sessionParticipants(callCid: string): SessionParticipant[] {
    const call = this.calls.get(callCid);
    if (!call) return [];
    return [...call.participants.values()]
      .filter((p) => p.joined && (p.source === 'camera' ? true : !this.cameraOf(call, p.identity.userId)))
      .map((p) => this.listed(call, p));
  }

  /** The user's first camera session (the one its share is listed under). */
  private cameraOf(call: CallState, userId: string): Participant | undefined {
    for (const p of call.participants.values()) if (p.source === 'camera' && p.identity.userId === userId) return p;
    return undefined;
  }

  private shareOf(call: CallState, userId: string): Participant | undefined {
    for (const p of call.participants.values()) if (p.source === 'screen_share' && p.identity.userId === userId) return p;
    return undefined;
  }

  /** The `call.session.participants` entry of a session: its own tracks, plus its user's share under the camera. */
  private listed(call: CallState, p: Participant): SessionParticipant {
    const own = toSessionParticipant(p);
    if (p.source === 'screen_share') return own;
    const share = this.cameraOf(call, p.identity.userId) === p ? this.shareOf(call, p.identity.userId) : undefined;
    if (!share) return own;
    return { ...own, published_tracks: [...own.published_tracks, ...toSessionParticipant(share).published_tracks] };
  }

  /** The entry a share is listed under (its user's camera session, or itself). */
  private shareListing(call: CallState, share: Participant): SessionParticipant {
    const camera = this.cameraOf(call, share.identity.userId);
    return this.listed(call, camera ?? share);
  }

  /** Trickle ICE: remote candidates for a session (see IngestPeer.addCandidates); -1 if none usable. */
  async addRemoteCandidates(callCid: string, sessionId: string, fragment: string): Promise<number> {
    const p = this.calls.get(callCid)?.participants.get(sessionId);
    return p ? p.peer.addCandidates(fragment) : -1;
  }

  /** Published tracks of a session (for diagnostics and tests). */
  tracks(callCid: string, sessionId: string): PublishedTrackInfo[] {
    const p = this.calls.get(callCid)?.participants.get(sessionId);
    return p ? p.tracks.map((t) => ({ kind: t.kind, codec: t.codec?.name, mid: t.mid, receiving: p.receiving.has(t) })) : [];
  }

  /** Audio level (dBFS, smoothed) of a session. */
  audioLevel(callCid: string, sessionId: string): number | undefined {
    return this.calls.get(callCid)?.participants.get(sessionId)?.audioLevel;
  }

  /** The video decoder of a session, once its video track delivers packets. */
  videoDecoder(callCid: string, sessionId: string): TrackDecoder | undefined {
    return this.calls.get(callCid)?.participants.get(sessionId)?.video;
  }

  /** Every participant's audio queue: the broadcast hears everyone, shown or not. */
  audioTimelines(callCid: string): Map<string, PcmTimeline> {
    const call = this.calls.get(callCid);
    const out = new Map<string, PcmTimeline>();
    if (!call) return out;
    for (const p of call.participants.values()) if (p.audio) out.set(p.sessionId, p.pcm);
    return out;
  }

  /** Changes whenever something the layout depends on changes (cheap change detection). */
  version(callCid: string): number {
    return this.calls.get(callCid)?.version ?? 0;
  }

  /** Removes a participant (WHIP DELETE, disconnect). Returns whether it was there. */
  leave(callCid: string, sessionId: string, reason: LeaveReason = 'left'): boolean {
    const call = this.calls.get(callCid);
    const p = call?.participants.get(sessionId);
    if (!call || !p) return false;
    const sharedVideo = p.source === 'screen_share' && [...p.receiving].some((t) => t.kind === 'video');
    call.participants.delete(sessionId);
    if (p.disconnectTimer) clearTimeout(p.disconnectTimer);
    if (p.connectTimer) clearTimeout(p.connectTimer);
    call.speakers.remove(sessionId);
    if (call.dominant === sessionId) call.dominant = undefined;
    this.forwarding.removePublisher(callCid, sessionId, reason);
    void p.peer.close();
    void p.video?.close();
    void p.audio?.close();
    if (p.source === 'camera' && !p.joined) {
      this.log.info({ callCid, sessionId, userId: p.identity.userId, reason }, 'publisher session closed before any media');
    } else if (p.source === 'camera') {
      this.log.info({ callCid, sessionId, userId: p.identity.userId, reason }, 'participant left');
      this.emit('participant_left', { callCid, participant: toSessionParticipant(p), reason });
    } else {
      this.log.info({ callCid, sessionId, userId: p.identity.userId, reason }, 'screen share stopped');
      if (sharedVideo) {
        const camera = this.cameraOf(call, p.identity.userId);
        this.emit('screen_share_stopped', {
          callCid,
          shareSessionId: sessionId,
          userId: p.identity.userId,
          participant: camera ? this.listed(call, camera) : toSessionParticipant(p),
          reason,
        });
      }
    }
    if (call.participants.size === 0) this.calls.delete(callCid);
    else this.touch(callCid);
    this.emit('changed', callCid);
    return true;
  }

  /** Drops everyone from the call (call ended). */
  endCall(callCid: string): void {
    const call = this.calls.get(callCid);
    if (!call) return;
    for (const sessionId of [...call.participants.keys()]) this.leave(callCid, sessionId, 'call_ended');
  }

  /** Whether `close` was called. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Drops every participant of every call and stops the timers. Idempotent. */
  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    clearInterval(this.timer);
    const closing: Promise<unknown>[] = [this.forwarding.close()];
    for (const [callCid, call] of [...this.calls]) {
      for (const p of call.participants.values())
        closing.push(p.peer.close(), p.video?.close() ?? Promise.resolve(), p.audio?.close() ?? Promise.resolve());
      this.endCall(callCid);
    }
    await Promise.allSettled(closing);
  }

  private call(callCid: string): CallState {
    let c = this.calls.get(callCid);
    if (!c) {
      c = { participants: new Map(), speakers: new SpeakerDetector(this.speakerOptions), dominant: undefined, version: 0 };
      this.calls.set(callCid, c);
    }
    return c;
  }

  private touch(callCid: string): void {
    const c = this.calls.get(callCid);
    if (c) c.version += 1;
    this.emit('changed', callCid);
  }

  private live(p: Participant): boolean {
    return this.calls.get(p.callCid)?.participants.get(p.sessionId) === p;
  }

  private onTrack(p: Participant, t: IngestTrack): void {
    if (!this.live(p) || p.tracks.includes(t)) return;
    p.tracks.push(t);
    this.forwarding.addTrack(p.callCid, p.sessionId, t, {
      kind: t.kind,
      codecs: () => (t.codec ? [t.codec] : t.negotiated),
      requestKeyframe: () => p.peer.requestKeyframe(t),
      requestRetransmission: (seqs) => p.peer.requestRetransmission(t, seqs),
    });
    this.touch(p.callCid);
  }

  private onRtp(p: Participant, t: IngestTrack, bytes: Buffer, packet: RtpPacket): void {
    if (!this.live(p) || !t.codec) return;
    p.lastMediaAt = Date.now();
    if (!p.joined) {
      p.joined = true;
      this.touch(p.callCid);
      const call = this.calls.get(p.callCid);
      if (p.source === 'camera' && call) {
        this.log.info({ callCid: p.callCid, sessionId: p.sessionId, userId: p.identity.userId }, 'participant joined');
        this.emit('participant_joined', { callCid: p.callCid, participant: this.listed(call, p) });
      }
    }
    const payload = packet.payload;
    if (!p.receiving.has(t)) {
      p.receiving.add(t);
      this.startDecoder(p, t);
      this.touch(p.callCid);
      const call = this.calls.get(p.callCid);
      if (call && p.source === 'screen_share' && t.kind === 'video') {
        this.emit('screen_share_started', {
          callCid: p.callCid,
          shareSessionId: p.sessionId,
          userId: p.identity.userId,
          participant: this.shareListing(call, p),
        });
      }
    }
    if (t.kind === 'video') {
      const name = t.codec.name.toLowerCase();
      const size = name === 'vp8' ? vp8KeyframeSize(payload) : name === 'h264' ? h264PayloadSize(payload) : null;
      if (size && (size.width !== p.videoSize?.width || size.height !== p.videoSize?.height)) {
        p.videoSize = size;
        this.touch(p.callCid);
      }
      p.video?.feed(bytes, size !== null);
    } else {
      p.audio?.feed(bytes);
    }
    this.forwarding.forward(p.callCid, p.sessionId, t, packet, t.codec);
  }

  private startDecoder(p: Participant, t: IngestTrack): void {
    const label = `${p.callCid}/${p.sessionId}/${t.kind}`;
    if (t.kind === 'video' && !p.video) {
      p.video = new TrackDecoder({
        codec: t.codec!,
        requestKeyframe: () => this.forwarding.requestKeyframe(p.callCid, p.sessionId, t),
        log: this.log,
        label,
        ...(this.ffmpegPath ? { ffmpegPath: this.ffmpegPath } : {}),
      });
      p.video.on('stall', (info) => this.log.warn({ track: label, ...info }, 'video track stalled'));
    } else if (t.kind === 'audio' && !p.audio) {
      p.audio = new AudioTrackDecoder({
        codec: t.codec!,
        log: this.log,
        label,
        ...(this.ffmpegPath ? { ffmpegPath: this.ffmpegPath } : {}),
        onPcm: (pcm) => {
          if (!this.live(p)) return;
          p.pcm.write(pcm);
          if (p.source === 'camera') this.calls.get(p.callCid)?.speakers.observe(p.sessionId, rmsDbfs(pcm), Date.now());
        },
      });
    }
  }

  private onPeerState(p: Participant, state: PeerState): void {
    if (!this.live(p)) return;
    if (state === 'connected') {
      if (p.disconnectTimer) clearTimeout(p.disconnectTimer);
      p.disconnectTimer = undefined;
    } else if (state === 'disconnected') {
      if (!p.disconnectTimer) {
        p.disconnectTimer = setTimeout(() => this.leave(p.callCid, p.sessionId, 'disconnected'), this.graceMs);
        p.disconnectTimer.unref();
      }
    } else if (state === 'failed' || state === 'closed') {
      this.leave(p.callCid, p.sessionId, state === 'failed' ? 'connection_failed' : 'closed');
    }
  }

  /** A participant whose media stopped (a peer gone without DELETE) leaves. */
  private dropSilent(now: number): void {
    const silent: Participant[] = [];
    for (const call of this.calls.values()) {
      for (const p of call.participants.values()) if (p.joined && now - p.lastMediaAt > this.mediaTimeoutMs) silent.push(p);
    }
    for (const p of silent) this.leave(p.callCid, p.sessionId, 'media_timeout');
  }

  private updateSpeakers(now: number): void {
    for (const [callCid, call] of this.calls) {
      const { speaking, dominant } = call.speakers.update(now);
      let changed = false;
      for (const p of call.participants.values()) {
        const isSpeaking = speaking.has(p.sessionId);
        const isDominant = dominant === p.sessionId;
        p.audioLevel = call.speakers.level(p.sessionId) ?? -Infinity;
        if (isSpeaking !== p.isSpeaking || isDominant !== p.isDominantSpeaker) changed = true;
        p.isSpeaking = isSpeaking;
        p.isDominantSpeaker = isDominant;
      }
      if (dominant !== call.dominant) {
        call.dominant = dominant;
        const d = dominant ? call.participants.get(dominant) : undefined;
        this.emit('speaker_changed', { callCid, dominantSessionId: dominant, dominantUserId: d?.identity.userId });
      }
      if (changed) this.touch(callCid);
    }
  }
}

function shareView(p: Participant): NonNullable<LayoutParticipant['screenShare']> {
  return {
    sessionId: p.sessionId,
    hasVideo: p.tracks.some((t) => t.kind === 'video'),
    startedAt: p.joinedAt,
    ...(p.videoSize ? { videoSize: { ...p.videoSize } } : {}),
  };
}

function toSessionParticipant(p: Participant): SessionParticipant {
  return {
    user_session_id: p.sessionId,
    user: {
      id: p.identity.userId,
      ...(p.identity.name ? { name: p.identity.name } : {}),
      ...(p.identity.image ? { image: p.identity.image } : {}),
    },
    role: p.identity.roles[0] ?? 'user',
    joined_at: new Date(p.joinedAt).toISOString(),
    published_tracks: (p.source === 'camera' ? (['audio', 'video'] as const) : (['video', 'audio'] as const))
      .filter((kind) => [...p.receiving].some((t) => t.kind === kind))
      .map((kind): PublishedTrackType => (p.source === 'camera' ? kind : kind === 'video' ? 'screen_share' : 'screen_share_audio')),
  };
}
