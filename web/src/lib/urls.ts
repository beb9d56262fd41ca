/** URL helpers of the pages. Pure. */

/**
 * The WHIP session resource from the `Location` header, resolved against the endpoint URL. The
 * page talks to the service on its own origin (it may sit behind a proxy that rewrites hosts, while
 * the service builds absolute URLs from its configured public URL), so another origin's path is
 * taken onto the page's origin.
 */
export function resourceUrl(endpoint: string, location: string | null, pageOrigin: string): string | null {
  if (!location) return null;
  const u = new URL(location, endpoint);
  return u.origin === pageOrigin ? u.toString() : `${pageOrigin}${u.pathname}${u.search}`;
}

/** The call named by a join page path `/join/{type}/{id}`, or null. */
export function callFromJoinPath(pathname: string): { type: string; id: string } | null {
  const m = /^\/join\/([^/]+)\/([^/]+)\/?$/.exec(pathname);
  if (!m) return null;
  try {
    return { type: decodeURIComponent(m[1]!), id: decodeURIComponent(m[2]!) };
  } catch {
    return null;
  }
}

/** The call named by a console path `/console/calls/{type}/{id}`, or null. */
export function callFromConsolePath(pathname: string): { type: string; id: string } | null {
  const m = /^\/console\/calls\/([^/]+)\/([^/]+)\/?$/.exec(pathname);
  if (!m) return null;
  try {
    return { type: decodeURIComponent(m[1]!), id: decodeURIComponent(m[2]!) };
  } catch {
    return null;
  }
}

/** Whether a console path is the operations page `/console/operations`. */
export function isConsoleOperationsPath(pathname: string): boolean {
  return /^\/console\/operations\/?$/.test(pathname);
}

/** The call named by a watch page path `/watch/{type}/{id}`, or null. */
export function callFromWatchPath(pathname: string): { type: string; id: string } | null {
  const m = /^\/watch\/([^/]+)\/([^/]+)\/?$/.exec(pathname);
  if (!m) return null;
  try {
    return { type: decodeURIComponent(m[1]!), id: decodeURIComponent(m[2]!) };
  } catch {
    return null;
  }
}

/** `playlist=` (an http(s) URL) from a URL fragment or query string; null if absent or not http(s). */
export function playlistFromUrl(hash: string, search: string): string | null {
  for (const part of [hash.replace(/^#/, ''), search.replace(/^\?/, '')]) {
    const v = new URLSearchParams(part).get('playlist');
    if (v && /^https?:\/\//i.test(v)) return v;
  }
  return null;
}
