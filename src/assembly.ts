/**
 * The complete service as `callcast serve` runs it: the control plane (createServer) with the
 * media plane (WHIP ingest, decoders, mixer), the egress engine drawing each broadcast from the
 * call's media through the layout engine and the native compositor, the web pages, and
 * Prometheus metrics.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { checkApiKey, tokenFromHeader, verifyToken } from './api/auth.js';
import { badRequest, notAllowed } from './api/errors.js';
import type { Config } from './config.js';
import type { BroadcastEngine } from './egress/contract.js';
import { EgressEngine, type EgressEngineOptions } from './egress/engine.js';
import { startQuality } from './layout/orientation.js';
import { renderMetrics } from './egress/metrics.js';
import { silentLogger, type ProcessLogger as Logger } from './log.js';
import { createCallFrameSourceFactory } from './media/call-frame-source.js';
import { CallMedia } from './media/call-media.js';
import { mediaHostFromEnv } from './media/webrtc.js';
import { registerWhipRoutes } from './media/whip.js';
import { callReaderAuthorizer, whepRoutes } from './http/whep.js';
import { ImageStore } from './render/images.js';
import { createServer, type CallcastServer, type ServerContext } from './server.js';
import { PreviewTap } from './web/preview.js';
import { webExtension } from './web/wiring.js';

export interface CallcastOptions {
  config: Config;
  log?: Logger;
  /** Egress settings for special setups and tests (trusted CA, retry policy, timeouts). */
  egress?: Partial<Omit<EgressEngineOptions, 'listener' | 'log' | 'frameSourceFactory'>>;
  /** Where the built pages are; default the repository's dist/web/pages. */
  webRoot?: string;
}

export interface Callcast extends CallcastServer {
  media: CallMedia;
  /** Last composed frame of each broadcast group (console previews). */
  previews: PreviewTap;
  /** The egress engine behind `engine` (encoder processes, stats of every destination). */
  egress: EgressEngine;
}

/**
 * A call's live session: it starts when the first participant joins and ends when the last one
 * leaves. Call responses carry it as `call.session` (CallSessionResponse).
 */
class LiveSessions {
  private readonly live = new Map<string, { id: string; startedAt: string }>();
  constructor(private readonly media: CallMedia) {}

  joined(callCid: string): string {
    let s = this.live.get(callCid);
    if (!s) this.live.set(callCid, (s = { id: randomUUID(), startedAt: new Date().toISOString() }));
    return s.id;
  }

  /** The session id the participant left (ended with its last participant). */
  left(callCid: string): string | undefined {
    const s = this.live.get(callCid);
    if (s && this.media.sessionParticipants(callCid).length === 0) this.live.delete(callCid);
    return s?.id;
  }

  session(callCid: string): (Record<string, unknown> & { id: string }) | null {
    const s = this.live.get(callCid);
    if (!s) return null;
    const participants = this.media.sessionParticipants(callCid);
    const byRole: Record<string, number> = {};
    for (const p of participants) byRole[p.role] = (byRole[p.role] ?? 0) + 1;
    return {
      id: s.id,
      participants,
      participants_count_by_role: byRole,
      anonymous_participant_count: 0,
      accepted_by: {},
      rejected_by: {},
      missed_by: {},
      started_at: s.startedAt,
    };
  }
}

/** Mounts WHIP publishing and turns the media plane's changes into call events. */
function mediaExtension(media: CallMedia) {
  return async (app: FastifyInstance, ctx: ServerContext): Promise<void> => {
    const now = () => new Date().toISOString();
    const sessions = new LiveSessions(media);
    ctx.service.attachSessions(sessions);
    media.on('participant_joined', ({ callCid, participant }) => {
      const sessionId = sessions.joined(callCid);
      ctx.bus.publish({ type: 'call.session_participant_joined', created_at: now(), call_cid: callCid, session_id: sessionId, participant });
    });
    media.on('participant_left', ({ callCid, participant }) => {
      const sessionId = sessions.left(callCid);
      ctx.bus.publish({ type: 'call.session_participant_left', created_at: now(), call_cid: callCid, session_id: sessionId, participant });
    });
    media.on('speaker_changed', ({ callCid, dominantSessionId, dominantUserId }) =>
      ctx.bus.publish({
        type: 'call.dominant_speaker_changed',
        created_at: now(),
        call_cid: callCid,
        user_session_id: dominantSessionId,
        user_id: dominantUserId,
      }),
    );
    // Who is speaking: published when the set of speakers (or the dominant speaker) changes.
    const lastSpeaking = new Map<string, string>();
    media.on('changed', (callCid: string) => {
      const ps = media.participants(callCid);
      const speaking = ps.filter((p) => p.isSpeaking).map((p) => p.sessionId).sort();
      const dominant = ps.find((p) => p.isDominantSpeaker)?.sessionId ?? null;
      const key = `${speaking.join(',')}|${dominant ?? ''}`;
      if ((lastSpeaking.get(callCid) ?? '|') === key) return;
      if (ps.length === 0) lastSpeaking.delete(callCid);
      else lastSpeaking.set(callCid, key);
      ctx.bus.publish({
        type: 'call.speaking_changed',
        created_at: now(),
        call_cid: callCid,
        speaking_session_ids: speaking,
        dominant_speaker_session_id: dominant,
      });
    });
    // Everyone leaves an ended call.
    const unsubscribe = ctx.bus.subscribe((event) => {
      if (event.type === 'call.ended' && event.call_cid) media.endCall(event.call_cid);
    });
    app.addHook('onClose', async () => {
      unsubscribe();
      await media.close();
    });
    await registerWhipRoutes(app, {
      media,
      log: ctx.log,
      // Session resources are announced with a path-only Location (RFC 9725 allows a relative
      // one), which stays right behind proxies and whatever port the server ends up on.
      publicUrl: '',
      authorize: async (req, type, id) => {
        // WHIP clients (OBS, GStreamer, browsers) send only a bearer token, which is signed with the
        // app's secret; an api_key, when a client adds one, must still be the right one.
        const apiKey = (req.query as Record<string, string | undefined>).api_key;
        if (apiKey !== undefined) checkApiKey(apiKey, ctx.apiKey);
        const principal = await verifyToken(tokenFromHeader(req.headers.authorization), ctx.apiSecret);
        if (principal.kind !== 'user') throw notAllowed('publishing needs a user token (the publisher is a participant)');
        const { call } = await ctx.service.loadCall(type, id);
        if (call.ended_at !== null) throw badRequest(`call ${call.cid} has ended`);
        const callType = await ctx.service.loadCallType(type);
        const caps = await ctx.service.capabilitiesIn(principal, callType, call.cid);
        if (!caps.includes('join-call')) throw notAllowed(`user "${principal.userId}" may not join call ${call.cid} (join-call)`);
        const user = await ctx.store.getUser(principal.userId);
        return {
          userId: principal.userId,
          ...(user?.name ? { name: user.name } : {}),
          ...(user?.image ? { image: user.image } : {}),
          roles: await ctx.service.rolesIn(principal, call.cid),
          canSendAudio: caps.includes('send-audio'),
          canSendVideo: caps.includes('send-video'),
        };
      },
    });
    await app.register(whepRoutes, { media, authorize: callReaderAuthorizer(ctx), log: ctx.log });
  };
}

function metricsExtension(engine: () => EgressEngine | undefined) {
  return (app: FastifyInstance): void => {
    app.get('/metrics', async (_req, reply) => {
      const e = engine();
      reply.header('content-type', 'text/plain; version=0.0.4; charset=utf-8');
      return e ? renderMetrics(e) : '';
    });
  };
}

/**
 * Applies `detect_orientation` when a broadcast starts: the featured participant's published video
 * picks the portrait or landscape variant of the quality, once (as the reference egress does).
 */
function orientingEngine(engine: EgressEngine, media: CallMedia): BroadcastEngine {
  return {
    start: (spec) =>
      engine.start({ ...spec, quality: startQuality(spec.quality, spec.layout.detect_orientation, media.participants(spec.callCid)) }),
    stop: (callCid, name) => engine.stop(callCid, name),
    close: () => engine.close(),
    stats: (callCid) => engine.stats(callCid),
    encoderCount: () => engine.encoderCount(),
  };
}

export async function startCallcast(opts: CallcastOptions): Promise<Callcast> {
  const { config } = opts;
  const log = opts.log;
  const media = new CallMedia({
    ice: mediaHostFromEnv(config.host),
    ...(log ? { log: { debug: (o, m) => log.debug(o, m), info: (o, m) => log.info(o, m), warn: (o, m) => log.warn(o, m) } } : {}),
  });
  const images = new ImageStore(log ? { log } : {});
  const previews = new PreviewTap();
  const frameSourceFactory = previews.wrap(createCallFrameSourceFactory({ media, images }));
  let engine: EgressEngine | undefined;
  try {
    const server = await createServer({
      config,
      ...(log ? { log } : {}),
      engine: (listener) => {
        engine = new EgressEngine({
          ...(process.env.CALLCAST_FFMPEG ? { ffmpegPath: process.env.CALLCAST_FFMPEG } : {}),
          ...opts.egress,
          listener,
          log: log ?? silentLogger,
          frameSourceFactory,
        });
        return orientingEngine(engine, media);
      },
      extensions: [
        mediaExtension(media),
        webExtension({ devTokens: config.devTokens === true, tap: previews, ...(opts.webRoot ? { webRoot: opts.webRoot } : {}) }),
        metricsExtension(() => engine),
      ],
    });
    return Object.assign(server, { media, previews, egress: engine! });
  } catch (err) {
    await media.close();
    throw err;
  }
}
