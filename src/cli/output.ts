/**
 * How the operator commands print: aligned text tables for people, JSON for scripts, and stream
 * keys never in full (a stream key lets anyone publish to the channel). Pure.
 */

/** "••••5f1c": the last four characters of a key of eight or more, else only dots. */
export function maskKey(key: string): string {
  if (key === '') return '';
  return key.length >= 8 ? `••••${key.slice(-4)}` : '••••';
}

/** Columns padded to their widest cell, two spaces apart; the last column is not padded. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

export function formatBitrate(bitsPerSecond: number): string {
  if (!Number.isFinite(bitsPerSecond) || bitsPerSecond <= 0) return '-';
  if (bitsPerSecond >= 1_000_000) return `${(bitsPerSecond / 1_000_000).toFixed(1)} Mbit/s`;
  return `${Math.round(bitsPerSecond / 1000)} kbit/s`;
}

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes <= 0) return '0 B';
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  if (bytes >= 1e3) return `${Math.round(bytes / 1e3)} kB`;
  return `${bytes} B`;
}

type Json = Record<string, unknown>;

function obj(v: unknown): Json {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {};
}

function list(v: unknown): Json[] {
  return Array.isArray(v) ? v.map(obj) : [];
}

function str(v: unknown, fallback = ''): string {
  return typeof v === 'string' ? v : fallback;
}

/** One broadcast of `call.egress.rtmps` (or the details endpoint), as the commands show it. */
export interface BroadcastRow {
  name: string;
  state: string;
  streamUrl: string;
  quality: string;
  layout: string;
  bitrate: number;
  bytesSent: number;
  reconnects: number;
  lastError: string | null;
}

export function broadcastRow(entry: Json, details?: Json): BroadcastRow {
  const d = details ?? {};
  const stats = obj(d.stats ?? entry.stats);
  return {
    name: str(entry.name ?? d.name),
    state: str(stats.state, 'connecting'),
    streamUrl: str(entry.stream_url ?? d.stream_url),
    quality: str(d.quality),
    layout: str(obj(d.layout).name),
    bitrate: typeof stats.bitrate === 'number' ? stats.bitrate : 0,
    bytesSent: typeof stats.bytesSent === 'number' ? stats.bytesSent : 0,
    reconnects: typeof stats.reconnects === 'number' ? stats.reconnects : 0,
    lastError: typeof stats.lastError === 'string' ? stats.lastError : null,
  };
}

export function broadcastsTable(rows: BroadcastRow[]): string {
  if (rows.length === 0) return 'No broadcast is running.\n';
  return table(
    ['NAME', 'STATE', 'QUALITY', 'LAYOUT', 'BITRATE', 'SENT', 'RECONNECTS', 'URL', 'LAST ERROR'],
    rows.map((r) => [
      r.name,
      r.state,
      r.quality || '-',
      r.layout || '-',
      formatBitrate(r.bitrate),
      formatBytes(r.bytesSent),
      String(r.reconnects),
      r.streamUrl,
      r.lastError ?? '-',
    ]),
  );
}

/** One call of a QueryCalls answer, with its live state. */
export interface CallRow {
  cid: string;
  title: string;
  createdAt: string;
  ended: boolean;
  participants: number;
  broadcasts: Array<{ name: string; state: string }>;
}

export function callRow(state: Json): CallRow {
  const call = obj(state.call);
  const session = obj(call.session);
  return {
    cid: str(call.cid),
    title: str(obj(call.custom).title),
    createdAt: str(call.created_at),
    ended: typeof call.ended_at === 'string' && call.ended_at !== '',
    participants: list(session.participants).length,
    broadcasts: list(obj(call.egress).rtmps).map((b) => ({ name: str(b.name), state: str(obj(b.stats).state, 'connecting') })),
  };
}

export function callsTable(rows: CallRow[]): string {
  if (rows.length === 0) return 'No calls yet.\n';
  return table(
    ['CALL', 'TITLE', 'CREATED', 'STATE', 'PARTICIPANTS', 'BROADCASTS'],
    rows.map((r) => [
      r.cid,
      r.title || '-',
      r.createdAt ? r.createdAt.replace('T', ' ').replace(/\.\d+Z$|Z$/, 'Z') : '-',
      r.ended ? 'ended' : r.participants > 0 || r.broadcasts.length > 0 ? 'live' : 'idle',
      String(r.participants),
      r.broadcasts.length === 0 ? '-' : r.broadcasts.map((b) => `${b.name} (${b.state})`).join(', '),
    ]),
  );
}
