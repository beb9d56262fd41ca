/**
 * Assembles the service: store, event bus, calls service, broadcast engine, REST API, WebSocket,
 * webhooks. `createServer` listens and returns a handle whose `close()` stops everything.
 */
import { join } from 'node:path';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { checkApiKey, tokenFromHeader, verifyToken } from './api/auth.js';
import { StoreConnectAuthority } from './api/connect-authority.js';
import { fastifyHttpOptions, installHttpConventions } from './api/http.js';
import { registerApi } from './api/index.js';
import { seedCallTypes } from './calls/call-types.js';
import { CallService } from './calls/service.js';
import { resolveCredentials, type Config } from './config.js';
import type { BroadcastEngine, EgressListener } from './egress/contract.js';
import { InProcessEventBus } from './events/bus.js';
import { registerConnectRoutes } from './events/connect.js';
import type { EventBus, WebhookTarget, WireEvent } from './events/contract.js';
import { WebhookDispatcher } from './events/webhooks.js';
import { createLogger, type ProcessLogger as Logger } from './log.js';
import { openStore, type Store } from './store/store.js';

export interface ServerOptions {
  config: Config;
  /** The broadcast engine, or a factory given the listener; default: the egress engine. */
  engine?: BroadcastEngine | ((listener: EgressListener) => BroadcastEngine);
  /** Default: a pino logger at config.logLevel. */
  log?: Logger;
  /** More routes (e.g. the media plane's WHIP endpoint), registered before the server listens. */
  extensions?: Array<(app: FastifyInstance, ctx: ServerContext) => Promise<void> | void>;
}

/** What an extension gets to work with. */
export interface ServerContext {
  store: Store;
  bus: EventBus;
  service: CallService;
  apiKey: string;
  apiSecret: string;
  log: Logger;
  /** The base URL clients use (known once the server listens; read it per request). */
  publicUrl(): string;
  /**
   * Authenticates request credentials (api_key query value, Authorization header) and checks that
   * the caller may read the call. Throws ApiError (status/statusCode 401, 403 or 404).
   */
  authorizeCallRead(callCid: string, auth: { apiKey: string | undefined; authorization: string | undefined }): Promise<void>;
}

export interface CallcastServer {
  app: FastifyInstance;
  /** Where the server listens, e.g. http://127.0.0.1:3030 (no trailing slash). */
  url: string;
  store: Store;
  bus: EventBus;
  service: CallService;
  engine: BroadcastEngine;
  apiKey: string;
  apiSecret: string;
  /** True when the credentials were generated for development (and should be shown). */
  credentialsGenerated: boolean;
  close(): Promise<void>;
}

export function sqlitePathFor(config: Config): string {
  return join(config.dataDir, 'callcast.sqlite');
}

function hostForUrl(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

async function defaultEngine(listener: EgressListener, log: Logger): Promise<BroadcastEngine> {
  const { EgressEngine } = await import('./egress/engine.js');
  return new EgressEngine({ listener, log, ...(process.env.CALLCAST_FFMPEG ? { ffmpegPath: process.env.CALLCAST_FFMPEG } : {}) });
}

export async function createServer(opts: ServerOptions): Promise<CallcastServer> {
  const { config } = opts;
  const log = opts.log ?? createLogger(config.logLevel);
  const creds = resolveCredentials(config);
  const store = await openStore({ ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}), sqlitePath: sqlitePathFor(config) });
  const cleanups: Array<() => Promise<void>> = [() => store.close()];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) await fn().catch((err: unknown) => log.error({ err: String(err) }, 'shutdown step failed'));
  };
  try {
    await seedCallTypes(store, new Date().toISOString());
    const bus = new InProcessEventBus({ log });
    let publicUrl = config.publicUrl ?? `http://${hostForUrl(config.host)}:${config.port}`;
    const service = new CallService({ store, bus, log, publicUrl: () => publicUrl });
    const engine =
      typeof opts.engine === 'function' ? opts.engine(service) : (opts.engine ?? (await defaultEngine(service, log)));
    service.attachEngine(engine);
    cleanups.push(async () => {
      service.beginShutdown();
      await engine.close();
    });

    const app: FastifyInstance = Fastify({
      loggerInstance: log as FastifyBaseLogger,
      ...fastifyHttpOptions,
      logController: new LogController({ disableRequestLogging: config.logLevel !== 'debug' && config.logLevel !== 'trace' }),
    });
    cleanups.push(() => app.close());
    installHttpConventions(app);
    await registerApi(app, {
      store,
      service,
      apiKey: creds.apiKey,
      apiSecret: creds.apiSecret,
      publish: (event) => bus.publish({ ...event, created_at: new Date().toISOString() } as WireEvent),
    });
    const authority = new StoreConnectAuthority({ store, service, apiSecret: creds.apiSecret });
    await registerConnectRoutes(app, { bus, authority, apiKey: creds.apiKey, log });

    const ctx: ServerContext = {
      store,
      bus,
      service,
      apiKey: creds.apiKey,
      apiSecret: creds.apiSecret,
      log,
      publicUrl: () => publicUrl,
      authorizeCallRead: async (callCid, auth) => {
        checkApiKey(auth.apiKey, creds.apiKey);
        const principal = await verifyToken(tokenFromHeader(auth.authorization), creds.apiSecret);
        await service.authorizeRead(principal, callCid);
      },
    };
    for (const extend of opts.extensions ?? []) await extend(app, ctx);

    const webhooks = new WebhookDispatcher({
      bus,
      outbox: store.webhookOutbox,
      apiKey: creds.apiKey,
      apiSecret: creds.apiSecret,
      log,
      target: async (): Promise<WebhookTarget | null> => {
        const settings = await store.getAppSettings();
        const url = settings.webhook_url || config.webhookUrl;
        return url ? { url, events: settings.webhook_events } : null;
      },
    });
    webhooks.start();
    cleanups.push(() => webhooks.stop());

    await app.listen({ host: config.host, port: config.port });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const url = `http://${hostForUrl(config.host)}:${port}`;
    if (!config.publicUrl) publicUrl = url;

    const resumed = await service.resumeBroadcasts();
    if (resumed > 0) log.info({ resumed }, 'active broadcasts resumed');

    let closing: Promise<void> | null = null;
    return {
      app,
      url,
      store,
      bus,
      service,
      engine,
      apiKey: creds.apiKey,
      apiSecret: creds.apiSecret,
      credentialsGenerated: creds.generated,
      close: () => (closing ??= cleanup()),
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
