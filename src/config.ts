/**
 * Configuration from the environment (and CLI flags mirroring it). `loadConfig` is pure;
 * `resolveCredentials` does the file I/O for development credentials.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { parseOriginList } from './layout/app-url.js';
import { parseAllowList } from './net/destination-policy.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config {
  port: number;
  host: string;
  /** Absent: development credentials are generated and persisted in the data dir. */
  apiKey?: string;
  apiSecret?: string;
  /** postgres://... for PostgreSQL; absent for the embedded SQLite file in the data dir. */
  databaseUrl?: string;
  /** Webhook target used when the app settings have none. */
  webhookUrl?: string;
  dataDir: string;
  logLevel: LogLevel;
  /** Base URL clients reach the server at (ingress addresses); default http://host:port. */
  publicUrl?: string;
  /** Serve `/dev/token` (user tokens for anyone who asks): development only. CALLCAST_DEV_TOKENS=1. */
  devTokens?: boolean;
  /** The ffmpeg executable (CALLCAST_FFMPEG); absent: `ffmpeg` on the PATH. */
  ffmpegPath?: string;
  /**
   * The address WebRTC media is received on (CALLCAST_MEDIA_HOST): an IP address, `localhost`, or
   * a wildcard (0.0.0.0, ::) for every interface. Absent: the HTTP host. See `mediaAddress`.
   */
  mediaHost?: string;
  /** When set, GET /metrics needs `Authorization: Bearer <token>` (CALLCAST_METRICS_TOKEN). */
  metricsToken?: string;
  /** How long a webhook delivery is retried before it is parked as dead, seconds (CALLCAST_WEBHOOK_RETRY_HORIZON; default 86400). */
  webhookRetryHorizonSeconds?: number;
  /**
   * Outgoing destinations opened despite resolving to internal addresses (CALLCAST_RTMP_ALLOW:
   * comma-separated hosts, IPs, CIDRs, host:port, *:port). Validated here, applied by src/net.
   */
  rtmpAllow?: string;
  /**
   * The public address WebRTC media is reached at when the media host is behind 1:1 NAT
   * (CALLCAST_MEDIA_PUBLIC_IP): answers advertise it in place of the local address.
   */
  mediaPublicIp?: string;
  /** STUN/TURN servers for WHIP sessions (CALLCAST_ICE_SERVERS); absent or empty: none. */
  iceServers?: IceServer[];
  /** RTMP broadcasts one call may have at once (CALLCAST_MAX_BROADCASTS_PER_CALL; default DEFAULT_LIMITS). */
  maxBroadcastsPerCall?: number;
  /**
   * Broadcast groups (encodes) the RTMP broadcasts one user starts may have created and still run
   * (CALLCAST_MAX_GROUPS_PER_USER; default DEFAULT_LIMITS). Server tokens are not bound by it.
   */
  maxGroupsPerUser?: number;
  /**
   * A new broadcast group is refused while the service (itself and its child processes) used more
   * than this percentage of all cores over the last seconds (CALLCAST_ADMISSION_CPU_PERCENT;
   * default DEFAULT_LIMITS; 0 or `off`: not checked).
   */
  admissionCpuPercent?: number;
  /** A new broadcast group is refused while any group is degraded (CALLCAST_ADMISSION_DEGRADED; default on). */
  admissionDegraded?: boolean;
  /** Origins custom layout apps and stylesheets may be loaded from (CALLCAST_LAYOUT_URL_ALLOW, comma-separated); absent: any http(s) origin. */
  layoutUrlAllow?: string[];
  /** How long a layout app has to add #egress-ready-for-capture, ms (CALLCAST_LAYOUT_READY_TIMEOUT_MS; default 20000). */
  layoutReadyTimeoutMs?: number;
  /** The Chromium executable for custom layouts (CALLCAST_CHROMIUM; default /usr/bin/chromium). */
  chromiumPath?: string;
  /**
   * Cluster mode (CALLCAST_REDIS_URL, redis:// or rediss://): several nodes share one PostgreSQL
   * store and coordinate through this Redis (src/cluster). Absent: one process on its own.
   */
  redisUrl?: string;
  /** This node's name in the cluster (CALLCAST_NODE_ID); default host name and port. */
  nodeId?: string;
}

/** The defaults of the limits and of admission by load (see Config). */
export const DEFAULT_LIMITS = Object.freeze({
  maxBroadcastsPerCall: 10,
  maxGroupsPerUser: 3,
  admissionCpuPercent: 90,
  admissionDegraded: true,
});

export interface IceServer {
  urls: string[];
  username?: string;
  credential?: string;
}

const ICE_URL = /^(stun|stuns|turn|turns):[^\s,]+$/;

/**
 * CALLCAST_ICE_SERVERS: a comma-separated list of stun:/turn: URLs, or a JSON array of
 * `{ urls, username?, credential? }` (for TURN credentials). Empty or unset: none.
 */
export function parseIceServers(value: string | undefined): IceServer[] {
  if (value === undefined || value.trim() === '') return [];
  const raw = value.trim();
  const bad = (why: string) => new ConfigError(`CALLCAST_ICE_SERVERS ${why}`);
  if (raw.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw bad('is not valid JSON');
    }
    if (!Array.isArray(parsed)) throw bad('must be a JSON array');
    return parsed.map((entry, i) => {
      const e = entry as { urls?: unknown; username?: unknown; credential?: unknown } | null;
      const urls = typeof e?.urls === 'string' ? [e.urls] : e?.urls;
      if (!Array.isArray(urls) || urls.length === 0 || !urls.every((u) => typeof u === 'string' && ICE_URL.test(u))) {
        throw bad(`entry ${i}: "urls" must be stun:, stuns:, turn: or turns: URLs`);
      }
      const server: IceServer = { urls: urls as string[] };
      if (e!.username !== undefined) {
        if (typeof e!.username !== 'string') throw bad(`entry ${i}: "username" must be a string`);
        server.username = e!.username;
      }
      if (e!.credential !== undefined) {
        if (typeof e!.credential !== 'string') throw bad(`entry ${i}: "credential" must be a string`);
        server.credential = e!.credential;
      }
      return server;
    });
  }
  return raw
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean)
    .map((u) => {
      if (!ICE_URL.test(u)) throw bad(`must list stun:, stuns:, turn: or turns: URLs, got "${u}"`);
      return { urls: [u] };
    });
}

/** The ffmpeg executable used where the configuration names none. */
export const DEFAULT_FFMPEG_PATH = 'ffmpeg';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

export function parsePort(value: string, what: string): number {
  if (!/^\d+$/.test(value)) throw new ConfigError(`${what} must be a port number (0-65535), got "${value}"`);
  const n = Number(value);
  if (n > 65535) throw new ConfigError(`${what} must be a port number (0-65535), got "${value}"`);
  return n;
}

/**
 * The address media is received on, from the media host (else the HTTP server's host): undefined
 * for every interface (a wildcard, or no host at all), 127.0.0.1 for `localhost`. Pure.
 */
export function mediaAddress(mediaHost: string | undefined, serverHost: string | undefined): string | undefined {
  const raw = (mediaHost ?? serverHost ?? '').trim();
  if (!raw || raw === '0.0.0.0' || raw === '::') return undefined;
  return raw === 'localhost' ? '127.0.0.1' : raw;
}

/** Reads the configuration from environment variables. Throws ConfigError on bad values. */
export function loadConfig(env: Env): Config {
  const port = nonEmpty(env.CALLCAST_PORT);
  const logLevel = nonEmpty(env.CALLCAST_LOG_LEVEL) ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError(`CALLCAST_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  }
  const apiKey = nonEmpty(env.CALLCAST_API_KEY);
  const apiSecret = nonEmpty(env.CALLCAST_API_SECRET);
  if ((apiKey === undefined) !== (apiSecret === undefined)) {
    throw new ConfigError('CALLCAST_API_KEY and CALLCAST_API_SECRET must be set together');
  }
  const databaseUrl = nonEmpty(env.CALLCAST_DATABASE_URL);
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//i.test(databaseUrl)) {
    throw new ConfigError('CALLCAST_DATABASE_URL must be a postgres:// URL (leave it unset for the embedded SQLite store)');
  }
  const webhookUrl = nonEmpty(env.CALLCAST_WEBHOOK_URL);
  if (webhookUrl !== undefined && !/^https?:\/\/[^/]+/i.test(webhookUrl)) {
    throw new ConfigError('CALLCAST_WEBHOOK_URL must be an http:// or https:// URL');
  }
  const publicUrl = nonEmpty(env.CALLCAST_PUBLIC_URL);
  if (publicUrl !== undefined && !/^https?:\/\/[^/]+/i.test(publicUrl)) {
    throw new ConfigError('CALLCAST_PUBLIC_URL must be an http:// or https:// URL');
  }
  const devTokens = nonEmpty(env.CALLCAST_DEV_TOKENS);
  if (devTokens !== undefined && !['0', '1', 'true', 'false'].includes(devTokens)) {
    throw new ConfigError(`CALLCAST_DEV_TOKENS must be 1 or 0, got "${devTokens}"`);
  }
  const mediaPublicIp = nonEmpty(env.CALLCAST_MEDIA_PUBLIC_IP);
  if (mediaPublicIp !== undefined && (isIP(mediaPublicIp) !== 4 || mediaPublicIp === '0.0.0.0' || mediaPublicIp.startsWith('127.'))) {
    throw new ConfigError(
      `CALLCAST_MEDIA_PUBLIC_IP must be an IPv4 address clients can reach (not a wildcard or loopback), got "${mediaPublicIp}"`,
    );
  }
  const ffmpegPath = nonEmpty(env.CALLCAST_FFMPEG);
  if (ffmpegPath !== undefined && /[\u0000-\u001f]/.test(ffmpegPath)) {
    throw new ConfigError('CALLCAST_FFMPEG must be a command name or a path to the ffmpeg executable');
  }
  const mediaHost = nonEmpty(env.CALLCAST_MEDIA_HOST);
  if (mediaHost !== undefined && mediaHost !== 'localhost' && isIP(mediaHost) === 0) {
    throw new ConfigError(`CALLCAST_MEDIA_HOST must be an IP address, localhost, 0.0.0.0 or ::, got "${mediaHost}"`);
  }
  const metricsToken = nonEmpty(env.CALLCAST_METRICS_TOKEN);
  if (metricsToken !== undefined && (metricsToken.length < 16 || /\s/.test(metricsToken))) {
    throw new ConfigError('CALLCAST_METRICS_TOKEN must be at least 16 characters without spaces');
  }
  const horizon = nonEmpty(env.CALLCAST_WEBHOOK_RETRY_HORIZON);
  if (horizon !== undefined && (!/^\d+$/.test(horizon) || Number(horizon) < 1 || Number(horizon) > 30 * 86400)) {
    throw new ConfigError(`CALLCAST_WEBHOOK_RETRY_HORIZON must be a whole number of seconds from 1 to 2592000 (30 days), got "${horizon}"`);
  }
  const rtmpAllow = nonEmpty(env.CALLCAST_RTMP_ALLOW);
  if (rtmpAllow !== undefined) {
    try {
      parseAllowList(rtmpAllow);
    } catch (err) {
      throw new ConfigError(`CALLCAST_RTMP_ALLOW: ${(err as Error).message}`);
    }
  }
  const maxBroadcasts = wholeNumber(env, 'CALLCAST_MAX_BROADCASTS_PER_CALL', 1, 1000);
  const maxGroups = wholeNumber(env, 'CALLCAST_MAX_GROUPS_PER_USER', 1, 1000);
  const cpuRaw = nonEmpty(env.CALLCAST_ADMISSION_CPU_PERCENT);
  const cpuPercent = cpuRaw?.toLowerCase() === 'off' ? 0 : wholeNumber(env, 'CALLCAST_ADMISSION_CPU_PERCENT', 0, 100);
  const degradedRaw = nonEmpty(env.CALLCAST_ADMISSION_DEGRADED);
  if (degradedRaw !== undefined && !['0', '1', 'true', 'false', 'on', 'off'].includes(degradedRaw)) {
    throw new ConfigError(`CALLCAST_ADMISSION_DEGRADED must be 1 or 0, got "${degradedRaw}"`);
  }
  const layoutAllow = nonEmpty(env.CALLCAST_LAYOUT_URL_ALLOW);
  let layoutUrlAllow: string[] | undefined;
  if (layoutAllow !== undefined) {
    try {
      layoutUrlAllow = parseOriginList(layoutAllow);
    } catch (err) {
      throw new ConfigError(`CALLCAST_LAYOUT_URL_ALLOW: ${(err as Error).message}`);
    }
  }
  const readyTimeout = nonEmpty(env.CALLCAST_LAYOUT_READY_TIMEOUT_MS);
  if (readyTimeout !== undefined && (!/^\d+$/.test(readyTimeout) || Number(readyTimeout) < 100 || Number(readyTimeout) > 600_000)) {
    throw new ConfigError(
      `CALLCAST_LAYOUT_READY_TIMEOUT_MS must be a whole number of milliseconds from 100 to 600000, got "${readyTimeout}"`,
    );
  }
  const chromiumPath = nonEmpty(env.CALLCAST_CHROMIUM);
  if (chromiumPath !== undefined && /[\u0000-\u001f]/.test(chromiumPath)) {
    throw new ConfigError('CALLCAST_CHROMIUM must be a path to the Chromium executable');
  }
  const redisUrl = nonEmpty(env.CALLCAST_REDIS_URL);
  if (redisUrl !== undefined && !/^rediss?:\/\/[^\s]*$/i.test(redisUrl)) {
    throw new ConfigError('CALLCAST_REDIS_URL must be a redis:// or rediss:// URL');
  }
  if (redisUrl !== undefined && databaseUrl === undefined) {
    throw new ConfigError(
      'CALLCAST_REDIS_URL turns cluster mode on, which needs a PostgreSQL CALLCAST_DATABASE_URL shared by every node ' +
        '(the embedded SQLite store belongs to one process); set CALLCAST_DATABASE_URL or unset CALLCAST_REDIS_URL',
    );
  }
  const nodeId = nonEmpty(env.CALLCAST_NODE_ID);
  if (nodeId !== undefined && !/^[A-Za-z0-9._:-]{1,100}$/.test(nodeId)) {
    throw new ConfigError(`CALLCAST_NODE_ID must be 1 to 100 letters, digits, '.', '_', ':' or '-', got "${nodeId}"`);
  }
  if (nodeId !== undefined && redisUrl === undefined) {
    throw new ConfigError('CALLCAST_NODE_ID names a node of a cluster: it needs CALLCAST_REDIS_URL');
  }
  const config: Config = {
    port: port === undefined ? 3030 : parsePort(port, 'CALLCAST_PORT'),
    host: nonEmpty(env.CALLCAST_HOST) ?? '127.0.0.1',
    dataDir: nonEmpty(env.CALLCAST_DATA_DIR) ?? './data',
    logLevel: logLevel as LogLevel,
  };
  const iceServers = parseIceServers(env.CALLCAST_ICE_SERVERS);
  if (iceServers.length > 0) config.iceServers = iceServers;
  if (mediaPublicIp !== undefined) config.mediaPublicIp = mediaPublicIp;
  if (apiKey !== undefined) config.apiKey = apiKey;
  if (apiSecret !== undefined) config.apiSecret = apiSecret;
  if (databaseUrl !== undefined) config.databaseUrl = databaseUrl;
  if (webhookUrl !== undefined) config.webhookUrl = webhookUrl;
  if (publicUrl !== undefined) config.publicUrl = publicUrl.replace(/\/+$/, '');
  if (devTokens === '1' || devTokens === 'true') config.devTokens = true;
  if (ffmpegPath !== undefined) config.ffmpegPath = ffmpegPath;
  if (mediaHost !== undefined) config.mediaHost = mediaHost;
  if (metricsToken !== undefined) config.metricsToken = metricsToken;
  if (horizon !== undefined) config.webhookRetryHorizonSeconds = Number(horizon);
  if (rtmpAllow !== undefined) config.rtmpAllow = rtmpAllow;
  if (maxBroadcasts !== undefined) config.maxBroadcastsPerCall = maxBroadcasts;
  if (maxGroups !== undefined) config.maxGroupsPerUser = maxGroups;
  if (cpuPercent !== undefined) config.admissionCpuPercent = cpuPercent;
  if (degradedRaw !== undefined) config.admissionDegraded = ['1', 'true', 'on'].includes(degradedRaw);
  if (layoutUrlAllow !== undefined) config.layoutUrlAllow = layoutUrlAllow;
  if (readyTimeout !== undefined) config.layoutReadyTimeoutMs = Number(readyTimeout);
  if (chromiumPath !== undefined) config.chromiumPath = chromiumPath;
  if (redisUrl !== undefined) config.redisUrl = redisUrl;
  if (nodeId !== undefined) config.nodeId = nodeId;
  return config;
}

/** A whole number from `min` to `max` in the variable, or undefined when it is unset or blank. */
function wholeNumber(env: Env, name: string, min: number, max: number): number | undefined {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return Number(raw);
}

export interface Credentials {
  apiKey: string;
  apiSecret: string;
  /** True when they were generated (now or on an earlier start) for development. */
  generated: boolean;
}

export function credentialsPath(dataDir: string): string {
  return join(resolve(dataDir), 'credentials.json');
}

/**
 * The configured API key and secret, or development ones generated once and kept in
 * `<dataDir>/credentials.json` (mode 0600) so they stay stable across restarts.
 */
export function resolveCredentials(config: Config): Credentials {
  if (config.apiKey && config.apiSecret) return { apiKey: config.apiKey, apiSecret: config.apiSecret, generated: false };
  const file = credentialsPath(config.dataDir);
  if (existsSync(file)) {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { api_key?: unknown; api_secret?: unknown };
    if (typeof saved.api_key === 'string' && typeof saved.api_secret === 'string' && saved.api_key && saved.api_secret) {
      return { apiKey: saved.api_key, apiSecret: saved.api_secret, generated: true };
    }
    throw new ConfigError(`${file} is not a valid credentials file; remove it to generate new development credentials`);
  }
  const creds = { api_key: randomBytes(8).toString('hex'), api_secret: randomBytes(32).toString('base64url') };
  mkdirSync(resolve(config.dataDir), { recursive: true });
  writeFileSync(file, `${JSON.stringify(creds, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { apiKey: creds.api_key, apiSecret: creds.api_secret, generated: true };
}
