/**
 * Publishers and ingests we did not write, end to end: GStreamer's webrtcbin publishes over WHIP
 * (VP8 and H.264, max-bundle and max-compat) from its own network namespace, gathering on its own
 * veth (libnice, no STUN, UPnP off); the service runs in a second namespace and broadcasts each call
 * to nginx-rtmp and node-media-server (RTMP and RTMPS); rtmpdump pulls both back. The colour and
 * the tone are checked in everything that arrived. Interfaces: every interface (0.0.0.0), one
 * routable address, and behind 1:1 NAT with CALLCAST_MEDIA_PUBLIC_IP.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { gstAvailable } from '../support/gst-publisher.js';
import { createNetnsPair, netnsPermitted, type NetnsPair } from '../support/netns.js';
import type { Pairing, PairingResult, Scenario } from './fixtures/gst-broadcast.js';

const execFileP = promisify(execFile);
const FIXTURE = fileURLToPath(new URL('./fixtures/gst-broadcast.ts', import.meta.url));

const PAIRINGS: Pairing[] = [
  { codec: 'vp8', bundle: 'max-bundle', color: 'ff0000', freq: 440 },
  { codec: 'h264', bundle: 'max-bundle', color: '0000ff', freq: 660 },
  { codec: 'vp8', bundle: 'max-compat', color: '00ff00', freq: 880 },
  { codec: 'h264', bundle: 'max-compat', color: 'ff00ff', freq: 550 },
];

function rgbOf(hex: string): [number, number, number] {
  return [parseInt(hex.slice(0, 2), 16), parseInt(hex.slice(2, 4), 16), parseInt(hex.slice(4, 6), 16)];
}

async function runScenario(pair: NetnsPair, sc: Omit<Scenario, 'pubNetns' | 'serverAddress'>): Promise<PairingResult[]> {
  const scenario: Scenario = { pubNetns: pair.publisher, serverAddress: pair.serverAddress, ...sc };
  return await new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', pair.server, process.execPath, '--import', 'tsx', FIXTURE], {
      env: { ...process.env, INTEROP_SCENARIO: JSON.stringify(scenario) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '',
      err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      if (err.length < 20_000) err += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20 * 60_000);
    child.on('exit', () => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (!line) return reject(new Error(`the scenario printed no result: ${out.slice(-2000)} ${err.slice(-3000)}`));
      resolve(JSON.parse(line.slice(7)) as PairingResult[]);
    });
  });
}

function report(mode: string, results: PairingResult[]): void {
  for (const r of results) {
    console.log(
      `[${mode}] ${r.pairing?.codec} ${r.pairing?.bundle}: answer ${r.answerAudio ?? '-'}; candidates ${r.answerCandidates?.join(', ') ?? '-'}; ice ${r.ice?.join('>') ?? '-'}${r.error ? `; ERROR ${r.error}` : ''}`,
    );
    for (const x of r.readings) {
      console.log(
        `    ${x.source}: ${x.ok ? `${x.video}/${x.audio} ${x.durationS?.toFixed(1)} s, centre rgb ${x.rgb?.join(',')}, tone ${x.tone?.toExponential(2)} vs ${x.off?.toExponential(2)}, tone in ${x.windowsWithTone}/${x.windows} windows of 100 ms` : `FAILED ${x.error}`}`,
      );
    }
    if (r.stats) console.log(`    group stats ${JSON.stringify((r.stats as { group?: unknown }).group)}`);
  }
}

function checkPicturesAndTones(results: PairingResult[], pairings: Pairing[]): void {
  assert.equal(results.length, pairings.length);
  for (const [i, r] of results.entries()) {
    const p = pairings[i]!;
    const what = `${p.codec} ${p.bundle}`;
    assert.equal(r.error, undefined, `${what}: ${r.error}`);
    assert.ok(r.answerAudio && !/^m=audio 0 /.test(r.answerAudio), `${what}: the answer accepts the audio section (${r.answerAudio})`);
    assert.equal(r.readings.length, 4, `${what}: four readings`);
    for (const x of r.readings) {
      assert.ok(x.ok, `${what} / ${x.source}: ${x.error}`);
      assert.equal(x.video, 'h264', `${what} / ${x.source}: video codec`);
      assert.equal(x.audio, 'aac', `${what} / ${x.source}: audio codec`);
      const want = rgbOf(p.color);
      const got = x.rgb!;
      assert.ok(
        want.every((c, k) => Math.abs(c - got[k]!) <= 60),
        `${what} / ${x.source}: centre ${got.join(',')} is the publisher's colour ${want.join(',')}`,
      );
      assert.ok(x.tone! > 10 * x.off!, `${what} / ${x.source}: the ${p.freq} Hz tone is heard (${x.tone} vs ${x.off})`);
    }
  }
}

const gst = gstAvailable();

describe('GStreamer publishers into broadcasts at nginx-rtmp and node-media-server', {
  timeout: 30 * 60_000,
  skip: gst.ok ? false : gst.why,
}, () => {
  let pair: NetnsPair | undefined;
  let skipWhy: string | undefined;
  before(async () => {
    const allowed = await netnsPermitted();
    if (!allowed.ok) {
      skipWhy = allowed.why;
      return;
    }
    pair = await createNetnsPair('gst');
  });
  after(async () => {
    await pair?.remove();
  });

  it('every interface (CALLCAST_MEDIA_HOST=0.0.0.0): each pairing, picture and tone at both ingests and pulled back', async (t) => {
    if (!pair) return t.skip(skipWhy);
    const results = await runScenario(pair, { mediaHost: '0.0.0.0', pairings: PAIRINGS });
    report('every interface', results);
    for (const r of results) {
      assert.ok(r.answerCandidates && r.answerCandidates.length > 0, 'the answer has candidates');
      assert.ok(!r.answerCandidates.includes('0.0.0.0'), 'no wildcard candidate');
      assert.deepEqual(
        [...new Set(r.answerCandidates)],
        [pair.serverAddress],
        'a candidate for the one address served (the veth; loopback is not advertised)',
      );
    }
    checkPicturesAndTones(results, PAIRINGS);
  });

  it('one routable address (CALLCAST_MEDIA_HOST=<veth address>)', async (t) => {
    if (!pair) return t.skip(skipWhy);
    const pairings = [PAIRINGS[0]!];
    const results = await runScenario(pair, { mediaHost: pair.serverAddress, pairings });
    report('one address', results);
    assert.deepEqual([...new Set(results[0]!.answerCandidates)], [pair.serverAddress]);
    checkPicturesAndTones(results, pairings);
  });

  it('behind 1:1 NAT (CALLCAST_MEDIA_PUBLIC_IP): the answer advertises the public address and media flows through the NAT', async (t) => {
    if (!pair) return t.skip(skipWhy);
    const iptables = await execFileP('iptables', ['--version']).then(
      () => true,
      () => false,
    );
    if (!iptables) return t.skip('iptables is not installed (scripts/install-system-deps.sh test)');
    const publicIp = pair.spareAddress;
    // The "NAT" in front of the service: packets to the public address go to the veth address.
    await pair.exec(pair.server, [
      'iptables',
      '-t',
      'nat',
      '-A',
      'PREROUTING',
      '-d',
      publicIp,
      '-j',
      'DNAT',
      '--to-destination',
      pair.serverAddress,
    ]);
    await pair.exec(pair.publisher, ['ip', 'route', 'add', `${publicIp}/32`, 'via', pair.serverAddress]);
    // The publisher cannot reach the private address over UDP: media can only come through the NAT.
    await pair.exec(pair.publisher, ['iptables', '-A', 'OUTPUT', '-p', 'udp', '-d', pair.serverAddress, '-j', 'DROP']);
    const pairings = [PAIRINGS[3]!];
    const results = await runScenario(pair, { mediaHost: pair.serverAddress, publicIp, pairings });
    report('NAT', results);
    assert.deepEqual([...new Set(results[0]!.answerCandidates)], [publicIp], 'only the public address is advertised');
    checkPicturesAndTones(results, pairings);
  });
});
