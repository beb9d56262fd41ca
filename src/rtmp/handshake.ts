/**
 * The RTMP handshake (simple form): C0+C1 from the client, S0+S1+S2 from the server, C2 (an echo
 * of S1) from the client. Pure.
 *
 * C2 is S1 byte for byte. The specification lets the second time field carry the time S1 was read
 * at, but librtmp-based servers (and others) compare all 1536 bytes of C2 with their S1 and warn or
 * refuse when they differ; an exact echo satisfies both readings, as librtmp's own client does.
 */
import { randomBytes } from 'node:crypto';

export const RTMP_VERSION = 3;
export const HANDSHAKE_SIZE = 1536;

export class HandshakeError extends Error {
  override readonly name = 'HandshakeError';
}

/** C0 (version 3) + C1 (time, four zero bytes, random). */
export function createC0C1(timeMs: number, random: Buffer = randomBytes(HANDSHAKE_SIZE - 8)): Buffer {
  if (random.length !== HANDSHAKE_SIZE - 8) throw new HandshakeError('C1 random data must be 1528 bytes');
  const b = Buffer.alloc(1 + HANDSHAKE_SIZE);
  b[0] = RTMP_VERSION;
  b.writeUInt32BE(timeMs >>> 0, 1);
  random.copy(b, 9);
  return b;
}

export interface ServerHandshake {
  /** Bytes of the input consumed (S0+S1+S2). */
  consumed: number;
  s1: Buffer;
  s2: Buffer;
}

/**
 * Parses S0+S1+S2 once all 3073 bytes are there; null while more are needed. Throws
 * HandshakeError when S0 is not version 3.
 */
export function parseServerHandshake(buf: Buffer): ServerHandshake | null {
  if (buf.length >= 1 && buf[0] !== RTMP_VERSION) {
    throw new HandshakeError(`server answered with RTMP version ${buf[0]} (expected ${RTMP_VERSION}); not an RTMP server?`);
  }
  const total = 1 + 2 * HANDSHAKE_SIZE;
  if (buf.length < total) return null;
  return {
    consumed: total,
    s1: Buffer.from(buf.subarray(1, 1 + HANDSHAKE_SIZE)),
    s2: Buffer.from(buf.subarray(1 + HANDSHAKE_SIZE, total)),
  };
}

/** C2: the exact echo of S1 (time, second time field and random data). */
export function createC2(s1: Buffer): Buffer {
  if (s1.length !== HANDSHAKE_SIZE) throw new HandshakeError('S1 must be 1536 bytes');
  return Buffer.from(s1);
}
