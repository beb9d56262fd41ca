/**
 * Offers from GStreamer's webrtcbin (a WebRTC stack we did not write) against the ingest's answer,
 * and the ICE configuration: bundle-only sections are received, an accepted section always has its
 * track, candidates are those of the addresses served, and no STUN server is used unless configured.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { before, describe, it } from 'node:test';
import { ConfigError, loadConfig, parseIceServers } from '../../src/config.js';
import { IngestPeer } from '../../src/media/ingest-peer.js';
import { acceptBundleOnly, inspectOffer, planOffer, refuseAnswerSections } from '../../src/media/sdp.js';
import { advertisedAnswer, createIngestPeer } from '../../src/media/webrtc.js';
import { gstAvailable, startGstPublisher } from '../support/gst-publisher.js';

const grants = { canSendAudio: true, canSendVideo: true };

function mLines(sdp: string): string[] {
  return sdp.split(/\r?\n/).filter((l) => l.startsWith('m='));
}

function section(sdp: string, kind: string): string[] {
  const lines = sdp.split(/\r?\n/);
  const start = lines.findIndex((l) => l.startsWith(`m=${kind} `));
  if (start < 0) return [];
  const end = lines.findIndex((l, i) => i > start && l.startsWith('m='));
  return lines.slice(start, end < 0 ? undefined : end);
}

/** Captures the offer a GStreamer publisher POSTs (answering 503 so it gives up). */
async function gstOffer(bundle: 'max-bundle' | 'max-compat', codec: 'vp8' | 'h264'): Promise<string> {
  let resolveOffer!: (s: string) => void;
  const got = new Promise<string>((r) => (resolveOffer = r));
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      res.writeHead(503).end();
      resolveOffer(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const pub = startGstPublisher({
    url: `http://127.0.0.1:${port}/whip`,
    token: 't',
    codec,
    bundle,
    color: 'ff0000',
    freq: 440,
    seconds: 15,
  });
  try {
    return await Promise.race([
      got,
      pub.waitFor('done', 20_000).then(() => {
        throw new Error(`no offer: ${pub.stderr()}`);
      }),
    ]);
  } finally {
    await pub.stop();
    await new Promise<void>((r) => server.close(() => r()));
  }
}

const gst = gstAvailable();

describe('GStreamer webrtcbin offers', { timeout: 120_000, skip: gst.ok ? false : gst.why }, () => {
  const offers = new Map<string, string>();
  before(async () => {
    offers.set('max-bundle', await gstOffer('max-bundle', 'vp8'));
    offers.set('max-compat', await gstOffer('max-compat', 'h264'));
  });

  it('max-bundle offers audio as a bundle-only section', () => {
    const audio = section(offers.get('max-bundle')!, 'audio');
    assert.match(audio[0]!, /^m=audio 0 /);
    assert.ok(audio.includes('a=bundle-only'));
    const s = inspectOffer(offers.get('max-bundle')!).sections.find((x) => x.kind === 'audio')!;
    assert.equal(s.port, 0);
    assert.equal(s.bundleOnly, true);
    assert.match(mLines(acceptBundleOnly(offers.get('max-bundle')!)).find((l) => l.startsWith('m=audio'))!, /^m=audio 9 /);
  });

  for (const bundle of ['max-bundle', 'max-compat'] as const) {
    it(`${bundle}: every section the answer accepts raises a track (audio and video)`, async () => {
      const offer = offers.get(bundle)!;
      const plan = planOffer(inspectOffer(offer), grants);
      const peer = await IngestPeer.answer(offer, plan, { host: '127.0.0.1', iceServers: [] });
      try {
        const kinds = peer.tracks.map((t) => t.kind).sort();
        console.log(`${bundle}: tracks ${kinds.join(', ')}; answer ${mLines(peer.answer).join(' | ')}`);
        for (const kind of ['audio', 'video']) {
          const m = section(peer.answer, kind);
          const accepted = !/^m=\S+ 0 /.test(m[0]!) && !m.includes('a=inactive');
          assert.ok(accepted, `${kind} is accepted in the answer`);
          assert.ok(kinds.includes(kind as 'audio' | 'video'), `the accepted ${kind} section has a track`);
        }
        assert.deepEqual(
          plan.refused.map((r) => r.reason),
          [],
        );
      } finally {
        await peer.close();
      }
    });
  }
});

describe('answers and ICE configuration', () => {
  const answer = [
    'v=0',
    'o=- 1 0 IN IP4 0.0.0.0',
    's=-',
    't=0 0',
    'a=group:BUNDLE 0 1',
    'm=video 9 UDP/TLS/RTP/SAVPF 96',
    'c=IN IP4 0.0.0.0',
    'a=mid:0',
    'a=recvonly',
    'a=rtpmap:96 VP8/90000',
    'a=candidate:1 1 udp 2116026367 10.77.0.1 40000 typ host',
    'a=candidate:2 1 udp 2116026367 0.0.0.0 40001 typ host',
    'a=candidate:3 1 udp 2116026367 10.78.0.1 40002 typ host',
    'a=end-of-candidates',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111',
    'c=IN IP4 0.0.0.0',
    'a=mid:1',
    'a=recvonly',
    'a=rtpmap:111 opus/48000/2',
    '',
  ].join('\r\n');

  it('refuses an unreceived section in the answer: port 0, inactive, out of the BUNDLE group', () => {
    const out = refuseAnswerSections(answer, new Set(['1']));
    assert.match(section(out, 'audio')[0]!, /^m=audio 0 /);
    assert.ok(section(out, 'audio').includes('a=inactive'));
    assert.ok(out.includes('a=group:BUNDLE 0\r\n'));
    assert.deepEqual(section(out, 'video'), section(answer, 'video'));
  });

  it('refuses a section the offerer disabled (port 0 without bundle-only)', () => {
    const offer = [
      'v=0',
      'o=- 1 0 IN IP4 0.0.0.0',
      's=-',
      't=0 0',
      'a=ice-ufrag:x',
      'a=ice-pwd:y',
      'a=fingerprint:sha-256 00',
      'm=video 9 UDP/TLS/RTP/SAVPF 96',
      'a=mid:0',
      'a=sendonly',
      'a=rtpmap:96 VP8/90000',
      'm=audio 0 UDP/TLS/RTP/SAVPF 111',
      'a=mid:1',
      'a=sendonly',
      'a=rtpmap:111 opus/48000/2',
      '',
    ].join('\r\n');
    const plan = planOffer(inspectOffer(offer), grants);
    assert.deepEqual(
      plan.refused.map((r) => `${r.section.kind}:${r.reason}`),
      ['audio:disabled'],
    );
  });

  it('every interface: one candidate per address served, never the wildcard; NAT: the public address', () => {
    const all = advertisedAnswer(answer, { host: undefined });
    const addrs = (s: string) =>
      s
        .split('\r\n')
        .filter((l) => l.startsWith('a=candidate:'))
        .map((l) => l.split(' ')[4]);
    assert.deepEqual(addrs(all), ['10.77.0.1', '10.78.0.1']);
    assert.deepEqual(addrs(advertisedAnswer(answer, { host: '10.77.0.1' })), ['10.77.0.1']);
    assert.deepEqual(addrs(advertisedAnswer(answer, { host: '10.77.0.1', publicIp: '203.0.113.7' })), ['203.0.113.7']);
    assert.deepEqual(addrs(advertisedAnswer(answer, { host: undefined, publicIp: '203.0.113.7' })), [
      '10.77.0.1',
      '203.0.113.7',
      '10.78.0.1',
      '203.0.113.7',
    ]);
  });

  it("uses no ICE server unless configured (not werift's default public STUN server)", async () => {
    const pc = createIngestPeer({ host: '127.0.0.1' });
    try {
      assert.deepEqual(pc.config.iceServers, []);
    } finally {
      await pc.close();
    }
    const configured = createIngestPeer({ host: '127.0.0.1', iceServers: [{ urls: 'stun:stun.example.net:3478' }] });
    try {
      assert.deepEqual(configured.config.iceServers, [{ urls: 'stun:stun.example.net:3478' }]);
    } finally {
      await configured.close();
    }
  });

  it('reads CALLCAST_ICE_SERVERS and CALLCAST_MEDIA_PUBLIC_IP, refusing bad values', () => {
    assert.equal(loadConfig({}).iceServers, undefined);
    assert.equal(loadConfig({}).mediaPublicIp, undefined);
    assert.deepEqual(parseIceServers('stun:stun.example.net:3478, turn:turn.example.net'), [
      { urls: ['stun:stun.example.net:3478'] },
      { urls: ['turn:turn.example.net'] },
    ]);
    assert.deepEqual(
      loadConfig({ CALLCAST_ICE_SERVERS: '[{"urls":["turns:t.example.net:443"],"username":"u","credential":"c"}]' }).iceServers,
      [{ urls: ['turns:t.example.net:443'], username: 'u', credential: 'c' }],
    );
    assert.throws(() => loadConfig({ CALLCAST_ICE_SERVERS: 'http://example.net' }), ConfigError);
    assert.throws(() => loadConfig({ CALLCAST_ICE_SERVERS: '[{"urls":5}]' }), ConfigError);
    assert.equal(loadConfig({ CALLCAST_MEDIA_PUBLIC_IP: '203.0.113.7' }).mediaPublicIp, '203.0.113.7');
    for (const bad of ['0.0.0.0', '127.0.0.1', 'example.net', '::1'])
      assert.throws(() => loadConfig({ CALLCAST_MEDIA_PUBLIC_IP: bad }), ConfigError, bad);
  });
});
