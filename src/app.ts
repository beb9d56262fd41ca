/**
 * The composition root: the complete service as `callcast serve` runs it. It builds, in order and
 * each with what it needs at construction:
 *
 *   store -> bus -> media plane (CallMedia, images, preview tap) -> Access -> LiveSessions
 *     -> BroadcastState (which builds the broadcast engine with itself as the engine's listener)
 *     -> CallService, UserService, CallTypeService -> webhooks
 *     -> the HTTP edge and its plugins (REST, WHIP, connect WebSocket, pages, metrics)
 *
 * then listens, and resumes the broadcasts the store holds as active. Domain rules live in the
 * units (src/calls, src/media, src/egress); this file only wires them. docs/architecture.md has
 * the picture.
 */
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Access } from './calls/access.js';
import { BroadcastState, type EngineFactory } from './calls/broadcasts.js';
import { CallDeletion, type CallDeletionHook } from './calls/call-deletion.js';
import { CallLimits } from './calls/call-limits.js';
import { CallMembers } from './calls/call-members.js';
import { CallTypeService, seedCallTypes } from './calls/call-types.js';
import type { OutputNodes } from './calls/output-nodes.js';
import { CallService } from './calls/calls.js';
import { HlsState } from './calls/hls.js';
import { RecordingState } from './calls/recordings.js';
import { inactivityTimeoutMs, LiveSessions } from './calls/live-sessions.js';
import { effectiveSettings } from './calls/settings.js';
import { TaskLog } from './calls/tasks.js';
import { UserDeletion } from './calls/user-deletion.js';
import { UserService } from './calls/users.js';
import { Cluster } from './cluster/index.js';
import { DEFAULT_LIMITS, mediaAddress, resolveCredentials, type Config } from './config.js';
import type { BroadcastEngine } from './egress/contract.js';
import { EgressEngine, type EgressEngineOptions } from './egress/engine.js';
import { ServiceLoad } from './egress/load.js';
import { renderMetrics } from './egress/metrics.js';
import { InProcessEventBus } from './events/bus.js';
import type { EventBus, WebhookTarget } from './events/contract.js';
import { WebhookDispatcher, type WebhookRetryPolicy } from './events/webhooks.js';
import { DestinationPolicy } from './net/destination-policy.js';
import { resolveDestination } from './net/resolve.js';
import { Credentials } from './http/auth.js';
import { connectPlugin } from './http/connect.js';
import { CallsConnectAuthority } from './http/connect-authority.js';
import { createHttpEdge } from './http/edge.js';
import { mediaFilesPlugin } from './http/media-files.js';
import { metricsPlugin } from './http/metrics.js';
import { restPlugin } from './http/rest/index.js';
import { DEFAULT_WEB_ROOT, devTokensFromSecret, previewSource, webPlugin } from './http/web.js';
import { whipPlugin } from './http/whip.js';
import { authorizeCallReader, whepRoutes } from './http/whep.js';
import { authorizeBroadcastPreviewer, broadcastWhepRoutes } from './http/broadcast-whep.js';
import { BroadcastPreviews } from './media/preview/broadcast-previews.js';
import { createLogger, describeError, type ProcessLogger } from './log.js';
import { createCallFrameSourceFactory } from './media/call-frame-source.js';
import { CallMedia } from './media/call-media.js';
import { createLayoutFrameSourceFactory } from './render/browser/index.js';
import { mintRecorderToken } from './render/browser/recorder-token.js';
import { ImageStore } from './render/images.js';
import { LocalDirectoryStorage } from './storage/local-directory.js';
import { openStore, type Store } from './store/store.js';
import { parseCallCid } from './wire/call-cid.js';
import { PreviewTap } from './web/preview.js';
import type { JsonObject } from './wire/json.js';

export interface CallcastOptions {
  config: Config;
  /** Default: a pino logger at config.logLevel. */
  log?: ProcessLogger;
  /** Egress settings for special setups and tests (trusted CA, retry policy, timeouts). */
  egress?: Partial<Omit<EgressEngineOptions, 'listener' | 'log' | 'frameSourceFactory'>>;
  /** A broadcast engine in place of the egress (control-plane tests); built with its listener. */
  engine?: EngineFactory;
  /** Where the built pages are; default the repository's dist/web/pages. */
  webRoot?: string;
  /** HLS and recording settings for tests: how long stopped HLS files stay, how long download links work. */
  outputs?: { hlsRetentionMs?: number; downloadTtlMs?: number };
  /** More HTTP surfaces, registered as plugins of the edge (under its error handler and `authenticate`). */
  plugins?: EdgePlugin[];
  /** What else holds data of a call and must hear of its deletion (recordings: their files go on a hard delete). */
  callDeletionHooks?: CallDeletionHook[];
  /** Overrides of the webhook retry policy (tests compress the backoff; the horizon is config's). */
  webhookPolicy?: Partial<WebhookRetryPolicy>;
}

/** What an extra HTTP surface gets to work with. */
export interface EdgeContext {
  access: Access;
  calls: CallService;
  broadcasts: BroadcastState;
  bus: EventBus;
  /** The base URL clients use (known once the server listens; read it per request). */
  publicUrl(): string;
}

export type EdgePlugin = (app: FastifyInstance, ctx: EdgeContext) => Promise<void> | void;

/** The running service; `Egress` is null when another broadcast engine was given (`engine`). */
export interface Callcast<Egress extends EgressEngine | null = EgressEngine> {
  app: FastifyInstance;
  /** Where the server listens, e.g. http://127.0.0.1:3030 (no trailing slash). */
  url: string;
  store: Store;
  bus: EventBus;
  access: Access;
  calls: CallService;
  broadcasts: BroadcastState;
  hls: HlsState;
  recordings: RecordingState;
  /** The broadcast engine (the egress unless `engine` was given). */
  engine: BroadcastEngine;
  /** The egress engine (encoder processes, stats of every destination); null with another engine. */
  egress: Egress;
  media: CallMedia;
  /** Last composed frame of each broadcast group (console previews). */
  previews: PreviewTap;
  /** Live WebRTC previews of broadcasts (WHEP). */
  broadcastPreviews: BroadcastPreviews;
  apiKey: string;
  apiSecret: string;
  /** True when the credentials were generated for development (and should be shown). */
  credentialsGenerated: boolean;
  /** The webhook dispatcher (its metrics: dead deliveries). */
  webhooks: WebhookDispatcher;
  /** Where outgoing connections may go (CALLCAST_RTMP_ALLOW). */
  destinationPolicy: DestinationPolicy;
  /** Cluster mode (CALLCAST_REDIS_URL): this node's part of the cluster; null for a process on its own. */
  cluster: Cluster | null;
  /** Stops everything (idempotent); in cluster mode the node first hands its calls over. */
  close(): Promise<void>;
}

export function sqlitePathFor(config: Config): string {
  return join(config.dataDir, 'callcast.sqlite');
}

/** Whether the HTTP server listens only on a loopback address. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

function hostForUrl(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/** The base URL clients reach the server at: configured, or where it listens (known after listen). */
class PublicUrl {
  private value: string;
  constructor(private readonly config: Config) {
    this.value = config.publicUrl ?? `http://${hostForUrl(config.host)}:${config.port}`;
  }
  get(): string {
    return this.value;
  }
  listening(url: string): void {
    if (!this.config.publicUrl) this.value = url;
  }
}

export async function startCallcast(opts: CallcastOptions & { engine?: undefined }): Promise<Callcast>;
export async function startCallcast(opts: CallcastOptions): Promise<Callcast<EgressEngine | null>>;
export async function startCallcast(opts: CallcastOptions): Promise<Callcast<EgressEngine | null>> {
  const { config } = opts;
  const log = opts.log ?? createLogger(config.logLevel);
  const creds = resolveCredentials(config);
  const credentials = new Credentials(creds.apiKey, creds.apiSecret);
  const publicUrl = new PublicUrl(config);
  const steps: Array<[string, () => Promise<void> | void]> = [];
  const shutdown = async () => {
    for (const [what, step] of steps.reverse()) {
      try {
        await step();
      } catch (err) {
        log.error({ step: what, err: describeError(err) }, 'shutdown step failed');
      }
    }
  };

  try {
    const store = await openStore({
      ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}),
      sqlitePath: sqlitePathFor(config),
      log,
    });
    // Where user-chosen outgoing connections (RTMP targets, images) may go.
    const destinationPolicy = DestinationPolicy.fromAllowList(config.rtmpAllow);
    steps.push(['store', () => store.close()]);
    await seedCallTypes(store, new Date().toISOString());
    const bus = new InProcessEventBus({ log });

    const media = new CallMedia({
      ice: { host: mediaAddress(config.mediaHost, config.host), publicIp: config.mediaPublicIp, iceServers: config.iceServers ?? [] },
      ...(config.ffmpegPath ? { ffmpegPath: config.ffmpegPath } : {}),
      log,
    });
    steps.push(['media', () => media.close()]);
    const images = new ImageStore({ log, policy: destinationPolicy });
    const previews = new PreviewTap();

    const access = new Access(store);
    const sessions = new LiveSessions({
      media,
      bus,
      log,
      // An empty session lives on for the call's session.inactivity_timeout_seconds.
      inactivityTimeoutMs: async (cid) => {
        const call = await store.getCall(cid);
        const callType = call ? await store.getCallType(call.type) : undefined;
        return call && callType ? inactivityTimeoutMs(effectiveSettings(callType.settings, call.settings_override)) : 0;
      },
      // `calls` is built below; session events are published after the start.
      callJson: (cid): Promise<JsonObject | null> => calls.callJsonOf(cid),
    });
    steps.push(['sessions', () => sessions.close()]);
    // Admission of new encodes by load: the service's CPU (itself and its children) is sampled
    // only when a threshold is set.
    const cpuPercent = config.admissionCpuPercent ?? DEFAULT_LIMITS.admissionCpuPercent;
    const load = cpuPercent > 0 ? new ServiceLoad().start() : null;
    if (load) steps.push(['load', () => load.close()]);
    const admission = {
      refuseWhileDegraded: config.admissionDegraded ?? DEFAULT_LIMITS.admissionDegraded,
      maxCpuShare: cpuPercent > 0 ? cpuPercent / 100 : null,
      maxGroupsPerUser: config.maxGroupsPerUser ?? DEFAULT_LIMITS.maxGroupsPerUser,
    };
    // Cluster mode: placement, owner routing, event fan-out, the shared webhook outbox (src/cluster).
    const cluster = config.redisUrl
      ? new Cluster({
          redisUrl: config.redisUrl,
          ...(config.nodeId ? { nodeId: config.nodeId } : {}),
          store,
          bus,
          log,
          media,
          admission,
          publicUrl: () => publicUrl.get(),
          apiSecret: creds.apiSecret,
        })
      : null;
    const egressEngine: EngineFactory = (listener) =>
      new EgressEngine({
        ...(config.ffmpegPath ? { ffmpegPath: config.ffmpegPath } : {}),
        admission,
        ...(load ? { cpuShare: () => load.cpuShare() } : {}),
        ...opts.egress,
        listener,
        log,
        frameSourceFactory: previews.wrap(
          createLayoutFrameSourceFactory(createCallFrameSourceFactory({ media, images }), {
            log,
            apiKey: creds.apiKey,
            baseUrl: () => publicUrl.get(),
            recorderToken: (cid, userId) => mintRecorderToken(creds.apiSecret, cid, userId),
            ...(config.layoutReadyTimeoutMs !== undefined ? { readyTimeoutMs: config.layoutReadyTimeoutMs } : {}),
            ...(config.layoutUrlAllow ? { allowOrigins: config.layoutUrlAllow } : {}),
            ...(config.chromiumPath ? { chromiumPath: config.chromiumPath } : {}),
            ...(config.ffmpegPath ? { ffmpegPath: config.ffmpegPath } : {}),
          }),
        ),
        resolveAddress: (host, port) => resolveDestination(destinationPolicy, host, port),
      });
    const broadcasts = new BroadcastState({
      store,
      bus,
      log,
      participants: (cid) => media.participants(cid),
      engine: opts.engine ?? egressEngine,
      destinationPolicy,
      maxBroadcastsPerCall: config.maxBroadcastsPerCall ?? DEFAULT_LIMITS.maxBroadcastsPerCall,
      ...(cluster ? { assertWriter: (cid: string) => cluster.assertWriter(cid) } : {}),
    });
    steps.push(['broadcasts', () => broadcasts.close()]);
    const egress = broadcasts.engine instanceof EgressEngine ? broadcasts.engine : null;
    // Live WebRTC previews of broadcasts: the group's H.264 as it is, its mixed sound as Opus.
    const broadcastPreviews = new BroadcastPreviews({
      ice: { host: mediaAddress(config.mediaHost, config.host), publicIp: config.mediaPublicIp, iceServers: config.iceServers ?? [] },
      feedOf: (cid, name) => egress?.groupOf(cid, name),
      log,
      ...(config.ffmpegPath ? { ffmpegPath: config.ffmpegPath } : {}),
    });
    broadcasts.on('changed', (cid) => broadcastPreviews.revalidate(cid));
    steps.push(['broadcast previews', () => broadcastPreviews.close()]);
    const ffmpegPath = opts.egress?.ffmpegPath ?? config.ffmpegPath;
    // Cluster mode: the HLS broadcasts and recordings other live nodes run are shown from the store.
    const outputNodes: OutputNodes | null = cluster
      ? { nodeId: () => cluster.node.id, liveNodeIds: async () => (await cluster.node.nodes()).map((n) => n.id) }
      : null;
    const hls = new HlsState({
      store,
      bus,
      log,
      engine: egress,
      dir: join(config.dataDir, 'hls'),
      publicUrl: () => publicUrl.get(),
      participants: (cid) => media.participants(cid),
      ...(outputNodes ? { nodes: outputNodes } : {}),
      ...(ffmpegPath ? { ffmpegPath } : {}),
      ...(opts.outputs?.hlsRetentionMs !== undefined ? { retentionMs: opts.outputs.hlsRetentionMs } : {}),
    });
    steps.push(['hls', () => hls.close()]);
    const storage = new LocalDirectoryStorage(join(config.dataDir, 'recordings'));
    const recordings = new RecordingState({
      store,
      bus,
      log,
      engine: egress,
      storage,
      workDir: join(config.dataDir, 'recordings-work'),
      publicUrl: () => publicUrl.get(),
      signingSecret: creds.apiSecret,
      sessionId: (cid) => sessions.session(cid)?.id ?? null,
      participants: (cid) => media.participants(cid),
      ...(outputNodes ? { nodes: outputNodes } : {}),
      ...(ffmpegPath ? { ffmpegPath } : {}),
      ...(opts.outputs?.downloadTtlMs !== undefined ? { downloadTtlMs: opts.outputs.downloadTtlMs } : {}),
    });
    steps.push(['recordings', () => recordings.close()]);
    const calls = new CallService({ store, bus, log, access, broadcasts, hls, recordings, sessions, publicUrl: () => publicUrl.get() });
    const users = new UserService({ store, bus });
    const tasks = new TaskLog();
    // A deleted call's HLS stops; a hard delete removes its recordings too.
    const outputsDeletion: CallDeletionHook = {
      callDeleted: async (cid, mode) => {
        await hls.stopForCall(cid);
        if (mode === 'hard') await recordings.deleteAll(cid);
        else await recordings.stopForCall(cid);
      },
    };
    const deletion = new CallDeletion({
      store,
      bus,
      log,
      access,
      broadcasts,
      calls,
      tasks,
      hooks: [outputsDeletion, ...(opts.callDeletionHooks ?? [])],
    });
    const members = new CallMembers({ store, access });
    const userDeletion = new UserDeletion({ store, bus, log, access, calls: deletion, tasks });
    const limits = new CallLimits({
      store,
      bus,
      log,
      end: async (cid, reason) => {
        const parts = parseCallCid(cid);
        if (parts) await calls.end({ kind: 'server' }, parts.type, parts.id, reason);
      },
      sessionStartedAt: (cid) => {
        const startedAt = sessions.session(cid)?.started_at;
        return typeof startedAt === 'string' ? startedAt : undefined;
      },
    });
    steps.push(['limits', () => limits.close()]);
    const callTypes = new CallTypeService({ store, access, broadcasts, outputs: [hls, recordings] });

    const webhooks = new WebhookDispatcher({
      bus,
      outbox: cluster ? cluster.webhookOutbox() : store.webhookOutbox,
      apiKey: creds.apiKey,
      apiSecret: creds.apiSecret,
      log,
      policy: {
        ...opts.webhookPolicy,
        ...(config.webhookRetryHorizonSeconds !== undefined ? { horizonMs: config.webhookRetryHorizonSeconds * 1000 } : {}),
      },
      target: async (): Promise<WebhookTarget | null> => {
        const settings = await store.getAppSettings();
        const url = settings.webhook_url || config.webhookUrl;
        return url ? { url, events: settings.webhook_events } : null;
      },
    });

    // Development tokens (a user token for anyone who asks) only on a loopback listener.
    const devTokensServed = config.devTokens === true && isLoopbackHost(config.host);
    if (config.devTokens === true && !devTokensServed) {
      log.warn({ host: config.host }, 'CALLCAST_DEV_TOKENS ignored: /dev/token is served only when the server listens on loopback');
    } else if (devTokensServed) {
      log.warn({ host: config.host }, 'development tokens are on: GET /dev/token hands a user token to anyone who can reach this port');
    }
    const app = createHttpEdge({ log, credentials, logRequests: config.logLevel === 'debug' || config.logLevel === 'trace' });
    steps.push(['http', () => app.close()]);
    cluster?.installRouting(app, access);
    await app.register(restPlugin, {
      access,
      calls,
      broadcasts,
      hls,
      recordings,
      users,
      callTypes,
      store,
      deletion,
      members,
      userDeletion,
      tasks,
      clustered: cluster !== null,
    });
    await app.register(mediaFilesPlugin, { hls, recordings, storage });
    await app.register(connectPlugin, {
      // In cluster mode WebSocket clients receive the events of every node.
      bus: cluster ? cluster.events.bus : bus,
      authority: new CallsConnectAuthority({ credentials, users, access }),
      apiKey: creds.apiKey,
      log,
    });
    await app.register(whipPlugin, {
      media,
      log,
      // Session resources are announced with a path-only Location (RFC 9725 allows a relative
      // one), which stays right behind proxies and whatever port the server ends up on.
      publicUrl: '',
      // WHIP clients (OBS, GStreamer, browsers) send only a bearer token; an api_key, when a
      // client adds one, must still be the right one.
      authorize: async (req, type, id) => access.publisher(await req.authenticate({ apiKey: 'optional' }), type, id),
    });
    await app.register(whepRoutes, {
      media,
      log,
      authorize: async (req, type, id) => authorizeCallReader(access, await req.authenticate({ apiKey: 'optional' }), type, id),
    });
    await app.register(broadcastWhepRoutes, {
      previews: broadcastPreviews,
      log,
      authorize: async (req, type, id) => authorizeBroadcastPreviewer(access, await req.authenticate({ apiKey: 'optional' }), type, id),
    });
    await app.register(webPlugin, {
      webRoot: opts.webRoot ?? DEFAULT_WEB_ROOT,
      apiKey: creds.apiKey,
      ...(devTokensServed ? { devTokens: devTokensFromSecret(creds.apiSecret) } : {}),
      preview: previewSource({ credentials, access, broadcasts, tap: previews }),
    });
    await app.register(metricsPlugin, {
      render: async () =>
        (egress ? renderMetrics(egress) : '') + (await webhooks.metricsText()) + (cluster ? await cluster.metricsText() : ''),
      ...(config.metricsToken ? { token: config.metricsToken } : {}),
    });
    const ctx: EdgeContext = { access, calls, broadcasts, bus, publicUrl: () => publicUrl.get() };
    for (const plugin of opts.plugins ?? []) await app.register(async (scope) => plugin(scope, ctx));

    webhooks.start();
    steps.push(['webhooks', () => webhooks.stop()]);

    await app.listen({ host: config.host, port: config.port });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const url = `http://${hostForUrl(config.host)}:${port}`;
    publicUrl.listening(url);

    if (cluster) {
      // The node registers; the broadcasts of calls no live node owns are resumed by its failover scan.
      steps.push(['cluster', () => cluster.drain()]);
      await cluster.start({ port, broadcasts, egress });
    } else {
      const resumed = await broadcasts.resume();
      if (resumed > 0) log.info({ resumed }, 'active broadcasts resumed');
    }
    // HLS and recordings stay with the process that runs them: in cluster mode another node's
    // running ones would look interrupted here, so they are neither finished nor resumed at start.
    if (!cluster) {
      const recovered = await recordings.recover();
      if (recovered > 0) log.info({ recovered }, 'interrupted recordings finished');
      const resumedHls = await hls.resume();
      if (resumedHls > 0) log.info({ resumed: resumedHls }, 'HLS broadcasts resumed');
    }

    let closing: Promise<void> | null = null;
    return {
      app,
      url,
      store,
      bus,
      access,
      calls,
      broadcasts,
      hls,
      recordings,
      engine: broadcasts.engine,
      egress,
      media,
      previews,
      broadcastPreviews,
      apiKey: creds.apiKey,
      apiSecret: creds.apiSecret,
      credentialsGenerated: creds.generated,
      webhooks,
      destinationPolicy,
      cluster,
      close: () => (closing ??= shutdown()),
    };
  } catch (err) {
    await shutdown();
    throw err;
  }
}
