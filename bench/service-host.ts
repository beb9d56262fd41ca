/**
 * The service under measurement, in its own process: the real server assembly (store, API, egress
 * engine) on 127.0.0.1 with a fresh data directory, plus the media plane (WHIP ingest and the
 * call frame source) when those are available in this tree. The parent measures this process and
 * its children (the ffmpeg encoders and decoders) through /proc.
 *
 * Environment: CALLCAST_API_KEY, CALLCAST_API_SECRET (required), CALLCAST_DATA_DIR (required).
 * Prints one line `CALLCAST_BENCH_READY {"url":...,"media":...}` on stdout when listening.
 * Stops on SIGTERM / SIGINT or when stdin closes (the parent went away).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { verifyToken, tokenFromHeader } from '../src/api/auth.js';
import type { Config } from '../src/config.js';
import { EgressEngine } from '../src/egress/engine.js';
import type { FrameSourceFactory } from '../src/egress/frame-source.js';
import { createLogger } from '../src/log.js';
import { CallMedia } from '../src/media/call-media.js';
import { registerWhipRoutes } from '../src/media/whip.js';
import { createServer, type CallcastServer, type ServerContext } from '../src/server.js';

export const READY_MARKER = 'CALLCAST_BENCH_READY';

interface MediaPlane {
  /** Whether publishers' pictures reach the broadcasts (WHIP ingest + call frame source). */
  composited: boolean;
  /** Why not, when not. */
  reason: string | null;
}

/** The call frame source, when the module exists in this tree; else why not. */
async function loadCallFrameSource(media: CallMedia): Promise<{ factory?: FrameSourceFactory; reason?: string }> {
  const file = fileURLToPath(new URL('../src/media/call-frame-source.ts', import.meta.url));
  if (!existsSync(file)) return { reason: 'src/media/call-frame-source.ts (the compositor fed by WHIP participants) is not in this tree yet' };
  const specifier = '../src/media/call-frame-source.js';
  const mod = (await import(specifier)) as Record<string, unknown>;
  const create = mod.createCallFrameSourceFactory;
  if (typeof create !== 'function') return { reason: 'src/media/call-frame-source.ts has no createCallFrameSourceFactory export' };
  try {
    const factory = (create as (m: CallMedia) => FrameSourceFactory)(media);
    if (typeof factory !== 'function') return { reason: 'createCallFrameSourceFactory(media) did not return a frame source factory' };
    return { factory };
  } catch (err) {
    return { reason: `createCallFrameSourceFactory(media) threw: ${(err as Error).message}` };
  }
}

function whipExtension(media: CallMedia) {
  return async (app: FastifyInstance, ctx: ServerContext): Promise<void> => {
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
        return {
          userId: principal.userId,
          roles: await ctx.service.rolesIn(principal, call.cid),
          canSendAudio: caps.includes('send-audio'),
          canSendVideo: caps.includes('send-video'),
        };
      },
    });
  };
}

async function main(): Promise<void> {
  const apiKey = process.env.CALLCAST_API_KEY;
  const apiSecret = process.env.CALLCAST_API_SECRET;
  const dataDir = process.env.CALLCAST_DATA_DIR;
  if (!apiKey || !apiSecret || !dataDir) throw new Error('CALLCAST_API_KEY, CALLCAST_API_SECRET and CALLCAST_DATA_DIR are required');
  const config: Config = { port: 0, host: '127.0.0.1', apiKey, apiSecret, dataDir, logLevel: 'error' };
  const log = createLogger('error', pino.destination(2));

  const media = new CallMedia({ ice: { host: '127.0.0.1' } });
  const source = await loadCallFrameSource(media);
  const plane: MediaPlane = source.factory
    ? { composited: true, reason: null }
    : { composited: false, reason: source.reason ?? 'unknown' };

  let server: CallcastServer;
  const engine = (listener: ConstructorParameters<typeof EgressEngine>[0]['listener']) =>
    new EgressEngine({ listener, log, ...(source.factory ? { frameSourceFactory: source.factory } : {}) });
  try {
    server = await createServer({ config, log, engine, extensions: [whipExtension(media)] });
  } catch (err) {
    // The server assembly may mount the WHIP routes itself by now: use its own media plane then.
    if (!/already|duplicated|declared/i.test((err as Error).message)) throw err;
    server = await createServer({ config, log });
    plane.composited = true;
    plane.reason = null;
  }

  process.stdout.write(`${READY_MARKER} ${JSON.stringify({ url: server.url, pid: process.pid, media: plane })}\n`);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    const t = setTimeout(() => process.exit(1), 10_000);
    t.unref();
    await server.close().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  process.stdin.on('end', () => void stop());
  process.stdin.on('close', () => void stop());
  process.stdin.resume();
}

main().catch((err: unknown) => {
  process.stderr.write(`service host failed: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
