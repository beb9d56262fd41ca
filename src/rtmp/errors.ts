/**
 * Why an RTMP session failed, classified where the failure is seen: `code` names the cause,
 * `kind` groups causes, and `retryable` says whether trying again may help (a certificate the
 * client does not trust will not become trusted by reconnecting). Pure.
 */

/**
 * ECONNREFUSED | DNS | NETWORK | another errno (ECONNRESET, EPIPE...) | TIMEOUT | TLS | PROTOCOL |
 * REJECTED | BADNAME | CLOSED | STATE
 */
export type RtmpErrorCode =
  | 'ECONNREFUSED'
  | 'DNS'
  | 'NETWORK'
  | 'TIMEOUT'
  | 'TLS'
  | 'PROTOCOL'
  | 'REJECTED'
  | 'BADNAME'
  | 'CLOSED'
  | 'STATE'
  | 'DESTINATION_REFUSED'
  | `E${string}`;

export type RtmpErrorKind =
  /** The connection could not be made or broke (refused, DNS, reset...). */
  | 'network'
  /** A phase (connect, handshake, a command) got no answer in time, or the server stopped reading. */
  | 'timeout'
  /** The TLS session could not be set up (other than an untrusted certificate). */
  | 'tls'
  /** The server's certificate is not trusted (expired, self-signed, wrong host, unknown CA). */
  | 'certificate'
  /** The server sent something that is not valid RTMP. */
  | 'protocol'
  /** The server refused the application or the stream name. */
  | 'rejected'
  /** The connection was closed (by the server, or by close() before the session was up). */
  | 'closed'
  /** The API was misused (connect() twice). */
  | 'usage'
  /** The destination policy refused the address (src/net): waiting will not make it allowed. */
  | 'policy';

const RETRYABLE: Record<RtmpErrorKind, boolean> = {
  network: true,
  timeout: true,
  tls: true,
  certificate: false,
  protocol: true,
  // A refused key is retried: servers refuse a name that is still publishing (a reconnect
  // racing the previous session's end) as well as a wrong key.
  rejected: true,
  closed: true,
  usage: false,
  policy: false,
};

function kindOf(code: RtmpErrorCode): RtmpErrorKind {
  switch (code) {
    case 'TIMEOUT':
      return 'timeout';
    case 'TLS':
      return 'tls';
    case 'PROTOCOL':
      return 'protocol';
    case 'REJECTED':
    case 'BADNAME':
      return 'rejected';
    case 'CLOSED':
      return 'closed';
    case 'STATE':
      return 'usage';
    case 'DESTINATION_REFUSED':
      return 'policy';
    default:
      return 'network';
  }
}

export interface RtmpErrorOptions {
  cause?: unknown;
  /** When the code alone does not say it (a TLS failure caused by the certificate). */
  kind?: RtmpErrorKind;
}

export class RtmpError extends Error {
  override readonly name = 'RtmpError';
  readonly kind: RtmpErrorKind;
  /** Whether a new session to the same target may succeed. */
  readonly retryable: boolean;

  constructor(
    readonly code: RtmpErrorCode,
    message: string,
    options: RtmpErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = options.kind ?? kindOf(code);
    this.retryable = RETRYABLE[this.kind];
  }
}

/** Node's codes for a peer certificate that failed verification. */
const CERTIFICATE_ERROR_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
]);

/** The string codes of an error and of its causes (a few levels), outermost first. */
function errorCodes(err: unknown): string[] {
  const codes: string[] = [];
  let e: unknown = err;
  for (let i = 0; i < 4 && e !== null && typeof e === 'object'; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    e = (e as { cause?: unknown }).cause;
  }
  return codes;
}

/** The error (or one of its causes) says the peer's certificate failed verification. */
export function isCertificateError(err: unknown): boolean {
  return errorCodes(err).some((c) => CERTIFICATE_ERROR_CODES.has(c));
}

export interface SocketErrorContext {
  /** scheme://host:port/app, stream name redacted. */
  where: string;
  host: string;
  secure: boolean;
  /** The session is still opening its connection (TCP, then TLS). */
  connecting: boolean;
  /** TCP connected (for RTMPS: the TLS handshake was under way or done). */
  tcpConnected: boolean;
  /** Scrubs the stream name from text that came from elsewhere. */
  redact: (text: string) => string;
}

/** Classifies an error the socket emitted (errno, TLS, DNS). */
export function classifySocketError(err: NodeJS.ErrnoException, ctx: SocketErrorContext): RtmpError {
  const code = typeof err.code === 'string' ? err.code : '';
  const text = ctx.redact(err.message);
  if (ctx.secure) {
    if (isCertificateError(err)) {
      return new RtmpError('TLS', `TLS connection to ${ctx.where} failed: ${text}`, { cause: err, kind: 'certificate' });
    }
    if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || (ctx.tcpConnected && ctx.connecting)) {
      return new RtmpError('TLS', `TLS connection to ${ctx.where} failed: ${text}`, { cause: err });
    }
  }
  if (ctx.connecting) {
    if (code === 'ECONNREFUSED') return new RtmpError('ECONNREFUSED', `connection to ${ctx.where} refused`, { cause: err });
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new RtmpError('DNS', `cannot resolve ${ctx.host}: ${text}`, { cause: err });
  }
  const errno = /^E[A-Z]+$/.test(code) ? (code as `E${string}`) : 'NETWORK';
  return new RtmpError(errno, `connection to ${ctx.where} failed: ${text}`, { cause: err });
}

/**
 * The outcome of an onStatus answer to publish: null when it is neither the start nor a refusal
 * (NetStream.Publish.Reset and the like, which a server may send first).
 */
export function publishStatusOutcome(code: string, level: string): 'started' | 'BADNAME' | 'REJECTED' | null {
  if (code === 'NetStream.Publish.Start') return 'started';
  if (level === 'error' || /BadName|Rejected|Failed|Denied/i.test(code)) return /BadName/i.test(code) ? 'BADNAME' : 'REJECTED';
  return null;
}
