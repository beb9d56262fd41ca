/**
 * The RTMP handshake against a strict peer: C2 must be S1 echoed byte for byte (librtmp's server
 * compares all 1536 bytes), including S1's second time field.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RtmpPublisher } from '../../src/rtmp/publisher.js';
import { parseRtmpTarget } from '../../src/rtmp/url.js';
import { startStrictRtmpServer, type StrictRtmpServer } from '../support/strict-rtmp-server.js';

describe('RTMP handshake with a strict server', { timeout: 60_000 }, () => {
  let server: StrictRtmpServer;
  before(async () => { server = await startStrictRtmpServer(); });
  after(async () => { await server.close(); });

  it('sends C2 as the exact echo of S1 and gets to publish', async () => {
    const pub = new RtmpPublisher(parseRtmpTarget(`rtmp://127.0.0.1:${server.port}/live`, 'strict-key'));
    try {
      await pub.connect();
    } finally {
      await pub.close().catch(() => undefined);
    }
    const hs = server.sessions[0]?.handshake;
    assert.ok(hs, 'the server read a C2');
    console.log(`C2 bytes differing from S1: ${hs.differingOffsets.length}`);
    assert.deepEqual(hs.differingOffsets, [], 'C2 equals S1 in all 1536 bytes');
    assert.equal(hs.c1.readUInt32BE(4), 0, "C1's second field is zero");
    assert.equal(server.sessions[0]!.published, 'strict-key');
  });
});
