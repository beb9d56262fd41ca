/** The configuration of the hardening settings: CALLCAST_RTMP_ALLOW and CALLCAST_WEBHOOK_RETRY_HORIZON. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';

test('CALLCAST_RTMP_ALLOW is validated when the configuration is read', () => {
  assert.equal(loadConfig({ CALLCAST_RTMP_ALLOW: '127.0.0.1, 10.0.0.0/8:1935, *:8443' }).rtmpAllow, '127.0.0.1, 10.0.0.0/8:1935, *:8443');
  assert.equal(loadConfig({}).rtmpAllow, undefined, 'unset: the default policy');
  assert.throws(
    () => loadConfig({ CALLCAST_RTMP_ALLOW: '*' }),
    (err: Error) => err instanceof ConfigError && /^CALLCAST_RTMP_ALLOW: "\*" alone would allow every destination/.test(err.message),
  );
  assert.throws(() => loadConfig({ CALLCAST_RTMP_ALLOW: '10.0.0.0/40' }), /CALLCAST_RTMP_ALLOW: "10\.0\.0\.0\/40": the prefix length/);
});

test('CALLCAST_WEBHOOK_RETRY_HORIZON is whole seconds from 1 s to 30 days', () => {
  assert.equal(loadConfig({ CALLCAST_WEBHOOK_RETRY_HORIZON: '120' }).webhookRetryHorizonSeconds, 120);
  assert.equal(loadConfig({}).webhookRetryHorizonSeconds, undefined, 'unset: 24 h');
  for (const bad of ['0', '-5', '1.5', '2592001', '1h']) {
    assert.throws(
      () => loadConfig({ CALLCAST_WEBHOOK_RETRY_HORIZON: bad }),
      (err: Error) => err instanceof ConfigError && /CALLCAST_WEBHOOK_RETRY_HORIZON must be a whole number of seconds/.test(err.message),
      bad,
    );
  }
});
