/**
 * The configuration's media settings: the ffmpeg executable and the address media is received
 * on, read from the environment by `loadConfig` (pure) and resolved by `mediaAddress`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, DEFAULT_FFMPEG_PATH, loadConfig, mediaAddress } from '../src/config.js';

describe('loadConfig: ffmpeg', () => {
  it('leaves the executable to the default when CALLCAST_FFMPEG is unset or blank', () => {
    assert.equal(loadConfig({}).ffmpegPath, undefined);
    assert.equal(loadConfig({ CALLCAST_FFMPEG: '   ' }).ffmpegPath, undefined);
    assert.equal(DEFAULT_FFMPEG_PATH, 'ffmpeg');
  });
  it('takes a command name or a path, trimmed', () => {
    assert.equal(loadConfig({ CALLCAST_FFMPEG: '/opt/ffmpeg 7/bin/ffmpeg ' }).ffmpegPath, '/opt/ffmpeg 7/bin/ffmpeg');
    assert.equal(loadConfig({ CALLCAST_FFMPEG: 'ffmpeg7' }).ffmpegPath, 'ffmpeg7');
  });
  it('refuses control characters', () => {
    assert.throws(() => loadConfig({ CALLCAST_FFMPEG: 'ff\nmpeg' }), ConfigError);
    assert.throws(() => loadConfig({ CALLCAST_FFMPEG: 'ff\u0000mpeg' }), /CALLCAST_FFMPEG/);
  });
});

describe('loadConfig: media host', () => {
  it('is absent unless CALLCAST_MEDIA_HOST is given', () => {
    assert.equal(loadConfig({}).mediaHost, undefined);
    assert.equal(loadConfig({ CALLCAST_MEDIA_HOST: '' }).mediaHost, undefined);
  });
  it('takes IPv4 and IPv6 addresses, localhost and the wildcards', () => {
    for (const host of ['192.0.2.10', '127.0.0.1', '::1', '2001:db8::5', 'localhost', '0.0.0.0', '::']) {
      assert.equal(loadConfig({ CALLCAST_MEDIA_HOST: host }).mediaHost, host);
    }
  });
  it('refuses names and malformed addresses', () => {
    for (const host of ['media.example.com', '192.0.2', '300.1.1.1', 'http://192.0.2.10']) {
      assert.throws(() => loadConfig({ CALLCAST_MEDIA_HOST: host }), /CALLCAST_MEDIA_HOST must be an IP address/, host);
    }
  });
});

describe('mediaAddress', () => {
  it('is the media host, else the HTTP host', () => {
    assert.equal(mediaAddress('192.0.2.10', '127.0.0.1'), '192.0.2.10');
    assert.equal(mediaAddress(undefined, '192.0.2.20'), '192.0.2.20');
  });
  it('means every interface for a wildcard or no host, and 127.0.0.1 for localhost', () => {
    assert.equal(mediaAddress('0.0.0.0', '127.0.0.1'), undefined);
    assert.equal(mediaAddress('::', '127.0.0.1'), undefined);
    assert.equal(mediaAddress(undefined, '0.0.0.0'), undefined);
    assert.equal(mediaAddress(undefined, undefined), undefined);
    assert.equal(mediaAddress('localhost', '0.0.0.0'), '127.0.0.1');
    assert.equal(mediaAddress(undefined, 'localhost'), '127.0.0.1');
  });
  it('resolves a loaded configuration', () => {
    const c = loadConfig({ CALLCAST_HOST: '0.0.0.0', CALLCAST_MEDIA_HOST: '192.0.2.10' });
    assert.equal(mediaAddress(c.mediaHost, c.host), '192.0.2.10');
    const d = loadConfig({ CALLCAST_HOST: '0.0.0.0' });
    assert.equal(mediaAddress(d.mediaHost, d.host), undefined);
  });
});
