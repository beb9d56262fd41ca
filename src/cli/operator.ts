/**
 * The operator commands: `calls`, `broadcast start|stop|list`. Each one talks to a running server
 * through the REST API (src/cli/rest.ts) with the target of src/cli/target.ts and prints a table,
 * or with `--json` one JSON document on stdout. Stream keys are never printed in full.
 */
import { parseArgs } from 'node:util';
import { LAYOUT_NAMES, QUALITIES } from '../layout/settings.js';
import { UsageError } from './errors.js';
import { broadcastRow, broadcastsTable, callRow, callsTable, maskKey, type BroadcastRow, type CallRow } from './output.js';
import { RestClient, type Json } from './rest.js';
import { resolveTarget } from './target.js';

export interface CommandIo {
  env: Record<string, string | undefined>;
  out: (text: string) => void;
}

type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;

/** Flags every operator command takes: where the server is and how to sign requests. */
const TARGET_OPTIONS: OptionSpec = {
  server: { type: 'string' },
  'api-key': { type: 'string' },
  'api-secret': { type: 'string' },
  'data-dir': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

type Values = Record<string, string | boolean | undefined>;

function parse(args: string[], options: OptionSpec): Values {
  try {
    return parseArgs({ args, options: { ...TARGET_OPTIONS, ...options }, allowPositionals: false, strict: true }).values as Values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function text(values: Values, flag: string): string | undefined {
  const v = values[flag];
  return typeof v === 'string' ? v : undefined;
}

function required(values: Values, flag: string, what: string): string {
  const v = text(values, flag)?.trim();
  if (!v) throw new UsageError(`--${flag} ${what} is required`);
  return v;
}

/** `TYPE:ID` of `--call`. */
export function parseCallCid(raw: string): { type: string; id: string } {
  const m = /^([A-Za-z0-9_-]{1,64}):([A-Za-z0-9_-]{1,64})$/.exec(raw);
  if (!m) throw new UsageError(`--call must be TYPE:ID (letters, digits, "_" and "-"), got "${raw}"`);
  return { type: m[1]!, id: m[2]! };
}

function clientFor(values: Values, io: CommandIo): RestClient {
  return new RestClient(
    resolveTarget(
      {
        url: text(values, 'server'),
        apiKey: text(values, 'api-key'),
        apiSecret: text(values, 'api-secret'),
        dataDir: text(values, 'data-dir'),
      },
      io.env,
    ),
  );
}

function printJson(io: CommandIo, value: unknown): void {
  io.out(`${JSON.stringify(value, null, 2)}\n`);
}

function callJson(r: CallRow): Json {
  return { cid: r.cid, title: r.title, created_at: r.createdAt, ended: r.ended, participants: r.participants, broadcasts: r.broadcasts };
}

function broadcastJson(r: BroadcastRow): Json {
  return {
    name: r.name,
    state: r.state,
    stream_url: r.streamUrl,
    quality: r.quality || null,
    layout: r.layout || null,
    bitrate: r.bitrate,
    bytes_sent: r.bytesSent,
    reconnects: r.reconnects,
    last_error: r.lastError,
  };
}

/** `callcast calls [--limit N]`: the latest calls with who is in them and their broadcasts. */
export async function callsCommand(args: string[], io: CommandIo): Promise<boolean> {
  const values = parse(args, { limit: { type: 'string' } });
  if (values.help) return false;
  let limit = 25;
  const rawLimit = text(values, 'limit');
  if (rawLimit !== undefined) {
    if (!/^\d+$/.test(rawLimit) || Number(rawLimit) < 1 || Number(rawLimit) > 100)
      throw new UsageError('--limit must be a whole number from 1 to 100');
    limit = Number(rawLimit);
  }
  const { calls } = await clientFor(values, io).queryCalls(limit);
  const rows = (Array.isArray(calls) ? calls : []).map((c) => callRow(c));
  if (values.json) printJson(io, { calls: rows.map(callJson) });
  else io.out(callsTable(rows));
  return true;
}

async function listBroadcasts(client: RestClient, type: string, id: string): Promise<BroadcastRow[]> {
  const { call } = await client.getCall(type, id);
  const egress = (call.egress ?? {}) as { rtmps?: unknown };
  const entries = Array.isArray(egress.rtmps) ? (egress.rtmps as Json[]) : [];
  return Promise.all(
    entries.map(async (entry) => {
      try {
        const { broadcast } = await client.broadcastDetails(type, id, String(entry.name));
        return broadcastRow(entry, broadcast);
      } catch {
        // Stopped between the two requests: show what the call said.
        return broadcastRow(entry);
      }
    }),
  );
}

async function broadcastStart(args: string[], io: CommandIo): Promise<boolean> {
  const values = parse(args, {
    call: { type: 'string' },
    name: { type: 'string' },
    url: { type: 'string' },
    key: { type: 'string' },
    quality: { type: 'string' },
    layout: { type: 'string' },
  });
  if (values.help) return false;
  const { type, id } = parseCallCid(required(values, 'call', 'TYPE:ID'));
  const name = required(values, 'name', 'NAME');
  const streamUrl = required(values, 'url', 'rtmp://... or rtmps://...');
  if (!/^rtmps?:\/\//i.test(streamUrl)) throw new UsageError(`--url must be an rtmp:// or rtmps:// address, got "${streamUrl}"`);
  const broadcast: Json = { name, stream_url: streamUrl };
  const key = text(values, 'key');
  if (key !== undefined && key !== '') broadcast.stream_key = key;
  const quality = text(values, 'quality');
  if (quality !== undefined) {
    if (!(QUALITIES as readonly string[]).includes(quality)) throw new UsageError(`--quality must be one of ${QUALITIES.join(', ')}`);
    broadcast.quality = quality;
  }
  const layout = text(values, 'layout');
  if (layout !== undefined) {
    const names = LAYOUT_NAMES.filter((l) => l !== 'custom');
    if (!(names as readonly string[]).includes(layout)) throw new UsageError(`--layout must be one of ${names.join(', ')}`);
    broadcast.layout = { name: layout };
  }
  const client = clientFor(values, io);
  await client.startBroadcasts(type, id, [broadcast]);
  const started = {
    call_cid: `${type}:${id}`,
    name,
    stream_url: streamUrl,
    stream_key: key ? maskKey(key) : null,
    quality: quality ?? null,
    layout: layout ?? null,
  };
  if (values.json) printJson(io, { started });
  else {
    io.out(`Started broadcast "${name}" of ${type}:${id} to ${streamUrl}${key ? ` (key ${maskKey(key)})` : ''}.\n`);
    io.out(`It connects now; "callcast broadcast list --call ${type}:${id}" shows when it is live.\n`);
  }
  return true;
}

async function broadcastStop(args: string[], io: CommandIo): Promise<boolean> {
  const values = parse(args, { call: { type: 'string' }, name: { type: 'string' }, all: { type: 'boolean' } });
  if (values.help) return false;
  const { type, id } = parseCallCid(required(values, 'call', 'TYPE:ID'));
  const name = text(values, 'name');
  if ((name === undefined || name === '') === !values.all) throw new UsageError('give either --name NAME or --all');
  const client = clientFor(values, io);
  let stopped: string[];
  if (values.all) {
    const before = await listBroadcasts(client, type, id);
    await client.stopAllBroadcasts(type, id);
    stopped = before.map((b) => b.name);
  } else {
    await client.stopBroadcast(type, id, name!);
    stopped = [name!];
  }
  if (values.json) printJson(io, { call_cid: `${type}:${id}`, stopped });
  else if (stopped.length === 0) io.out(`No broadcast was running in ${type}:${id}.\n`);
  else io.out(`Stopped ${stopped.map((n) => `"${n}"`).join(', ')} in ${type}:${id}.\n`);
  return true;
}

async function broadcastList(args: string[], io: CommandIo): Promise<boolean> {
  const values = parse(args, { call: { type: 'string' } });
  if (values.help) return false;
  const { type, id } = parseCallCid(required(values, 'call', 'TYPE:ID'));
  const rows = await listBroadcasts(clientFor(values, io), type, id);
  if (values.json) printJson(io, { call_cid: `${type}:${id}`, broadcasts: rows.map(broadcastJson) });
  else io.out(broadcastsTable(rows));
  return true;
}

/**
 * `callcast broadcast start|stop|list ...`. Resolves false when help was asked for (the caller
 * prints it).
 */
export async function broadcastCommand(args: string[], io: CommandIo): Promise<boolean> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    if (sub === undefined) throw new UsageError('broadcast needs a subcommand: start, stop or list');
    return false;
  }
  if (sub === 'start') return broadcastStart(rest, io);
  if (sub === 'stop') return broadcastStop(rest, io);
  if (sub === 'list') return broadcastList(rest, io);
  throw new UsageError(`unknown broadcast subcommand "${sub}" (start, stop or list)`);
}
