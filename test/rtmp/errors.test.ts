import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  classifySocketError,
  isCertificateError,
  publishStatusOutcome,
  RtmpError,
  type SocketErrorContext,
} from '../../src/rtmp/errors.js';

const errno = (code: string, message = `failed with ${code}`) => Object.assign(new Error(message), { code });

const plain: SocketErrorContext = {
  where: 'rtmp://ingest.example:1935/live',
  host: 'ingest.example',
  secure: false,
  connecting: true,
  tcpConnected: false,
  redact: (t) => t.split('secret-key').join('***'),
};
const secure: SocketErrorContext = { ...plain, where: 'rtmps://ingest.example:443/live', secure: true };

describe('RtmpError', () => {
  it('derives kind and retryable from the code', () => {
    const cases: Array<[ConstructorParameters<typeof RtmpError>[0], string, boolean]> = [
      ['ECONNREFUSED', 'network', true],
      ['DNS', 'network', true],
      ['NETWORK', 'network', true],
      ['ECONNRESET', 'network', true],
      ['TIMEOUT', 'timeout', true],
      ['TLS', 'tls', true],
      ['PROTOCOL', 'protocol', true],
      ['REJECTED', 'rejected', true],
      ['BADNAME', 'rejected', true],
      ['CLOSED', 'closed', true],
      ['STATE', 'usage', false],
    ];
    for (const [code, kind, retryable] of cases) {
      const e = new RtmpError(code, 'x');
      assert.equal(e.kind, kind, code);
      assert.equal(e.retryable, retryable, code);
      assert.equal(e.code, code);
      assert.equal(e.name, 'RtmpError');
      assert.ok(e instanceof Error);
    }
    const cert = new RtmpError('TLS', 'x', { kind: 'certificate', cause: errno('CERT_HAS_EXPIRED') });
    assert.equal(cert.code, 'TLS');
    assert.equal(cert.kind, 'certificate');
    assert.equal(cert.retryable, false);
    assert.equal((cert.cause as { code: string }).code, 'CERT_HAS_EXPIRED');
  });
});

describe('socket error classification', () => {
  it('an untrusted certificate is a TLS error that is not retryable', () => {
    for (const code of [
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      'DEPTH_ZERO_SELF_SIGNED_CERT',
      'SELF_SIGNED_CERT_IN_CHAIN',
      'CERT_HAS_EXPIRED',
      'ERR_TLS_CERT_ALTNAME_INVALID',
    ]) {
      const e = classifySocketError(errno(code, 'unable to verify the first certificate'), { ...secure, tcpConnected: true });
      assert.equal(e.code, 'TLS', code);
      assert.equal(e.kind, 'certificate', code);
      assert.equal(e.retryable, false, code);
      assert.match(e.message, /^TLS connection to rtmps:\/\/ingest\.example:443\/live failed: unable to verify the first certificate$/);
    }
    assert.ok(isCertificateError(new Error('outer', { cause: errno('CERT_NOT_YET_VALID') })), 'found in the cause');
    assert.ok(!isCertificateError(errno('ECONNRESET')));
    assert.ok(!isCertificateError('CERT_HAS_EXPIRED'));
  });

  it('other TLS failures are TLS errors worth retrying', () => {
    const alert = classifySocketError(errno('ERR_SSL_WRONG_VERSION_NUMBER'), { ...secure, tcpConnected: true });
    assert.deepEqual([alert.code, alert.kind, alert.retryable], ['TLS', 'tls', true]);
    // Reset during the TLS handshake (after TCP connected).
    const reset = classifySocketError(errno('ECONNRESET'), { ...secure, tcpConnected: true });
    assert.deepEqual([reset.code, reset.kind, reset.retryable], ['TLS', 'tls', true]);
    // The same reset once publishing is a network error.
    const later = classifySocketError(errno('ECONNRESET'), { ...secure, tcpConnected: true, connecting: false });
    assert.deepEqual([later.code, later.kind, later.retryable], ['ECONNRESET', 'network', true]);
  });

  it('refused connections, DNS failures and broken connections are network errors', () => {
    const refused = classifySocketError(errno('ECONNREFUSED'), plain);
    assert.deepEqual([refused.code, refused.kind, refused.retryable], ['ECONNREFUSED', 'network', true]);
    assert.equal(refused.message, 'connection to rtmp://ingest.example:1935/live refused');
    const dns = classifySocketError(errno('ENOTFOUND', 'getaddrinfo ENOTFOUND ingest.example'), plain);
    assert.deepEqual([dns.code, dns.kind], ['DNS', 'network']);
    assert.equal(dns.message, 'cannot resolve ingest.example: getaddrinfo ENOTFOUND ingest.example');
    assert.equal(classifySocketError(errno('EAI_AGAIN'), plain).code, 'DNS');
    const pipe = classifySocketError(errno('EPIPE'), { ...plain, connecting: false, tcpConnected: true });
    assert.deepEqual([pipe.code, pipe.kind, pipe.retryable], ['EPIPE', 'network', true]);
    const odd = classifySocketError(errno('weird'), { ...plain, connecting: false });
    assert.equal(odd.code, 'NETWORK');
    assert.equal(classifySocketError(new Error('no code'), plain).code, 'NETWORK');
  });

  it('scrubs the stream name from the socket message', () => {
    const e = classifySocketError(errno('ECONNRESET', 'reset while sending secret-key'), { ...plain, connecting: false });
    assert.ok(!e.message.includes('secret-key'), e.message);
    assert.match(e.message, /\*\*\*/);
  });
});

describe('publish status', () => {
  it('tells the start from a refusal and from other statuses', () => {
    assert.equal(publishStatusOutcome('NetStream.Publish.Start', 'status'), 'started');
    assert.equal(publishStatusOutcome('NetStream.Publish.BadName', 'error'), 'BADNAME');
    assert.equal(publishStatusOutcome('NetStream.Publish.Rejected', 'status'), 'REJECTED');
    assert.equal(publishStatusOutcome('NetStream.Publish.Denied', 'status'), 'REJECTED');
    assert.equal(publishStatusOutcome('NetStream.Anything', 'error'), 'REJECTED');
    assert.equal(publishStatusOutcome('NetStream.Publish.Reset', 'status'), null);
  });
});
