/**
 * RTMP(S) destination parsing: a platform's stream URL plus stream key -> where to connect,
 * which application to connect to and which stream name to publish. Pure. The stream name is
 * secret: the parsed target carries its printable form (`redacted`), which every log line and
 * error message uses, and `redactStreamName` scrubs it from text that came from elsewhere.
 */

export interface RtmpTarget {
  secure: boolean;
  /** Host name or IP address to connect to (IPv6 without brackets). */
  host: string;
  port: number;
  /** Application as sent in the connect command (path of the stream URL, query kept). */
  app: string;
  /** scheme://host[:port]/app as sent in the connect command. */
  tcUrl: string;
  /** Name to publish (the stream key, with its own query if any). Secret: never log it. */
  streamName: string;
  /** scheme://host:port/app for logs and error messages: no stream name, no query. */
  redacted: string;
}

export class RtmpUrlError extends Error {
  override readonly name = 'RtmpUrlError';
}

const DEFAULT_PORTS = { rtmp: 1935, rtmps: 443 } as const;
const MAX_URL_LENGTH = 4096;

function splitQuery(s: string): [string, string] {
  const i = s.indexOf('?');
  return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i)];
}

/**
 * `rtmp://` defaults to port 1935, `rtmps://` to 443. With a key, the app is the whole path of
 * the URL and the key is the stream name (as if appended as streamUrl/streamKey). Without a key,
 * the last path segment of the URL is the stream name. Error messages never contain the key or
 * the path (which may hold one).
 */
export function parseRtmpTarget(streamUrl: string, streamKey: string): RtmpTarget {
  if (typeof streamUrl !== 'string' || typeof streamKey !== 'string') throw new RtmpUrlError('stream URL and key must be strings');
  const url = streamUrl.trim();
  const key = streamKey.trim().replace(/^\/+/, '');
  if (url.length === 0) throw new RtmpUrlError('stream URL is empty');
  if (url.length > MAX_URL_LENGTH || key.length > MAX_URL_LENGTH) throw new RtmpUrlError('stream URL or key is too long');
  if (/[\s\u0000-\u001f\u007f]/.test(url) || /[\s\u0000-\u001f\u007f]/.test(key)) {
    throw new RtmpUrlError('stream URL or key contains whitespace or control characters');
  }
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)([^#]*)$/.exec(url);
  if (!m) throw new RtmpUrlError('stream URL is not of the form rtmp[s]://host[:port]/app');
  const scheme = m[1]!.toLowerCase();
  if (scheme !== 'rtmp' && scheme !== 'rtmps')
    throw new RtmpUrlError(`unsupported scheme "${scheme.slice(0, 16)}" (expected rtmp or rtmps)`);
  const authority = m[2]!;
  const rest = m[3]!;
  if (authority.includes('@')) throw new RtmpUrlError('credentials in the stream URL are not supported');

  let host: string;
  let hostForUrl: string;
  let portText: string | undefined;
  if (authority.startsWith('[')) {
    const end = authority.indexOf(']');
    if (end < 0) throw new RtmpUrlError('stream URL has an invalid IPv6 host');
    host = authority.slice(1, end);
    hostForUrl = authority.slice(0, end + 1);
    const after = authority.slice(end + 1);
    if (after !== '' && !after.startsWith(':')) throw new RtmpUrlError('stream URL has an invalid host');
    portText = after === '' ? undefined : after.slice(1);
    if (!/^[0-9a-fA-F:.]+$/.test(host)) throw new RtmpUrlError('stream URL has an invalid IPv6 host');
  } else {
    const colon = authority.lastIndexOf(':');
    host = colon < 0 ? authority : authority.slice(0, colon);
    portText = colon < 0 ? undefined : authority.slice(colon + 1);
    if (!/^[A-Za-z0-9.-]+$/.test(host) || host.startsWith('.') || host.startsWith('-')) {
      throw new RtmpUrlError('stream URL has an invalid host');
    }
    host = host.toLowerCase();
    hostForUrl = host;
  }
  if (host.length === 0) throw new RtmpUrlError('stream URL has no host');
  let port: number = DEFAULT_PORTS[scheme];
  if (portText !== undefined) {
    if (!/^[0-9]{1,5}$/.test(portText)) throw new RtmpUrlError('stream URL has an invalid port');
    port = Number(portText);
    if (port < 1 || port > 65535) throw new RtmpUrlError('stream URL port is out of range');
  }

  let [path, query] = splitQuery(rest);
  path = path.replace(/^\/+/, '').replace(/\/+$/, '');
  let app: string;
  let streamName: string;
  if (key.length > 0) {
    app = path + query;
    streamName = key;
  } else {
    const slash = path.lastIndexOf('/');
    if (slash < 0) throw new RtmpUrlError('no stream key given and the stream URL has no stream name after the application');
    app = path.slice(0, slash).replace(/\/+$/, '');
    streamName = path.slice(slash + 1) + query;
  }
  if (app.length === 0 || app.startsWith('?')) throw new RtmpUrlError('stream URL has no application path (rtmp[s]://host[:port]/app)');
  if (streamName.length === 0 || streamName.startsWith('?')) throw new RtmpUrlError('stream key is empty');

  const explicitPort = portText !== undefined ? `:${port}` : '';
  const secure = scheme === 'rtmps';
  return {
    secure,
    host,
    port,
    app,
    tcUrl: `${scheme}://${hostForUrl}${explicitPort}/${app}`,
    streamName,
    redacted: describeTarget({ secure, host, port, app }),
  };
}

/** scheme://host:port/app for logs and error messages: no stream name, no query. */
export function describeTarget(t: Pick<RtmpTarget, 'secure' | 'host' | 'port' | 'app'>): string {
  const host = t.host.includes(':') ? `[${t.host}]` : t.host;
  const [app] = splitQuery(t.app);
  return `${t.secure ? 'rtmps' : 'rtmp'}://${host}:${t.port}/${app}`;
}

/**
 * `text` with the target's stream name (and the name without its query) replaced by "***", for
 * text the target does not control: a server's status description, a socket error.
 */
export function redactStreamName(target: Pick<RtmpTarget, 'streamName'>, text: string): string {
  let out = text;
  const name = target.streamName;
  for (const s of [name, name.split('?')[0] ?? '']) {
    if (s.length >= 3) out = out.split(s).join('***');
  }
  return out;
}
