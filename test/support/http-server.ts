/** A test's own HTTP servers (pages, stylesheets, layout apps): on 127.0.0.1, closed with their connections. */
import type { Server } from 'node:http';

/** Listens on a free port of 127.0.0.1; resolves with the origin (`http://127.0.0.1:PORT`). */
export async function listenOnLoopback(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const addr = server.address();
  return `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
}

/** Closes the server and its open connections (nothing when it was never made). */
export function closeServer(server: Server | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    if (!server) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
