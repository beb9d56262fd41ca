/**
 * Requests that need a call's owner, on whichever node they arrive:
 * - broadcast start, stop, stop-all, layout change and details, HLS and recording start and stop,
 *   going live and stopping, and updating, ending or deleting the call are forwarded to the owner
 *   over internal HTTP (the same request, to the URL the owner registered) and its answer is
 *   returned as is; a start of a call nobody owns places the call first. A bounded wait, then 503.
 * - WHIP and WHEP POSTs are answered `307` with the owner's URL (RFC 9725 lets WHIP and WHEP
 *   clients follow redirects); a WHIP publish places a call nobody owns. A browser (a request
 *   with an Origin) cannot follow a redirect to another origin with its token, so its offer is
 *   proxied instead, and so are the PATCH (trickle) and DELETE of a session resource that reach a
 *   node other than the owner. Media then flows between the client and the owner directly (the
 *   answer carries the owner's candidates).
 * HTTP rather than a Redis request/reply: the owner runs its own authentication, validation and
 * error answers on the very request, nothing of it has to be re-encoded, and a forwarded request
 * needs no Redis once the owner is known.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, ErrorCodes } from '../wire/errors.js';
import type { ClusterNode, Route } from './node.js';

/** Set on a forwarded request: how many nodes it went through (a request is forwarded at most twice). */
export const FORWARDED_HEADER = 'x-callcast-forwarded';
/**
 * Proves a forwarded request comes from a node: an HMAC (the app's secret, which every node
 * holds) over the hop count, method and URL. A request without a valid one counts as not
 * forwarded, so a client cannot make a node skip placement by setting the hop header.
 */
export const FORWARD_AUTH_HEADER = 'x-callcast-forward-auth';
const MAX_HOPS = 2;

/** The forward proof of a request (pure). */
export function forwardProof(secret: string, hops: number, method: string, url: string): string {
  return createHmac('sha256', secret).update(`callcast-forward\n${hops}\n${method}\n${url}`).digest('base64url');
}

/** The hop count of a request, 0 unless its proof is valid (pure). */
export function forwardedHops(secret: string, method: string, url: string, hopHeader: unknown, proofHeader: unknown): number {
  const hops = Number(hopHeader ?? 0);
  if (!Number.isInteger(hops) || hops <= 0 || typeof proofHeader !== 'string') return 0;
  const want = Buffer.from(forwardProof(secret, hops, method, url));
  const got = Buffer.from(proofHeader);
  return want.length === got.length && timingSafeEqual(want, got) ? hops : 0;
}

/**
 * Operations served by the call's owner, and whether they place a call nobody owns: everything
 * that starts, stops or changes what the owner's media plane produces. HLS and recordings compose
 * the owner's participants, so they run there; ending, deleting or updating a call (its settings
 * drive the layouts of running broadcasts) and going live or stopping it act on the owner's
 * encodes, and only the owner may write a call's broadcast state (its lease's fencing token).
 */
const FORWARDED: Readonly<Record<string, { place: boolean }>> = {
  StartRTMPBroadcasts: { place: true },
  StopAllRTMPBroadcasts: { place: false },
  StopRTMPBroadcast: { place: false },
  UpdateRTMPBroadcast: { place: false },
  GetRTMPBroadcast: { place: false },
  StartHLSBroadcasting: { place: true },
  StopHLSBroadcasting: { place: false },
  StartRecording: { place: true },
  StopRecording: { place: false },
  GoLive: { place: true },
  StopLive: { place: false },
  UpdateCall: { place: false },
  EndCall: { place: false },
  DeleteCall: { place: false },
};

/**
 * What a request needs of the owner: forwarding, a redirect, or nothing. `fromBrowser`: the
 * request has an Origin (a browser, which cannot follow a cross-origin redirect with its token).
 * Pure over the route's config and URL.
 */
export function ownerNeed(
  method: string,
  operation: string | undefined,
  routeUrl: string | undefined,
  fromBrowser = false,
): { kind: 'forward' | 'redirect'; place: boolean } | null {
  if (operation && FORWARDED[operation]) return { kind: 'forward', place: FORWARDED[operation].place };
  const offer = fromBrowser ? 'forward' : 'redirect';
  if (method === 'POST' && operation === 'WhipPublish') return { kind: offer, place: true };
  if (method === 'POST' && routeUrl?.endsWith('/whep')) return { kind: offer, place: false };
  if ((method === 'PATCH' || method === 'DELETE') && /\/wh[ie]p\/:resourceId$/.test(routeUrl ?? ''))
    return { kind: 'forward', place: false };
  return null;
}

const PASSED_HEADERS = ['authorization', 'stream-auth-type', 'content-type', 'x-stream-client', 'user-agent', 'if-match'];
/** The owner's answer headers passed back (besides CORS, which every node adds alike). */
const RETURNED_HEADERS = ['content-type', 'retry-after', 'location', 'etag', 'accept-patch', 'link'];

export interface RoutingOptions {
  node: ClusterNode;
  /** The app's API secret: signs the requests one node forwards to another. */
  secret: string;
  /** How long a forwarded request may take; default 15 s. */
  forwardTimeoutMs?: number;
}

/** Adds the owner routing to every route registered after it. */
export function installOwnerRouting(app: FastifyInstance, opts: RoutingOptions): void {
  const timeoutMs = opts.forwardTimeoutMs ?? 15_000;
  app.addHook('preHandler', async (req: FastifyRequest, reply: FastifyReply) => {
    const config = req.routeOptions.config as { operation?: string } | undefined;
    const need = ownerNeed(req.method, config?.operation, req.routeOptions.url, typeof req.headers.origin === 'string');
    if (!need) return;
    const params = req.params as { type?: unknown; id?: unknown };
    if (typeof params.type !== 'string' || typeof params.id !== 'string') return;
    const cid = `${params.type}:${params.id}`;
    const hops = forwardedHops(opts.secret, req.method, req.url, req.headers[FORWARDED_HEADER], req.headers[FORWARD_AUTH_HEADER]);
    const route: Route = await opts.node.route(cid, { place: need.place, here: hops > 0 });
    if (route.local) return;
    const target = new URL(req.url, route.node.url).toString();
    if (need.kind === 'redirect') {
      return reply.code(307).header('location', target).header('cache-control', 'no-store').send();
    }
    if (hops >= MAX_HOPS) {
      throw new ApiError(503, ErrorCodes.internal, `call ${cid} is moving between nodes; try again`, 1);
    }
    const headers: Record<string, string> = {
      [FORWARDED_HEADER]: String(hops + 1),
      [FORWARD_AUTH_HEADER]: forwardProof(opts.secret, hops + 1, req.method, req.url),
    };
    for (const h of PASSED_HEADERS) {
      const v = req.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD' && req.headers['content-type'] !== undefined;
    let res: Response;
    try {
      res = await fetch(target, {
        method: req.method,
        headers,
        ...(hasBody ? { body: typeof req.body === 'string' ? req.body : JSON.stringify(req.body ?? {}) } : {}),
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch {
      throw new ApiError(
        503,
        ErrorCodes.internal,
        `call ${cid} is served by node ${route.node.id}, which did not answer within ${Math.round(timeoutMs / 1000)} s; try again`,
        5,
      );
    }
    const body = await res.text();
    reply.code(res.status);
    for (const h of RETURNED_HEADERS) {
      const v = res.headers.get(h);
      if (v) reply.header(h, v);
    }
    reply.header('x-callcast-node', route.node.id);
    return reply.send(body);
  });
}
