#!/usr/bin/env node
/**
 * callcast CLI: `serve` runs the service; `token` mints a user token with the configured secret;
 * `calls` and `broadcast start|stop|list` operate a running server through its REST API
 * (src/cli/operator.ts).
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { EXIT, ServerError, UnreachableError, UsageError } from './cli/errors.js';
import { nextSteps } from './cli/next-steps.js';
import { broadcastCommand, callsCommand, type CommandIo } from './cli/operator.js';
import { mintUserToken } from './cli/tokens.js';
import { ConfigError, loadConfig, parsePort, resolveCredentials, type Config } from './config.js';
import { newUserRecord } from './store/records.js';
import { isCallPathPart, parseCallCid } from './wire/call-cid.js';

export { mintUserToken };

const HELP = `Usage: callcast <command> [options]

Commands:
  serve                 Start the server.
  token --user ID       Print a user token signed with the API secret.
  calls                 List the latest calls with who is in them and their broadcasts.
  broadcast start       Start a broadcast of a call to an RTMP(S) destination.
  broadcast stop        Stop one broadcast of a call (--name) or all of them (--all).
  broadcast list        List a call's broadcasts with their live state and stats.
  webhooks list|replay  Dead webhook deliveries: list them, send them again (--id ID | --all).

serve options (each mirrors an environment variable):
  --port N              CALLCAST_PORT (default 3030)
  --host H              CALLCAST_HOST (default 127.0.0.1)
  --data-dir DIR        CALLCAST_DATA_DIR (default ./data)
  --database-url URL    CALLCAST_DATABASE_URL (postgres://...; default SQLite in the data dir)
  --webhook-url URL     CALLCAST_WEBHOOK_URL
  --public-url URL      CALLCAST_PUBLIC_URL (base URL clients use; default http://host:port)
  --log-level LEVEL     CALLCAST_LOG_LEVEL (fatal, error, warn, info, debug, trace, silent)
  CALLCAST_DEV_TOKENS=1 serves /dev/token and prints a signed-in console link (development only;
  \`make start\` turns it on). CALLCAST_MEDIA_HOST is the address WebRTC media is received on.
  CALLCAST_METRICS_TOKEN protects GET /metrics (scrapers send Authorization: Bearer <token>).
  CALLCAST_RTMP_ALLOW opens internal destinations (hosts, IPs, CIDRs, host:port, *:port) to outgoing
  connections; CALLCAST_WEBHOOK_RETRY_HORIZON is how long webhooks are retried (seconds, default 86400).
  CALLCAST_REDIS_URL (redis://...) runs the node as one of a cluster sharing a PostgreSQL store
  (CALLCAST_DATABASE_URL is then required); CALLCAST_NODE_ID names it (default host name:port).
  API key and secret come from CALLCAST_API_KEY / CALLCAST_API_SECRET; when both are unset,
  development credentials are generated once and kept in <data-dir>/credentials.json.

token options:
  --user ID             user_id claim (required)
  --ttl SECONDS         validity (default 3600; 0 for a token without expiry)
  --call-cids A:B,C:D   call_cids claim (makes a call token)
  --role ROLE           role claim (the call role for call_cids)
  --data-dir DIR        where development credentials are kept

calls options:
  --limit N             how many calls, newest first (default 25, at most 100)

broadcast start options:
  --call TYPE:ID        the call (required), e.g. default:standup
  --name NAME           the broadcast's name in the call (required), e.g. youtube
  --url URL             the ingest, rtmp://... or rtmps://... (required)
  --key KEY             the stream key (appended to the URL as its last segment)
  --quality Q           360p, 480p, 720p, 1080p, 1440p or portrait-360x640 ... portrait-1440x2560
                        (default: the call's broadcasting settings)
  --layout L            spotlight, grid, single-participant, mobile (default: the call's)

broadcast stop options:
  --call TYPE:ID        the call (required)
  --name NAME | --all   which broadcast to stop

broadcast list options:
  --call TYPE:ID        the call (required)

Options of calls and broadcast (the server they talk to):
  --server URL          CALLCAST_URL, else CALLCAST_PUBLIC_URL (default http://127.0.0.1:3030)
  --api-key KEY         CALLCAST_API_KEY
  --api-secret SECRET   CALLCAST_API_SECRET (prefer the variable: flags show in process lists)
  --data-dir DIR        with neither key nor secret set, the development credentials a local
                        \`callcast serve\` keeps in DIR/credentials.json (default ./data)
  --json                print one JSON document for scripts (stream keys masked)

Exit codes: 0 done, 1 the server refused the request (its message is printed), 2 wrong command
line, 3 the server could not be reached.

Examples:
  callcast calls
  callcast broadcast start --call default:standup --name local --url rtmp://127.0.0.1:1935/live --key test
  callcast broadcast list --call default:standup --json
  callcast broadcast stop --call default:standup --all

  -h, --help            Show this help.
`;

const FLAG_ENV: Record<string, string> = {
  port: 'CALLCAST_PORT',
  host: 'CALLCAST_HOST',
  'data-dir': 'CALLCAST_DATA_DIR',
  'database-url': 'CALLCAST_DATABASE_URL',
  'webhook-url': 'CALLCAST_WEBHOOK_URL',
  'public-url': 'CALLCAST_PUBLIC_URL',
  'log-level': 'CALLCAST_LOG_LEVEL',
};

function parse(
  args: string[],
  options: Record<string, { type: 'string' | 'boolean'; short?: string }>,
): Record<string, string | boolean | undefined> {
  try {
    return parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: false, strict: true })
      .values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function configFrom(values: Record<string, unknown>): Config {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const [flag, name] of Object.entries(FLAG_ENV)) {
    if (typeof values[flag] === 'string') env[name] = values[flag] as string;
  }
  return loadConfig(env);
}

/** The development operator the console link signs in as (only with CALLCAST_DEV_TOKENS=1). */
const DEV_OPERATOR = 'operator';

async function serve(args: string[]): Promise<void> {
  const values = parse(args, Object.fromEntries(Object.keys(FLAG_ENV).map((k) => [k, { type: 'string' as const }])));
  if (values.help) return void process.stdout.write(HELP);
  if (typeof values.port === 'string') parsePort(values.port, '--port');
  const config = configFrom(values);
  const { startCallcast } = await import('./app.js');
  const server = await startCallcast({ config });
  process.stdout.write(`Callcast listening on ${server.url}\n`);
  process.stdout.write(`API key:    ${server.apiKey}\n`);
  if (server.credentialsGenerated) {
    process.stdout.write(`API secret: ${server.apiSecret}\n`);
    process.stdout.write('(development credentials, kept in the data dir; set CALLCAST_API_KEY and CALLCAST_API_SECRET in production)\n');
  }
  if (config.devTokens) {
    // Development: an operator user and a console link that signs them in.
    const { consoleLink } = await import('./http/web.js');
    const now = new Date().toISOString();
    const existing = await server.store.getUser(DEV_OPERATOR);
    if (!existing) {
      await server.store.upsertUsers([newUserRecord(DEV_OPERATOR, now, { role: 'admin', name: 'Operator' })]);
    }
    const operatorToken = await mintUserToken(server.apiSecret, { userId: DEV_OPERATOR, ttlSeconds: 12 * 3600 });
    process.stdout.write(`Console:    ${consoleLink(server.url, operatorToken)}\n`);
    process.stdout.write(`Join page:  ${server.url}/join/default/<call-id>  (development tokens are on: CALLCAST_DEV_TOKENS=1)\n`);
    process.stdout.write(nextSteps(server.url));
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    server.app.log.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 15_000);
    force.unref();
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

async function token(args: string[]): Promise<void> {
  const values = parse(args, {
    user: { type: 'string' },
    ttl: { type: 'string' },
    'call-cids': { type: 'string' },
    role: { type: 'string' },
    'data-dir': { type: 'string' },
  });
  if (values.help) return void process.stdout.write(HELP);
  const user = values.user;
  if (typeof user !== 'string' || user === '') throw new UsageError('--user ID is required');
  let ttlSeconds = 3600;
  if (values.ttl !== undefined) {
    if (typeof values.ttl !== 'string' || !/^\d+$/.test(values.ttl)) throw new UsageError('--ttl must be a whole number of seconds');
    ttlSeconds = Number(values.ttl);
  }
  const claims: { userId: string; ttlSeconds: number; callCids?: string[]; role?: string } = { userId: user, ttlSeconds };
  if (typeof values['call-cids'] === 'string') {
    const cids = values['call-cids']
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const bad = cids.find((c) => {
      const parsed = parseCallCid(c);
      return !parsed || !isCallPathPart(parsed.type) || !isCallPathPart(parsed.id);
    });
    if (cids.length === 0 || bad !== undefined)
      throw new UsageError(`--call-cids must be a comma-separated list of type:id${bad ? ` (bad: "${bad}")` : ''}`);
    claims.callCids = cids;
  }
  if (typeof values.role === 'string') {
    if (values.role === '') throw new UsageError('--role must not be empty');
    claims.role = values.role;
  }
  const config = configFrom(values);
  const creds = resolveCredentials(config);
  process.stdout.write(`${await mintUserToken(creds.apiSecret, claims)}\n`);
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      process.stdout.write(HELP);
      return command === undefined ? 2 : 0;
    }
    const io: CommandIo = { env: process.env, out: (text) => void process.stdout.write(text) };
    if (command === 'serve') await serve(rest);
    else if (command === 'token') await token(rest);
    else if (command === 'calls') {
      if (!(await callsCommand(rest, io))) process.stdout.write(HELP);
    } else if (command === 'broadcast') {
      if (!(await broadcastCommand(rest, io))) process.stdout.write(HELP);
    } else if (command === 'webhooks') {
      const { webhooksCommand, WebhooksUsageError } = await import('./cli/webhooks.js');
      await webhooksCommand(rest, configFrom, (t) => void process.stdout.write(t)).catch((err: unknown) => {
        throw err instanceof WebhooksUsageError ? new UsageError(err.message) : err;
      });
    } else throw new UsageError(`unknown command "${command}"`);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError) {
      process.stderr.write(`callcast: ${err.message}\nRun "callcast --help" for usage.\n`);
      return EXIT.usage;
    }
    if (err instanceof UnreachableError) {
      process.stderr.write(`callcast: ${err.message}\n`);
      return EXIT.unreachable;
    }
    if (err instanceof ServerError) {
      process.stderr.write(`callcast: ${err.message} (HTTP ${err.status})\n`);
      if (err.status === 401)
        process.stderr.write("callcast: check the API key and secret (CALLCAST_API_KEY, CALLCAST_API_SECRET) against the server's\n");
      return EXIT.server;
    }
    process.stderr.write(`callcast: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT.server;
  }
}

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

const invokedDirectly = isEntryPoint();
if (invokedDirectly) {
  const code = await main(process.argv.slice(2));
  if (code !== 0 || process.argv[2] !== 'serve') process.exitCode = code;
}
