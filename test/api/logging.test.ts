/**
 * Secrets stay out of the logs: with the most verbose level, a session of requests (including
 * failures, bad tokens and broadcasts with stream keys) never writes the API secret, a token or a
 * stream key.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { it } from 'node:test';
import { createLogger } from '../../src/log.js';
import { rawRequest, startTestServer } from '../support/server.js';

it('never logs the API secret, tokens or stream keys', async () => {
  let output = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      output += chunk.toString();
      cb();
    },
  });
  const t = await startTestServer({ log: createLogger('trace', sink) });
  const streamKey = 'sk-live-0123456789abcdef';
  const userToken = t.client.generateUserToken({ user_id: 'u' });
  try {
    const call = t.client.video.call('default', 'logs');
    await call.getOrCreate({ data: { created_by_id: 'u' } });
    await call.startRTMPBroadcasts({ broadcasts: [{ name: 'yt', stream_url: 'rtmps://a.example.test/live2', stream_key: streamKey }] });
    t.engine.reportFailed('default:logs', 'yt', 'connection refused');
    await call.startRTMPBroadcasts({ broadcasts: [{ name: 'yt2', stream_url: 'rtmps://a.example.test/live2', stream_key: streamKey }] });
    await rawRequest(t, 'POST', '/api/v2/video/call/default/logs/rtmp_broadcasts', {
      token: userToken,
      body: { broadcasts: [{ name: 'x', stream_url: 'rtmp://a.example.test/app', stream_key: streamKey }] },
    });
    await rawRequest(t, 'GET', '/api/v2/video/call/default/logs', { token: `${userToken}x` });
    await rawRequest(t, 'POST', '/api/v2/video/call/default/logs', { token: userToken, body: '{broken' });
    await call.stopAllRTMPBroadcasts();
    await call.end();
  } finally {
    await t.close();
  }
  assert.ok(output.length > 0, 'the logger wrote something');
  assert.ok(output.includes('"broadcast started"'), 'broadcast lifecycle is logged');
  assert.ok(!output.includes(t.apiSecret), 'API secret in logs');
  assert.ok(!output.includes(streamKey), 'stream key in logs');
  assert.ok(!output.includes(userToken), 'token in logs');
});
