import type { FastifyRequest } from 'fastify';
import type { CallService } from '../calls/service.js';
import type { Store } from '../store/store.js';
import type { Principal } from './auth.js';
import { notAllowed } from './errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

export interface ApiDeps {
  store: Store;
  service: CallService;
  apiKey: string;
  apiSecret: string;
}

export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new Error('route reached without authentication');
  return request.principal;
}

/** For app-level endpoints that only a server token may use. */
export function requireServer(request: FastifyRequest, what: string): void {
  const p = principalOf(request);
  if (p.kind !== 'server') throw notAllowed(`${what} requires server-side authentication`);
}
