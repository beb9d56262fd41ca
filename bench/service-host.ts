/**
 * The service under measurement, in its own process: the complete service as `callcast serve`
 * runs it (src/app.ts: API, egress engine drawing each broadcast from the call's media through
 * the compositor, WHIP ingest, web pages, metrics) on 127.0.0.1 with a fresh data directory. The
 * parent measures this process and its children (ffmpeg encoders and decoders) through /proc.
 *
 * Environment: CALLCAST_API_KEY, CALLCAST_API_SECRET, CALLCAST_DATA_DIR (all required).
 * Prints one line `CALLCAST_BENCH_READY {"url":...,"media":...}` on stdout when listening.
 * Stops on SIGTERM / SIGINT or when stdin closes (the parent went away).
 */
import pino from 'pino';
import type { Config } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { startCallcast } from '../src/app.js';

export const READY_MARKER = 'CALLCAST_BENCH_READY';

interface MediaPlane {
  /** Whether publishers' pictures reach the broadcasts (WHIP ingest + compositor). */
  composited: boolean;
  /** Why not, when not. */
  reason: string | null;
}

async function main(): Promise<void> {
  const apiKey = process.env.CALLCAST_API_KEY;
  const apiSecret = process.env.CALLCAST_API_SECRET;
  const dataDir = process.env.CALLCAST_DATA_DIR;
  if (!apiKey || !apiSecret || !dataDir) throw new Error('CALLCAST_API_KEY, CALLCAST_API_SECRET and CALLCAST_DATA_DIR are required');
  // The bench's ingests listen on loopback: the destination policy must let the service reach them.
  const config: Config = {
    port: 0,
    host: '127.0.0.1',
    apiKey,
    apiSecret,
    dataDir,
    logLevel: 'error',
    rtmpAllow: process.env.CALLCAST_RTMP_ALLOW ?? '127.0.0.1,::1',
  };
  const log = createLogger('error', pino.destination(2));

  const server = await startCallcast({ config, log });
  const plane: MediaPlane = { composited: true, reason: null };

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
