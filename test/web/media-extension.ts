/**
 * The media plane mounted on a test server the way the server assembly is expected to mount it:
 * WHIP routes over a CallMedia, publishers authorized by their user token (join-call, send-audio,
 * send-video), and the media's participant and speaker changes published as call events.
 */
import { verifyToken, tokenFromHeader } from '../../src/api/auth.js';
import type { FrameSourceFactory } from '../../src/egress/frame-source.js';
import { createCallFrameSourceFactory } from '../../src/media/call-frame-source.js';
import { CallMedia } from '../../src/media/call-media.js';
import { ImageStore } from '../../src/render/images.js';
import { registerWhipRoutes } from '../../src/media/whip.js';
import type { ServerContext } from '../../src/server.js';
import type { FastifyInstance } from 'fastify';

export interface MediaExtension {
  media: CallMedia;
  /** The broadcast picture and sound of the calls' participants, for the egress engine. */
  frameSourceFactory: FrameSourceFactory;
  extension: (app: FastifyInstance, ctx: ServerContext) => Promise<void>;
}

export function mediaExtension(): MediaExtension {
  const media = new CallMedia({ ice: { host: '127.0.0.1' } });
  const frameSourceFactory = createCallFrameSourceFactory({ media, images: new ImageStore() });
  const extension = async (app: FastifyInstance, ctx: ServerContext): Promise<void> => {
    const now = () => new Date().toISOString();
    media.on('participant_joined', ({ callCid, participant }) =>
      ctx.bus.publish({ type: 'call.session_participant_joined', created_at: now(), call_cid: callCid, participant }),
    );
    media.on('participant_left', ({ callCid, participant }) =>
      ctx.bus.publish({ type: 'call.session_participant_left', created_at: now(), call_cid: callCid, participant }),
    );
    media.on('speaker_changed', ({ callCid, dominantSessionId, dominantUserId }) =>
      ctx.bus.publish({ type: 'call.dominant_speaker_changed', created_at: now(), call_cid: callCid, user_session_id: dominantSessionId, user_id: dominantUserId }),
    );
    // Who is speaking: published when the set (or the dominant speaker) changes.
    const lastSpeaking = new Map<string, string>();
    media.on('changed', (callCid: string) => {
      const ps = media.participants(callCid);
      const speaking = ps.filter((p) => p.isSpeaking).map((p) => p.sessionId).sort();
      const dominant = ps.find((p) => p.isDominantSpeaker)?.sessionId ?? null;
      const key = `${speaking.join(',')}|${dominant ?? ''}`;
      if ((lastSpeaking.get(callCid) ?? '|') === key) return;
      lastSpeaking.set(callCid, key);
      ctx.bus.publish({ type: 'call.speaking_changed', created_at: now(), call_cid: callCid, speaking_session_ids: speaking, dominant_speaker_session_id: dominant });
    });
    app.addHook('onClose', async () => media.close());
    await registerWhipRoutes(app, {
      media,
      log: ctx.log,
      publicUrl: ctx.publicUrl(),
      authorize: async (req, type, id) => {
        const principal = await verifyToken(tokenFromHeader(req.headers.authorization), ctx.apiSecret);
        if (principal.kind !== 'user') throw Object.assign(new Error('a publisher needs a user token'), { status: 403, code: 17 });
        const { call } = await ctx.service.loadCall(type, id);
        const callType = await ctx.service.loadCallType(type);
        const caps = await ctx.service.capabilitiesIn(principal, callType, call.cid);
        if (!caps.includes('join-call')) throw Object.assign(new Error('not allowed to join'), { status: 403, code: 17 });
        const user = await ctx.store.getUser(principal.userId);
        return {
          userId: principal.userId,
          ...(user?.name ? { name: user.name } : {}),
          roles: await ctx.service.rolesIn(principal, call.cid),
          canSendAudio: caps.includes('send-audio'),
          canSendVideo: caps.includes('send-video'),
        };
      },
    });
  };
  return { media, frameSourceFactory, extension };
}
