/**
 * Pure pieces of the forwarding unit: the per-track packet cache, the keyframe-request throttle,
 * per-subscriber RTP rewriting, and the WHEP offer plan.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeyframeRequests } from '../../src/media/forwarding/keyframe-requests.js';
import { PacketCache, seqForward } from '../../src/media/forwarding/packet-cache.js';
import { RtpRewriter } from '../../src/media/forwarding/rtp-rewriter.js';
import { codecsCompatible, narrowOffer, planSubscription } from '../../src/media/forwarding/subscription-offer.js';
import { OfferError } from '../../src/media/sdp.js';

const OFFER = [
  'v=0',
  'o=- 1 1 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0 1',
  'a=ice-ufrag:abcd',
  'a=ice-pwd:0123456789012345678901',
  'a=fingerprint:sha-256 00:11',
  'm=video 9 UDP/TLS/RTP/SAVPF 98 99 102 103',
  'c=IN IP4 0.0.0.0',
  'a=mid:0',
  'a=recvonly',
  'a=rtpmap:98 VP8/90000',
  'a=rtcp-fb:98 nack',
  'a=rtcp-fb:98 nack pli',
  'a=rtpmap:99 rtx/90000',
  'a=fmtp:99 apt=98',
  'a=rtpmap:102 H264/90000',
  'a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
  'a=rtcp-fb:102 nack',
  'a=rtpmap:103 H264/90000',
  'a=fmtp:103 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f',
  'm=audio 9 UDP/TLS/RTP/SAVPF 109 0',
  'c=IN IP4 0.0.0.0',
  'a=mid:1',
  'a=recvonly',
  'a=rtpmap:109 opus/48000/2',
  'a=rtpmap:0 PCMU/8000',
  '',
].join('\r\n');

const VP8 = { payloadType: 96, name: 'VP8', clockRate: 90000 };
const H264 = { payloadType: 102, name: 'H264', clockRate: 90000, fmtp: 'packetization-mode=1;profile-level-id=42e01f' };
const OPUS = { payloadType: 111, name: 'opus', clockRate: 48000, channels: 2 };

describe('packet cache', () => {
  it('answers hits, tells lost packets inside its window from ones outside it, and wraps around', () => {
    const c = new PacketCache<string>(8);
    for (let s = 65530; s < 65530 + 10; s++) if (s !== 65534) c.put(7, s & 0xffff, `p${s & 0xffff}`);
    // newest is 3 (65539 & 0xffff); the window holds 65532..3
    assert.deepEqual(c.get(7, 3), { kind: 'hit', entry: { ssrc: 7, sequenceNumber: 3, packet: 'p3' } });
    assert.equal(c.get(7, 65533).kind, 'hit');
    assert.equal(c.get(7, 65534).kind, 'missing');
    assert.equal(c.get(7, 65531).kind, 'outside');
    assert.equal(c.get(7, 4).kind, 'outside');
    assert.equal(c.get(8, 3).kind, 'outside', 'another SSRC');
    // A reordered old packet does not move the window back.
    c.put(7, 65533, 'again');
    assert.equal(c.get(7, 3).kind, 'hit');
    // A new SSRC starts afresh.
    c.put(9, 100, 'x');
    assert.equal(c.get(7, 3).kind, 'outside');
    assert.equal(c.get(9, 100).kind, 'hit');
    assert.equal(seqForward(65535, 1), 2);
  });
});

describe('keyframe requests', () => {
  it('sends at most one per interval however many ask, and one more at the end of it for those who asked meanwhile', () => {
    let now = 0;
    const timers: { at: number; fn: () => void; cancelled: boolean }[] = [];
    const sentAt: number[] = [];
    const k = new KeyframeRequests({
      send: () => sentAt.push(now),
      intervalMs: 1000,
      now: () => now,
      setTimer: (fn, ms) => {
        const t = { at: now + ms, fn, cancelled: false };
        timers.push(t);
        return {
          cancel: () => {
            t.cancelled = true;
          },
        };
      },
    });
    const advance = (to: number) => {
      for (;;) {
        const next = timers.filter((t) => !t.cancelled && t.at <= to).sort((a, b) => a.at - b.at)[0];
        if (!next) break;
        next.cancelled = true;
        now = next.at;
        next.fn();
      }
      now = to;
    };
    k.request(); // sent at once
    for (let t = 100; t < 1000; t += 100) {
      advance(t);
      k.request();
    } // nine more askers
    advance(1000);
    assert.deepEqual(sentAt, [0, 1000]);
    advance(1500);
    k.request(); // inside the interval of the one at 1000: at 2000
    advance(3000);
    assert.deepEqual(sentAt, [0, 1000, 2000]);
    advance(5000);
    k.request(); // a quiet while later: at once
    assert.deepEqual(sentAt, [0, 1000, 2000, 5000]);
    assert.equal(k.sent, 4);
    assert.equal(k.coalesced, 10);
    k.request();
    k.close();
    advance(10_000);
    assert.equal(k.sent, 4, 'nothing after close');
  });
});

describe('RTP rewriting per subscriber', () => {
  it('starts where asked, keeps the source spacing, and continues across a source change', () => {
    const r = new RtpRewriter(90000, { sequenceNumber: 65534, timestamp: 4294967000 });
    assert.deepEqual(r.map(1, 1000, 5000, 0), { sequenceNumber: 65534, timestamp: 4294967000 });
    assert.deepEqual(r.map(1, 1001, 8000, 33), { sequenceNumber: 65535, timestamp: (4294967000 + 3000) >>> 0 });
    assert.deepEqual(r.map(1, 1002, 11000, 66), { sequenceNumber: 0, timestamp: (4294967000 + 6000) >>> 0 });
    // A reordered packet maps with the same offsets and does not become the newest.
    assert.deepEqual(r.map(1, 999, 2000, 70), { sequenceNumber: 65533, timestamp: (4294967000 - 3000) >>> 0 });
    assert.deepEqual(r.sourceSequence(0), { ssrc: 1, sequenceNumber: 1002 });
    assert.deepEqual(r.peek(1, 1001, 8000), { sequenceNumber: 65535, timestamp: (4294967000 + 3000) >>> 0 });
    assert.equal(r.peek(2, 1001, 8000), undefined);
    // New source 100 ms after the last packet (at 66 ms): sequence continues at 1, timestamp advances by 100 ms.
    const next = r.map(2, 40000, 123, 166);
    assert.deepEqual(next, { sequenceNumber: 1, timestamp: (4294967000 + 6000 + 9000) >>> 0 });
    assert.deepEqual(r.map(2, 40001, 123 + 3000, 200), { sequenceNumber: 2, timestamp: (4294967000 + 6000 + 9000 + 3000) >>> 0 });
    assert.equal(r.peek(1, 1001, 8000), undefined, 'the old source is gone');
  });
});

describe('WHEP offer plan', () => {
  it('takes the subscriber payload type of the codec the publisher sends, and narrows the offer to it', () => {
    const plan = planSubscription(OFFER, [
      { kind: 'video', codecs: [H264] },
      { kind: 'audio', codecs: [OPUS] },
    ]);
    assert.deepEqual(
      plan.accepted.map((a) => [a.kind, a.codec.payloadType, a.source.payloadType]),
      [
        ['video', 102, 102],
        ['audio', 109, 111],
      ],
    );
    const narrowed = narrowOffer(OFFER, plan);
    assert.match(narrowed, /^m=video 9 UDP\/TLS\/RTP\/SAVPF 102$/m);
    assert.match(narrowed, /^m=audio 9 UDP\/TLS\/RTP\/SAVPF 109$/m);
    assert.doesNotMatch(narrowed, /a=rtpmap:(98|99|103|0) /);
    assert.doesNotMatch(narrowed, /a=rtcp-fb:98 /);
    assert.match(narrowed, /a=rtcp-fb:102 nack/);
    assert.match(narrowed, /a=ice-ufrag:abcd/);

    const vp8 = planSubscription(OFFER, [{ kind: 'video', codecs: [VP8] }]);
    assert.deepEqual(
      vp8.accepted.map((a) => [a.kind, a.codec.payloadType]),
      [['video', 98]],
    );
    assert.deepEqual(
      vp8.refused.map((r) => [r.section.kind, r.reason]),
      [['audio', 'not_published']],
    );
    const n = narrowOffer(OFFER, vp8);
    assert.match(n, /m=audio[\s\S]*a=inactive/);
    assert.doesNotMatch(n, /m=audio[\s\S]*a=recvonly/);
  });

  it('refuses offers that cannot carry anything the participant sends', () => {
    const refuses = (offer: string, published: Parameters<typeof planSubscription>[1], pattern: RegExp) =>
      assert.throws(
        () => planSubscription(offer, published),
        (e: unknown) => e instanceof OfferError && e.status === 400 && pattern.test(e.message),
      );
    refuses('nonsense', [{ kind: 'video', codecs: [VP8] }], /v=0/);
    refuses(OFFER.replace(/a=recvonly/g, 'a=sendonly'), [{ kind: 'video', codecs: [VP8] }], /receives no audio or video/);
    refuses(OFFER, [{ kind: 'video', codecs: [{ payloadType: 100, name: 'VP9', clockRate: 90000 }] }], /none of the codecs/);
    refuses(OFFER.replace(/m=video[\s\S]*?(?=m=audio)/, ''), [{ kind: 'video', codecs: [VP8] }], /publishes none of the kinds/);
  });

  it('matches H.264 by packetization mode and profile', () => {
    const offered = (fmtp: string) => ({ payloadType: 1, name: 'H264', clockRate: 90000, fmtp });
    assert.ok(codecsCompatible(offered('packetization-mode=1;profile-level-id=42001f'), H264));
    assert.ok(!codecsCompatible(offered('packetization-mode=0;profile-level-id=42e01f'), H264));
    assert.ok(!codecsCompatible(offered('packetization-mode=1;profile-level-id=640032'), H264));
    assert.ok(codecsCompatible({ payloadType: 5, name: 'vp8', clockRate: 90000 }, VP8));
    assert.ok(!codecsCompatible({ payloadType: 5, name: 'VP8', clockRate: 48000 }, VP8));
  });
});
