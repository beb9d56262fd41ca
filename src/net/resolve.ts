/**
 * Applies the destination policy where connections are made: the host is resolved once, every
 * address is checked, and the connection goes to that very address (the original host name stays
 * the TLS server name and the HTTP Host), so DNS cannot answer one address to the check and
 * another to the connect.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { type DestinationPolicy, formatIp, parseIpLiteral, type IpAddress } from './destination-policy.js';

/** A destination the policy refuses. Not retried: the address will not become allowed by waiting. */
export class DestinationRefusedError extends Error {
  override name = 'DestinationRefusedError';
  readonly code = 'DESTINATION_REFUSED';
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** How a host name is resolved (dns.lookup with all addresses; tests may pass their own). */
export type HostResolver = (host: string) => Promise<LookupAddress[]>;

export const systemResolver: HostResolver = (host) =>
  new Promise((resolve, reject) =>
    dnsLookup(host, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))),
  );

/** Resolves `host` and returns the first address the policy allows; throws DestinationRefusedError when none is. */
export async function resolveDestination(
  policy: DestinationPolicy,
  host: string,
  port: number,
  resolver: HostResolver = systemResolver,
): Promise<ResolvedAddress> {
  const literal = policy.checkLiteral(host, port);
  const ip = parseIpLiteral(host.replace(/^\[(.*)\]$/, '$1'));
  if (literal && !literal.allowed) throw new DestinationRefusedError(literal.reason);
  if (ip) return { address: formatIp(ip), family: ip.family };
  const addresses = await resolver(host);
  let firstRefusal: string | null = null;
  for (const a of addresses) {
    const parsed: IpAddress | null = parseIpLiteral(a.address);
    if (!parsed) continue;
    const decision = policy.checkAddress(host, parsed, port);
    if (decision.allowed) return { address: a.address, family: parsed.family };
    firstRefusal ??= decision.reason;
  }
  throw new DestinationRefusedError(firstRefusal ?? `destination ${host}:${port} resolved to no usable address`);
}

/**
 * A `lookup` for node's net/tls/http connections that only ever hands out an address the policy
 * allows (resolved once, then connected to). Node does not call `lookup` for IP literals: check
 * those with `policy.checkLiteral` before connecting.
 */
export function policyLookup(policy: DestinationPolicy, port: number, resolver: HostResolver = systemResolver): LookupFunction {
  return ((hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    resolveDestination(policy, hostname, port, resolver).then(
      (a) => (options?.all ? callback(null, [{ address: a.address, family: a.family }]) : callback(null, a.address, a.family)),
      (err: unknown) => callback(err),
    );
  }) as unknown as LookupFunction;
}
