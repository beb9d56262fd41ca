/** Prometheus metrics (`GET /metrics`) as a plugin of the HTTP edge. */
import type { FastifyInstance } from 'fastify';

export interface MetricsOptions {
  /** The text exposition (the egress's renderMetrics); absent: an empty exposition. */
  render?: () => string | Promise<string>;
}

export async function metricsPlugin(app: FastifyInstance, opts: MetricsOptions): Promise<void> {
  app.get('/metrics', { config: { operation: 'GetMetrics' } }, async (_req, reply) => {
    reply.header('content-type', 'text/plain; version=0.0.4; charset=utf-8');
    return (await opts.render?.()) ?? '';
  });
}
