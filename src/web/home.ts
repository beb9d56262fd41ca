/**
 * `GET /`, where people land when they type the server's address: the console when development
 * tokens are on (it signs in as the development operator by itself), otherwise a small page that
 * says what this server is and where the API, the console, the join pages and the docs are.
 */
import type { FastifyPluginAsync } from 'fastify';

export interface HomeOptions {
  /** Development tokens are on (CALLCAST_DEV_TOKENS=1): `/` goes straight to the console. */
  devTokens: boolean;
  /** Where the documentation lives, when it is published somewhere; else the page names README.md. */
  docsUrl?: string;
}

/** The page has no scripts, styles or images of its own. */
const HOME_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'Referrer-Policy': 'no-referrer',
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-cache',
};

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The landing page of a production server (no development tokens). Pure. */
export function homePage(opts: { docsUrl?: string } = {}): string {
  const docs = opts.docsUrl
    ? `<a href="${escapeHtml(opts.docsUrl)}">${escapeHtml(opts.docsUrl)}</a>`
    : '<code>README.md</code> of the Callcast distribution (quick start, configuration, API)';
  // No styles (the CSP allows none): the browser's defaults read well enough for a few lines.
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Callcast</title>
    <link rel="icon" href="data:," />
  </head>
  <body>
    <main>
      <h1>Callcast</h1>
      <p>This server holds video calls and broadcasts them, composed by a layout, to YouTube, Twitch,
        Facebook or any RTMP(S) ingest. Its HTTP API is compatible with Stream Video's.</p>
      <ul>
        <li><a href="/console">Console</a>: calls, participants and broadcasts (sign in with an
          operator's user token).</li>
        <li>Join pages: <code>/join/{call type}/{call id}</code>, opened with a user token
          (<code>?token=...</code>) your application hands out.</li>
        <li>API: <code>/api/v2</code> (for example with <code>@stream-io/node-sdk</code>, base URL
          this server); WHIP publishing at <code>/api/v2/video/call/{type}/{id}/whip</code>.</li>
        <li>Metrics: <a href="/metrics"><code>/metrics</code></a> (Prometheus).</li>
        <li>Documentation: ${docs}</li>
      </ul>
    </main>
  </body>
</html>
`;
}

/** Registers `GET /` (and `HEAD /`). */
export const homePlugin: FastifyPluginAsync<HomeOptions> = async (app, opts) => {
  const page = homePage(opts.docsUrl ? { docsUrl: opts.docsUrl } : {});
  app.get('/', async (_request, reply) => {
    if (opts.devTokens) return reply.header('Cache-Control', 'no-cache').redirect('/console', 302);
    return reply.headers(HOME_HEADERS).type('text/html; charset=utf-8').send(page);
  });
};
