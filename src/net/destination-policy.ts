/**
 * The destination policy for every outgoing connection a user can point the server at (RTMP(S)
 * ingests, images fetched for layouts): by default, targets that are or resolve to loopback,
 * private, link-local, unspecified, CGNAT, multicast or other non-public addresses are refused;
 * an operator's allow list (CALLCAST_RTMP_ALLOW) opens hosts, addresses, networks and ports.
 * Pure: parsing, classification and decisions. src/net/resolve.ts applies it to the address a
 * connection actually goes to.
 */
import { isIPv6 } from 'node:net';

export class DestinationPolicyError extends Error {
  override name = 'DestinationPolicyError';
}

/** An IP address: IPv4 as a 32-bit value, IPv6 as a 128-bit value. */
export type IpAddress = { family: 4; value: number } | { family: 6; value: bigint };

export type AddressClass =
  | 'public'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'unspecified'
  | 'cgnat'
  | 'multicast'
  | 'broadcast'
  | 'documentation'
  | 'benchmarking'
  | 'reserved'
  | 'unique-local';

export type Decision = { allowed: true; by?: string } | { allowed: false; reason: string };

// ---- IP literals -----------------------------------------------------------------------------

function parseIpv4Part(part: string): number | null {
  if (/^0x[0-9a-f]*$/i.test(part)) return part.length === 2 ? 0 : parseInt(part.slice(2), 16);
  if (/^0[0-7]*$/.test(part)) return part.length === 1 ? 0 : parseInt(part.slice(1), 8);
  if (/^[1-9][0-9]*$/.test(part)) return Number(part);
  return null;
}

/**
 * An IPv4 address in any form inet_aton (and so getaddrinfo, and WHATWG URL parsing) accepts:
 * dotted decimal, 1 to 4 parts, each decimal, octal (leading 0) or hex (0x): `127.0.0.1`,
 * `2130706433`, `0x7f000001`, `0177.0.0.1`, `127.1`. Null when `text` is not one.
 */
export function parseIpv4(text: string): number | null {
  const s = text.endsWith('.') ? text.slice(0, -1) : text;
  if (s === '' || !/^[0-9a-fx.]+$/i.test(s)) return null;
  const parts = s.split('.');
  if (parts.length > 4) return null;
  const nums: number[] = [];
  for (const p of parts) {
    const n = parseIpv4Part(p);
    if (n === null || !Number.isFinite(n)) return null;
    nums.push(n);
  }
  const last = nums.pop()!;
  for (const n of nums) if (n > 255) return null;
  const lastMax = 2 ** (8 * (4 - nums.length));
  if (last >= lastMax) return null;
  let value = 0;
  nums.forEach((n, i) => (value += n * 2 ** (24 - 8 * i)));
  return value + last;
}

/** An IPv6 address (brackets and a zone id allowed), as a 128-bit value; null when not one. */
export function parseIpv6(text: string): bigint | null {
  let s = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (!isIPv6(s)) return null;
  let groups: number[] = [];
  // An embedded dotted IPv4 tail becomes two groups.
  const lastColon = s.lastIndexOf(':');
  const tail = s.slice(lastColon + 1);
  let head = s;
  const tailGroups: number[] = [];
  if (tail.includes('.')) {
    const v4 = parseIpv4Strict(tail);
    if (v4 === null) return null;
    tailGroups.push(Math.floor(v4 / 65536), v4 % 65536);
    // 'a:b::1.2.3.4' keeps its '::'; 'a:b:c:d:e:f:1.2.3.4' drops the colon before the tail.
    head = s.slice(0, lastColon + 1).endsWith('::') ? s.slice(0, lastColon + 1) : s.slice(0, lastColon);
  }
  const double = head.indexOf('::');
  const toGroups = (x: string) => (x === '' ? [] : x.split(':').map((g) => parseInt(g, 16)));
  const want = 8 - tailGroups.length;
  if (double >= 0) {
    const left = toGroups(head.slice(0, double));
    const right = toGroups(head.slice(double + 2));
    groups = [...left, ...new Array<number>(want - left.length - right.length).fill(0), ...right];
  } else {
    groups = toGroups(head);
  }
  groups.push(...tailGroups);
  if (groups.length !== 8 || groups.some((g) => !Number.isInteger(g) || g < 0 || g > 0xffff)) return null;
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
}

function parseIpv4Strict(text: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return null;
  return parts.reduce((acc, p) => acc * 256 + p, 0);
}

/** The address a host names literally (any IPv4 form, IPv6 with or without brackets), or null. */
export function parseIpLiteral(host: string): IpAddress | null {
  const v4 = parseIpv4(host);
  if (v4 !== null) return { family: 4, value: v4 };
  const v6 = parseIpv6(host);
  if (v6 !== null) return { family: 6, value: v6 };
  return null;
}

export function formatIp(ip: IpAddress): string {
  if (ip.family === 4) {
    const v = ip.value;
    return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
  }
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((ip.value >> BigInt(16 * i)) & 0xffffn).toString(16));
  return groups
    .join(':')
    .replace(/(^|:)0(:0)+(:|$)/, '::')
    .replace(/:{3,}/, '::');
}

// ---- classification --------------------------------------------------------------------------

interface Net4 {
  base: number;
  bits: number;
  cls: AddressClass;
}
interface Net6 {
  base: bigint;
  bits: number;
  cls: AddressClass;
}

function net4(cidr: string, cls: AddressClass): Net4 {
  const [a, b] = cidr.split('/');
  return { base: parseIpv4Strict(a!)!, bits: Number(b), cls };
}

function net6(cidr: string, cls: AddressClass): Net6 {
  const [a, b] = cidr.split('/');
  return { base: parseIpv6(a!)!, bits: Number(b), cls };
}

const V4_NETS: Net4[] = [
  net4('0.0.0.0/8', 'unspecified'),
  net4('10.0.0.0/8', 'private'),
  net4('100.64.0.0/10', 'cgnat'),
  net4('127.0.0.0/8', 'loopback'),
  net4('169.254.0.0/16', 'link-local'),
  net4('172.16.0.0/12', 'private'),
  net4('192.0.0.0/24', 'reserved'),
  net4('192.0.2.0/24', 'documentation'),
  net4('192.88.99.0/24', 'reserved'),
  net4('192.168.0.0/16', 'private'),
  net4('198.18.0.0/15', 'benchmarking'),
  net4('198.51.100.0/24', 'documentation'),
  net4('203.0.113.0/24', 'documentation'),
  net4('224.0.0.0/4', 'multicast'),
  net4('255.255.255.255/32', 'broadcast'),
  net4('240.0.0.0/4', 'reserved'),
];

const V6_NETS: Net6[] = [
  net6('::/128', 'unspecified'),
  net6('::1/128', 'loopback'),
  net6('100::/64', 'reserved'),
  net6('2001::/23', 'reserved'),
  net6('2001:db8::/32', 'documentation'),
  net6('fc00::/7', 'unique-local'),
  net6('fe80::/10', 'link-local'),
  net6('fec0::/10', 'private'),
  net6('ff00::/8', 'multicast'),
];

function in4(value: number, base: number, bits: number): boolean {
  if (bits === 0) return true;
  const shift = 32 - bits;
  return Math.floor(value / 2 ** shift) === Math.floor(base / 2 ** shift);
}

function in6(value: bigint, base: bigint, bits: number): boolean {
  if (bits === 0) return true;
  const shift = BigInt(128 - bits);
  return value >> shift === base >> shift;
}

/** The IPv4 address an IPv6 one carries (mapped, compatible, NAT64, 6to4), if any. */
export function embeddedIpv4(v6: bigint): number | null {
  const low32 = Number(v6 & 0xffffffffn);
  if (v6 >> 32n === 0xffffn) return low32; // ::ffff:a.b.c.d (IPv4-mapped)
  if (v6 >> 32n === 0n && v6 > 1n) return low32; // ::a.b.c.d (IPv4-compatible, deprecated)
  if (v6 >> 32n === 0x0064ff9b0000000000000000n) return low32; // 64:ff9b::/96 (NAT64)
  if (v6 >> 112n === 0x2002n) return Number((v6 >> 80n) & 0xffffffffn); // 2002::/16 (6to4)
  return null;
}

/** What kind of address this is; only `public` ones are reachable by default. */
export function classifyAddress(ip: IpAddress): AddressClass {
  if (ip.family === 4) {
    for (const n of V4_NETS) if (in4(ip.value, n.base, n.bits)) return n.cls;
    return 'public';
  }
  const v4 = embeddedIpv4(ip.value);
  if (v4 !== null) return classifyAddress({ family: 4, value: v4 });
  for (const n of V6_NETS) if (in6(ip.value, n.base, n.bits)) return n.cls;
  // Only global unicast (2000::/3) is public.
  if (ip.value >> 125n !== 1n) return 'reserved';
  return 'public';
}

// ---- allow list ------------------------------------------------------------------------------

export type AllowRule =
  | { kind: 'any'; port: number; text: string }
  | { kind: 'host'; host: string; wildcard: boolean; port?: number; text: string }
  | { kind: 'net'; family: 4; base: number; bits: number; port?: number; text: string }
  | { kind: 'net6'; base: bigint; bits: number; port?: number; text: string };

function parsePortText(text: string, entry: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    throw new DestinationPolicyError(`"${entry}": the port must be 1-65535`);
  }
  return Number(text);
}

function parseBits(text: string | undefined, max: number, entry: string): number {
  if (text === undefined) return max;
  if (!/^\d{1,3}$/.test(text) || Number(text) > max) throw new DestinationPolicyError(`"${entry}": the prefix length must be 0-${max}`);
  return Number(text);
}

function parseAddressRule(addr: string, port: number | undefined, entry: string): AllowRule | null {
  const [ipText, bitsText, extra] = addr.split('/');
  if (extra !== undefined) throw new DestinationPolicyError(`"${entry}" is not a valid network`);
  const v4 = parseIpv4Strict(ipText!);
  if (v4 !== null) {
    const bits = parseBits(bitsText, 32, entry);
    return { kind: 'net', family: 4, base: v4, bits, ...(port !== undefined ? { port } : {}), text: entry };
  }
  const v6 = parseIpv6(ipText!);
  if (v6 !== null) {
    const bits = parseBits(bitsText, 128, entry);
    return { kind: 'net6', base: v6, bits, ...(port !== undefined ? { port } : {}), text: entry };
  }
  if (bitsText !== undefined) throw new DestinationPolicyError(`"${entry}" is not a valid network`);
  return null;
}

/**
 * Parses an allow list: comma-separated entries, each one of
 * `host` (a name: that name, whatever it resolves to; `*.example.com`: its subdomains),
 * an IP address or CIDR (`127.0.0.1`, `10.0.0.0/8`, `::1`, `fd00::/8`), any of these with a port
 * (`host:1935`, `10.0.0.0/8:1935`, `[::1]:1935`), or `*:port` (any destination on that port).
 * Throws DestinationPolicyError naming the bad entry.
 */
export function parseAllowList(text: string): AllowRule[] {
  const rules: AllowRule[] = [];
  for (const raw of text.split(',')) {
    const entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (entry.length > 300) throw new DestinationPolicyError('an entry is longer than 300 characters');
    // [v6] or [v6/bits], optionally :port
    const bracket = /^\[([^\]]+)\](?::(.*))?$/.exec(entry);
    if (bracket) {
      const port = bracket[2] !== undefined ? parsePortText(bracket[2], entry) : undefined;
      const rule = parseAddressRule(bracket[1]!, port, entry);
      if (!rule || rule.kind !== 'net6') throw new DestinationPolicyError(`"${entry}" is not a valid IPv6 address or network`);
      rules.push(rule);
      continue;
    }
    // A bare IPv6 address or network (more than one colon): no port.
    if ((entry.match(/:/g) ?? []).length > 1) {
      const rule = parseAddressRule(entry, undefined, entry);
      if (!rule) throw new DestinationPolicyError(`"${entry}" is not a valid IPv6 address or network (write [addr]:port for a port)`);
      rules.push(rule);
      continue;
    }
    const colon = entry.lastIndexOf(':');
    const hostPart = colon >= 0 ? entry.slice(0, colon) : entry;
    const port = colon >= 0 ? parsePortText(entry.slice(colon + 1), entry) : undefined;
    if (hostPart === '*') {
      if (port === undefined) throw new DestinationPolicyError('"*" alone would allow every destination; write *:port');
      rules.push({ kind: 'any', port, text: entry });
      continue;
    }
    const addressRule = parseAddressRule(hostPart, port, entry);
    if (addressRule) {
      rules.push(addressRule);
      continue;
    }
    const wildcard = hostPart.startsWith('*.');
    const name = wildcard ? hostPart.slice(2) : hostPart.replace(/\.$/, '');
    if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(name) || parseIpv4(name) !== null) {
      throw new DestinationPolicyError(`"${entry}" is not a host name, address, network or *:port`);
    }
    rules.push({ kind: 'host', host: name, wildcard, ...(port !== undefined ? { port } : {}), text: entry });
  }
  return rules;
}

// ---- decisions -------------------------------------------------------------------------------

function normalizeHost(host: string): string {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return h.toLowerCase().replace(/\.$/, '');
}

function ruleMatches(rule: AllowRule, host: string, ip: IpAddress | null, port: number): boolean {
  if (rule.port !== undefined && rule.port !== port) return false;
  switch (rule.kind) {
    case 'any':
      return true;
    case 'host':
      return rule.wildcard ? host.endsWith(`.${rule.host}`) : host === rule.host;
    case 'net': {
      // An IPv4 rule also covers the IPv4-mapped IPv6 form of its addresses.
      const v4 = ip?.family === 4 ? ip.value : ip && ip.value >> 32n === 0xffffn ? Number(ip.value & 0xffffffffn) : null;
      return v4 !== null && in4(v4, rule.base, rule.bits);
    }
    case 'net6':
      if (ip?.family === 6) return in6(ip.value, rule.base, rule.bits);
      return false;
  }
}

function refusal(what: string, cls: AddressClass): string {
  const article = /^[aeiou]/.test(cls) ? 'an' : 'a';
  return `destination ${what} is ${article} ${cls} address, which outgoing connections may not reach (the operator can allow it with CALLCAST_RTMP_ALLOW)`;
}

/** RFC 6761: `localhost` and its subdomains are loopback whatever DNS says. */
function isLocalhostName(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost');
}

export class DestinationPolicy {
  constructor(readonly rules: readonly AllowRule[] = []) {}

  /** A policy from an allow list text (CALLCAST_RTMP_ALLOW); undefined or empty: the default. */
  static fromAllowList(text: string | undefined): DestinationPolicy {
    return new DestinationPolicy(text ? parseAllowList(text) : []);
  }

  /**
   * The decision on an address a connection to `host`:`port` would go to. An allow rule matching
   * the host name, the address or the port wins; otherwise only public addresses are allowed.
   */
  checkAddress(host: string, address: IpAddress, port: number): Decision {
    const name = normalizeHost(host);
    const rule = this.rules.find((r) => ruleMatches(r, name, address, port));
    if (rule) return { allowed: true, by: rule.text };
    const cls = classifyAddress(address);
    if (cls === 'public') return { allowed: true };
    const shown = address.family === 6 ? `[${formatIp(address)}]` : formatIp(address);
    const what = parseIpLiteral(name) ? `${shown}:${port}` : `${name.includes(':') ? `[${name}]` : name}:${port} (${shown})`;
    return { allowed: false, reason: refusal(what, cls) };
  }

  /**
   * The decision that can be made from the host as written: a literal address (any IPv4 form,
   * IPv6) or `localhost` is decided now; a name is allowed here and decided on the address it
   * resolves to at connect time (`null`).
   */
  checkLiteral(host: string, port: number): Decision | null {
    const name = normalizeHost(host);
    const ip = parseIpLiteral(name);
    if (ip) return this.checkAddress(name, ip, port);
    if (isLocalhostName(name)) {
      const rule = this.rules.find(
        (r) => ruleMatches(r, name, { family: 4, value: 0x7f000001 }, port) || ruleMatches(r, name, { family: 6, value: 1n }, port),
      );
      if (rule) return { allowed: true, by: rule.text };
      return { allowed: false, reason: refusal(`${name}:${port}`, 'loopback') };
    }
    return null;
  }
}
