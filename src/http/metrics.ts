/**
 * Prometheus metrics (`GET /metrics`) as a plugin of the HTTP edge. With a token
 * (CALLCAST_METRICS_TOKEN) a scrape must send `Authorization: Bearer <token>`; others get 401.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { unauthenticated } from '../wire/errors.js';

export interface MetricsOptions {
  /** The text exposition (the egress's renderMetrics); absent: an empty exposition. */
  render?: () => string | Promise<string>;
  /** When set, scrapes must present it as a Bearer token. */
  token?: string;
}

/** Whether the Authorization header carries the bearer token (constant-time compare). */
export function bearerMatches(header: unknown, token: string): boolean {
  if (typeof header !== 'string') return false;
  const m = /^bearer\s+(.+)$/i.exec(header.trim());
  if (!m) return false;
  const given = Buffer.from(m[1]!.trim());
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

export async function metricsPlugin(app: FastifyInstance, opts: MetricsOptions): Promise<void> {
  app.get('/metrics', { config: { operation: 'GetMetrics' } }, async (req, reply) => {
    if (opts.token !== undefined && !bearerMatches(req.headers.authorization, opts.token)) {
      reply.header('www-authenticate', 'Bearer realm="metrics"');
      throw unauthenticated('GET /metrics needs Authorization: Bearer <CALLCAST_METRICS_TOKEN>');
    }
    reply.header('content-type', 'text/plain; version=0.0.4; charset=utf-8');
    return (await opts.render?.()) ?? '';
  });
}
