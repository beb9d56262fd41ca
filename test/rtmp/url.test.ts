import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { describeTarget, parseRtmpTarget, redactStreamName, RtmpUrlError } from '../../src/rtmp/url.js';

describe('parseRtmpTarget', () => {
  it('YouTube RTMPS: default port 443, app from the path, key as stream name', () => {
    assert.deepEqual(parseRtmpTarget('rtmps://a.rtmps.youtube.com/live2', 'abcd-efgh-ijkl'), {
      secure: true,
      host: 'a.rtmps.youtube.com',
      port: 443,
      app: 'live2',
      tcUrl: 'rtmps://a.rtmps.youtube.com/live2',
      streamName: 'abcd-efgh-ijkl',
      redacted: 'rtmps://a.rtmps.youtube.com:443/live2',
    });
  });

  it('plain RTMP defaults to 1935; explicit ports are kept in tcUrl', () => {
    const t = parseRtmpTarget('rtmp://live.twitch.tv/app/', 'live_123');
    assert.equal(t.port, 1935);
    assert.equal(t.app, 'app');
    assert.equal(t.tcUrl, 'rtmp://live.twitch.tv/app');
    const p = parseRtmpTarget('RTMP://127.0.0.1:19350/live', '/key');
    assert.equal(p.port, 19350);
    assert.equal(p.tcUrl, 'rtmp://127.0.0.1:19350/live');
    assert.equal(p.streamName, 'key', 'no doubled slash');
  });

  it('multi-segment apps and IPv6 hosts', () => {
    const t = parseRtmpTarget('rtmp://host/app/instance', 'k');
    assert.equal(t.app, 'app/instance');
    assert.equal(t.streamName, 'k');
    const v6 = parseRtmpTarget('rtmps://[::1]:4443/live', 'k');
    assert.equal(v6.host, '::1');
    assert.equal(v6.port, 4443);
    assert.equal(v6.tcUrl, 'rtmps://[::1]:4443/live');
    assert.equal(describeTarget(v6), 'rtmps://[::1]:4443/live');
  });

  it('without a key, the last path segment is the stream name', () => {
    const t = parseRtmpTarget('rtmp://host/live/stream1', '');
    assert.equal(t.app, 'live');
    assert.equal(t.streamName, 'stream1');
    const q = parseRtmpTarget('rtmp://host/a/b/name?token=x', '  ');
    assert.equal(q.app, 'a/b');
    assert.equal(q.streamName, 'name?token=x');
  });

  it('keeps query strings: the app query in tcUrl, the key query in the stream name', () => {
    const t = parseRtmpTarget('rtmp://host/live?auth=abc', 'key?pw=1');
    assert.equal(t.app, 'live?auth=abc');
    assert.equal(t.tcUrl, 'rtmp://host/live?auth=abc');
    assert.equal(t.streamName, 'key?pw=1');
  });

  it('rejects bad schemes, hosts, ports and missing parts without echoing the key', () => {
    const bad: Array<[string, string]> = [
      ['http://host/live', 'secret-key'],
      ['srt://host:9000', 'secret-key'],
      ['rtmp:/host/live', 'secret-key'],
      ['rtmp://host:0/live', 'secret-key'],
      ['rtmp://host:70000/live', 'secret-key'],
      ['rtmp://host:abc/live', 'secret-key'],
      ['rtmp:///live', 'secret-key'],
      ['rtmp://user:pw@host/live', 'secret-key'],
      ['rtmp://host', 'secret-key'],
      ['rtmp://host/', 'secret-key'],
      ['rtmp://host/live', ''],
      ['rtmp://ho st/live', 'secret-key'],
      ['rtmp://host/live', 'secret key'],
      ['', 'secret-key'],
      ['rtmp://host/live\n', 'secret-key\u0000'],
    ];
    for (const [url, key] of bad) {
      assert.throws(
        () => parseRtmpTarget(url, key),
        (err: unknown) => err instanceof RtmpUrlError && !err.message.includes('secret'),
        url,
      );
    }
  });

  it('describeTarget redacts the stream name and any query', () => {
    const t = parseRtmpTarget('rtmps://a.rtmps.youtube.com/live2?auth=zzz', 'my-secret-key');
    const d = describeTarget(t);
    assert.equal(d, 'rtmps://a.rtmps.youtube.com:443/live2');
    assert.ok(!d.includes('my-secret-key') && !d.includes('zzz'));
  });

  it('the parsed target carries its redacted form, and scrubs its stream name from other text', () => {
    const t = parseRtmpTarget('rtmp://[::1]:1936/live/inst?auth=zzz', 'my-secret-key?pw=1');
    assert.equal(t.redacted, 'rtmp://[::1]:1936/live/inst');
    assert.equal(t.redacted, describeTarget(t));
    assert.equal(redactStreamName(t, 'about my-secret-key?pw=1 and my-secret-key'), 'about *** and ***');
    const bare = parseRtmpTarget('rtmp://host/live/stream1', '');
    assert.equal(bare.redacted, 'rtmp://host:1935/live');
    assert.equal(redactStreamName(bare, 'NetStream.Publish.BadName (stream1 is busy)'), 'NetStream.Publish.BadName (*** is busy)');
    assert.equal(
      redactStreamName(parseRtmpTarget('rtmp://host/live', 'ab'), 'ab cd'),
      'ab cd',
      'names under 3 characters are left (they would scrub everything)',
    );
  });
});
