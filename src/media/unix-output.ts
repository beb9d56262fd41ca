/**
 * Reading what an ffmpeg output writes to a Unix socket it listens on (`-listen 1 unix:PATH`),
 * into one reused buffer. For outputs of many MB/s (raw pictures): reading a child's pipe
 * allocates a fresh buffer per read, and that external memory makes V8 mark its heap several
 * times a second. ffmpeg opens its outputs late (after probing its input), so the connect is
 * retried until it listens or the reader is closed.
 */
import { connect as connectUnix, type Socket } from 'node:net';

/** Bytes read per system call. */
const READ_BYTES = 256 * 1024;
/** Between attempts to connect to a socket ffmpeg does not listen on yet. */
const RETRY_MS = 20;
/** Unix socket paths longer than this do not fit sockaddr_un everywhere. */
export const MAX_UNIX_SOCKET_PATH = 100;

export interface UnixOutputReader {
  /** Stops reading (and retrying). Idempotent. */
  close(): void;
}

/**
 * Delivers the socket's bytes to `onData` as they arrive. A chunk is only valid during the call
 * (the buffer is reused for the next read): copy what must be kept. `onEnd` is called once when a
 * connected socket ends or fails.
 */
export function readUnixOutput(path: string, onData: (chunk: Buffer) => void, onEnd?: () => void): UnixOutputReader {
  const buffer = Buffer.allocUnsafe(READ_BYTES);
  let closed = false;
  let sock: Socket | undefined;
  let timer: NodeJS.Timeout | undefined;
  const attempt = () => {
    timer = undefined;
    if (closed) return;
    let connected = false;
    const s = connectUnix({
      path,
      onread: {
        buffer,
        callback: (n: number, buf: Uint8Array) => {
          if (!closed) onData((buf as Buffer).subarray(0, n));
          return true;
        },
      },
    });
    sock = s;
    s.once('connect', () => {
      connected = true;
    });
    const ended = () => {
      s.destroy();
      if (closed) return;
      if (connected) {
        closed = true;
        onEnd?.();
        return;
      }
      timer = setTimeout(attempt, RETRY_MS);
    };
    s.on('error', ended);
    s.on('close', () => {
      if (connected) ended();
    });
  };
  attempt();
  return {
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      sock?.destroy();
    },
  };
}
