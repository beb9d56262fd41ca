/** The pure parts of cluster mode: placement by load, lease values, which requests need the owner. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { leaseValue, parseLease } from '../../src/cluster/leases.js';
import { chooseNode, type Candidate } from '../../src/cluster/placement.js';
import { forwardedHops, forwardProof, ownerNeed } from '../../src/cluster/routing.js';

const node = (id: string, o: Partial<Candidate> = {}): Candidate => ({
  id,
  url: `http://127.0.0.1/${id}`,
  cpu: 0,
  groups: 0,
  participants: 0,
  full: null,
  draining: false,
  at: 0,
  calls: 0,
  ...o,
});

describe('chooseNode', () => {
  it('takes a node with the least CPU (within a step), then the fewest encodes, calls, participants', () => {
    assert.equal(
      (chooseNode([node('a', { cpu: 0.7 }), node('b', { cpu: 0.1 }), node('c', { cpu: 0.5 })]) as { node: Candidate }).node.id,
      'b',
    );
    // CPU within one step is noise: encodes decide.
    assert.equal(
      (chooseNode([node('a', { cpu: 0.05, groups: 2 }), node('b', { cpu: 0.12, groups: 1 })]) as { node: Candidate }).node.id,
      'b',
    );
    assert.equal(
      (chooseNode([node('a', { calls: 2 }), node('b', { calls: 1 }), node('c', { calls: 3 })]) as { node: Candidate }).node.id,
      'b',
    );
    assert.equal((chooseNode([node('b'), node('a')]) as { node: Candidate }).node.id, 'a');
    // Figures either side of a round number are as close as any others.
    assert.equal(
      (chooseNode([node('a', { cpu: 0.19, calls: 1 }), node('b', { cpu: 0.21, calls: 0 })]) as { node: Candidate }).node.id,
      'b',
    );
    // Unmeasured CPU counts as none.
    assert.equal((chooseNode([node('a', { cpu: 0.5 }), node('b', { cpu: null, calls: 4 })]) as { node: Candidate }).node.id, 'b');
  });

  it('skips full and draining nodes', () => {
    const d = chooseNode([node('a', { full: 'cpu' }), node('b', { draining: true, cpu: 0 }), node('c', { cpu: 0.9, groups: 9 })]);
    assert.equal((d as { node: Candidate }).node.id, 'c');
  });

  it('says why when every node is full, or none is live', () => {
    const d = chooseNode([node('a', { full: 'it uses 95% of its CPU' }), node('b', { full: '1 encode behind real time' })]);
    assert.ok('full' in d);
    assert.match(d.full, /every node of the cluster is at capacity \(a: it uses 95% of its CPU; b: 1 encode behind real time\)/);
    const none = chooseNode([]);
    assert.ok('full' in none && /no node/.test(none.full));
  });
});

describe('lease values', () => {
  it('round-trip, node ids with spaces or colons included', () => {
    assert.deepEqual(parseLease(leaseValue({ node: 'host:3030', token: 42 })), { node: 'host:3030', token: 42 });
    assert.equal(parseLease(null), null);
    assert.equal(parseLease('no-token'), null);
    assert.equal(parseLease('a x'), null);
  });
});

describe('ownerNeed', () => {
  it('forwards broadcast operations, starts placing; redirects WHIP (placing) and WHEP offers', () => {
    assert.deepEqual(ownerNeed('POST', 'StartRTMPBroadcasts', '/video/call/:type/:id/rtmp_broadcasts'), { kind: 'forward', place: true });
    assert.deepEqual(ownerNeed('POST', 'StopRTMPBroadcast', undefined), { kind: 'forward', place: false });
    assert.deepEqual(ownerNeed('PATCH', 'UpdateRTMPBroadcast', undefined), { kind: 'forward', place: false });
    assert.deepEqual(ownerNeed('POST', 'WhipPublish', '/video/call/:type/:id/whip'), { kind: 'redirect', place: true });
    assert.deepEqual(ownerNeed('POST', undefined, '/video/call/:type/:id/participants/:sessionId/whep'), {
      kind: 'redirect',
      place: false,
    });
    // A browser's offer is proxied (it cannot follow a cross-origin redirect with its token).
    assert.deepEqual(ownerNeed('POST', 'WhipPublish', '/video/call/:type/:id/whip', true), { kind: 'forward', place: true });
    assert.deepEqual(ownerNeed('POST', undefined, '/api/v2/video/call/:type/:id/rtmp_broadcasts/:name/whep', true), {
      kind: 'forward',
      place: false,
    });
    // Session resources reached on another node (after a proxied offer) go to the owner.
    assert.deepEqual(ownerNeed('PATCH', 'WhipTrickle', '/video/call/:type/:id/whip/:resourceId'), { kind: 'forward', place: false });
    assert.deepEqual(ownerNeed('DELETE', undefined, '/video/call/:type/:id/participants/:sessionId/whep/:resourceId'), {
      kind: 'forward',
      place: false,
    });
    assert.equal(ownerNeed('OPTIONS', undefined, '/video/call/:type/:id/whip'), null);
    assert.equal(ownerNeed('GET', 'GetCall', '/video/call/:type/:id'), null);
  });
});

describe('forwarded requests', () => {
  const url = '/api/v2/video/call/default/c1/rtmp_broadcasts?api_key=k';
  it('count their hops only with a node-made proof', () => {
    const proof = forwardProof('secret', 1, 'POST', url);
    assert.equal(forwardedHops('secret', 'POST', url, '1', proof), 1);
    assert.equal(forwardedHops('secret', 'POST', url, '1', undefined), 0, 'no proof: a client');
    assert.equal(forwardedHops('other', 'POST', url, '1', proof), 0, 'another secret');
    assert.equal(forwardedHops('secret', 'POST', url, '2', proof), 0, 'another hop count');
    assert.equal(forwardedHops('secret', 'DELETE', url, '1', proof), 0, 'another method');
    assert.equal(forwardedHops('secret', 'POST', `${url}&x=1`, '1', proof), 0, 'another URL');
    assert.equal(forwardedHops('secret', 'POST', url, 'x', proof), 0);
  });
});
