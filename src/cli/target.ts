/**
 * Which server the operator commands talk to and with which credentials: flags first, then the
 * environment (`CALLCAST_URL` or `CALLCAST_PUBLIC_URL`, `CALLCAST_API_KEY`, `CALLCAST_API_SECRET`),
 * then, on the machine that runs a development server, the credentials it generated in the data
 * dir (`CALLCAST_DATA_DIR`, default ./data). Pure but for reading that file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { credentialsPath } from '../config.js';
import { UsageError } from './errors.js';

export interface Target {
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:3030 */
  url: string;
  apiKey: string;
  apiSecret: string;
}

export interface TargetFlags {
  url?: string | undefined;
  apiKey?: string | undefined;
  apiSecret?: string | undefined;
  dataDir?: string | undefined;
}

type Env = Record<string, string | undefined>;

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

export function serverUrl(flag: string | undefined, env: Env): string {
  const raw =
    nonEmpty(flag) ??
    nonEmpty(env.CALLCAST_URL) ??
    nonEmpty(env.CALLCAST_PUBLIC_URL) ??
    `http://127.0.0.1:${nonEmpty(env.CALLCAST_PORT) ?? '3030'}`;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new UsageError(`the server URL "${raw}" is not a URL (expected http://host:port)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`the server URL must be http:// or https://, got "${raw}"`);
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

/** Development credentials a local `callcast serve` generated, or null. */
function savedCredentials(dataDir: string): { apiKey: string; apiSecret: string } | null {
  const file = credentialsPath(dataDir);
  if (!existsSync(file)) return null;
  try {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { api_key?: unknown; api_secret?: unknown };
    if (typeof saved.api_key === 'string' && typeof saved.api_secret === 'string' && saved.api_key && saved.api_secret) {
      return { apiKey: saved.api_key, apiSecret: saved.api_secret };
    }
  } catch {
    /* unreadable: treated as absent */
  }
  return null;
}

export function resolveTarget(flags: TargetFlags, env: Env): Target {
  const url = serverUrl(flags.url, env);
  let apiKey = nonEmpty(flags.apiKey) ?? nonEmpty(env.CALLCAST_API_KEY);
  let apiSecret = nonEmpty(flags.apiSecret) ?? nonEmpty(env.CALLCAST_API_SECRET);
  if (!apiKey && !apiSecret) {
    const saved = savedCredentials(nonEmpty(flags.dataDir) ?? nonEmpty(env.CALLCAST_DATA_DIR) ?? './data');
    if (saved) ({ apiKey, apiSecret } = saved);
  }
  if (!apiKey || !apiSecret) {
    throw new UsageError('the API key and secret are needed: set CALLCAST_API_KEY and CALLCAST_API_SECRET (or --api-key/--api-secret)');
  }
  return { url, apiKey, apiSecret };
}
