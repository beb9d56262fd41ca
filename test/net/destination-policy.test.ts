/** The destination policy's pure parts and the resolve-once connect helper. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyAddress, DestinationPolicy, formatIp, parseAllowList, parseIpLiteral } from '../../src/net/destination-policy.js';
import { DestinationRefusedError, resolveDestination } from '../../src/net/resolve.js';

function cls(host: string): string {
  const ip = parseIpLiteral(host);
  assert.ok(ip, `${host} is an IP literal`);
  return classifyAddress(ip);
}

test('IPv4 literals in every form getaddrinfo accepts', () => {
  for (const [text, dotted] of [
    ['127.0.0.1', '127.0.0.1'],
    ['2130706433', '127.0.0.1'],
    ['0x7f000001', '127.0.0.1'],
    ['0177.0.0.1', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['0x7f.0.1', '127.0.0.1'],
    ['169.254.169.254', '169.254.169.254'],
    ['0', '0.0.0.0'],
    ['127.0.0.1.', '127.0.0.1'],
  ] as const) {
    const ip = parseIpLiteral(text);
    assert.ok(ip && ip.family === 4, text);
    assert.equal(formatIp(ip), dotted, text);
  }
  for (const notIp of ['256.1.1.1', '1.2.3.4.5', 'example.com', '1e100.net', '08.1.1.1', '0x1g.0.0.1']) {
    assert.equal(parseIpLiteral(notIp), null, notIp);
  }
});

test('address classes: only public addresses are reachable by default', () => {
  const expected: Record<string, string> = {
    '127.0.0.1': 'loopback',
    '127.255.255.254': 'loopback',
    '::1': 'loopback',
    '[::1]': 'loopback',
    '10.0.0.1': 'private',
    '172.16.0.1': 'private',
    '172.31.255.255': 'private',
    '192.168.1.1': 'private',
    '169.254.169.254': 'link-local',
    'fe80::1': 'link-local',
    'fe80::1%eth0': 'link-local',
    '0.0.0.0': 'unspecified',
    '::': 'unspecified',
    '0.1.2.3': 'unspecified',
    '100.64.0.1': 'cgnat',
    '100.127.255.255': 'cgnat',
    '224.0.0.1': 'multicast',
    'ff02::1': 'multicast',
    '255.255.255.255': 'broadcast',
    'fd12:3456::1': 'unique-local',
    '2001:db8::1': 'documentation',
    '240.0.0.1': 'reserved',
    // IPv6 forms that carry an IPv4 address are judged by it.
    '::ffff:127.0.0.1': 'loopback',
    '::ffff:7f00:1': 'loopback',
    '::ffff:169.254.169.254': 'link-local',
    '::ffff:10.1.2.3': 'private',
    '64:ff9b::a9fe:a9fe': 'link-local',
    '2002:7f00:1::': 'loopback',
    '::127.0.0.1': 'loopback',
    '8.8.8.8': 'public',
    '172.32.0.1': 'public',
    '100.128.0.1': 'public',
    '2606:4700:4700::1111': 'public',
    '::ffff:8.8.8.8': 'public',
  };
  for (const [host, want] of Object.entries(expected)) assert.equal(cls(host), want, host);
});

test('the default policy refuses internal literals, with a reason naming the destination', () => {
  const policy = new DestinationPolicy();
  for (const [host, port, reason] of [
    ['127.0.0.1', 5432, /^destination 127\.0\.0\.1:5432 is a loopback address/],
    ['[::1]', 1935, /^destination \[::1\]:1935 is a loopback address/],
    ['169.254.169.254', 1935, /169\.254\.169\.254:1935 is a link-local address/],
    ['2130706433', 1935, /127\.0\.0\.1:1935 is a loopback address/],
    ['0.0.0.0', 1935, /0\.0\.0\.0:1935 is an unspecified address/],
    ['localhost', 1935, /localhost:1935 is a loopback address/],
    ['::ffff:127.0.0.1', 80, /loopback/],
  ] as const) {
    const d = policy.checkLiteral(host, port);
    assert.ok(d && !d.allowed, host);
    assert.match(d.reason, reason);
    assert.match(d.reason, /CALLCAST_RTMP_ALLOW/);
  }
  assert.deepEqual(policy.checkLiteral('8.8.8.8', 1935), { allowed: true });
  assert.equal(policy.checkLiteral('a.rtmps.youtube.com', 443), null, 'names are decided on the address they resolve to');
});

test('the allow list: hosts, wildcards, addresses, CIDRs, ports, *:port', () => {
  const policy = DestinationPolicy.fromAllowList(
    ' 127.0.0.1 , 10.0.0.0/8:1935, [::1]:1935, ingest.lan, *.studio.internal:443, *:8443, fd00::/8',
  );
  const allowed = (host: string, port: number, address?: string) =>
    address ? policy.checkAddress(host, parseIpLiteral(address)!, port).allowed : policy.checkLiteral(host, port)?.allowed;
  assert.equal(allowed('127.0.0.1', 5432), true);
  assert.equal(allowed('::ffff:127.0.0.1', 5432), true, 'an IPv4 rule covers the mapped form');
  assert.equal(allowed('127.0.0.2', 1935), false);
  assert.equal(allowed('10.20.30.40', 1935), true);
  assert.equal(allowed('10.20.30.40', 80), false, 'the rule names a port');
  assert.equal(allowed('[::1]', 1935), true);
  assert.equal(allowed('::1', 80), false);
  assert.equal(allowed('ingest.lan', 1935, '192.168.1.10'), true, 'an allowed name may resolve to anything');
  assert.equal(allowed('a.studio.internal', 443, '192.168.9.9'), true);
  assert.equal(allowed('studio.internal', 443, '192.168.9.9'), false, 'a wildcard covers subdomains only');
  assert.equal(allowed('a.studio.internal', 1935, '192.168.9.9'), false);
  assert.equal(allowed('other.example', 8443, '192.168.0.1'), true, '*:port opens the port everywhere');
  assert.equal(allowed('other.example', 1935, '192.168.0.1'), false);
  assert.equal(allowed('fd00::5', 1935), true);
  assert.deepEqual(parseAllowList(''), []);
  for (const [bad, why] of [
    ['*', /write \*:port/],
    ['10.0.0.0/33', /prefix length/],
    ['host:0', /port must be 1-65535/],
    ['ho st', /not a host name/],
    ['::1:1935x', /not a valid IPv6/],
    ['[::1', /not a valid IPv6/],
    ['1.2.3.4/8/9', /not a valid network/],
  ] as const) {
    assert.throws(() => parseAllowList(bad), why, bad);
  }
});

test('resolve once, check every address, connect to the one checked (DNS cannot rebind around it)', async () => {
  const policy = new DestinationPolicy();
  // A name whose every answer is internal is refused with the address it resolved to.
  const internal = async () => [
    { address: '127.0.0.1', family: 4 },
    { address: '::1', family: 6 },
  ];
  await assert.rejects(resolveDestination(policy, 'rebind.example', 1935, internal), (err: unknown) => {
    assert.ok(err instanceof DestinationRefusedError);
    assert.equal(err.code, 'DESTINATION_REFUSED');
    assert.match(err.message, /^destination rebind\.example:1935 \(127\.0\.0\.1\) is a loopback address/);
    return true;
  });
  // Mixed answers: only an allowed address is handed out.
  const mixed = async () => [
    { address: '10.0.0.5', family: 4 },
    { address: '93.184.215.14', family: 4 },
  ];
  assert.deepEqual(await resolveDestination(policy, 'mixed.example', 1935, mixed), { address: '93.184.215.14', family: 4 });
  // A rebinding resolver (public first, loopback after): each connect resolves once and goes to
  // the address it checked, so the second one is refused rather than connected.
  let calls = 0;
  const rebinding = async () => [{ address: calls++ === 0 ? '93.184.215.14' : '127.0.0.1', family: 4 }];
  assert.equal((await resolveDestination(policy, 'flip.example', 1935, rebinding)).address, '93.184.215.14');
  await assert.rejects(resolveDestination(policy, 'flip.example', 1935, rebinding), DestinationRefusedError);
  // Literals are decided without DNS.
  await assert.rejects(
    resolveDestination(policy, '2130706433', 1935, async () => assert.fail('no lookup for a literal')),
    /loopback/,
  );
  assert.deepEqual(await resolveDestination(DestinationPolicy.fromAllowList('127.0.0.1'), '0x7f.1', 1935), {
    address: '127.0.0.1',
    family: 4,
  });
});
