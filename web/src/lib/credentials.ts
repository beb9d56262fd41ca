/** Where the pages find their credentials (URL fragment or query) and what a token says. Pure. */

/** `token=` from a URL fragment or query string ("#token=...", "?token=..."); null if absent. */
export function tokenFromUrl(hash: string, search: string): string | null {
  for (const part of [hash.replace(/^#/, ''), search.replace(/^\?/, '')]) {
    const v = new URLSearchParams(part).get('token');
    if (v) return v;
  }
  return null;
}

/** The same for `api_key=`. */
export function apiKeyFromUrl(hash: string, search: string): string | null {
  for (const part of [hash.replace(/^#/, ''), search.replace(/^\?/, '')]) {
    const v = new URLSearchParams(part).get('api_key');
    if (v) return v;
  }
  return null;
}

function base64UrlDecode(s: string): string {
  const padded = s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4);
  const binary = atob(padded);
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

export interface TokenClaims {
  userId: string | null;
  server: boolean;
  exp: number | null;
}

/** Reads (without verifying: the server does that) the claims the page needs from a JWT. */
export function readTokenClaims(token: string): TokenClaims | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    const payload = JSON.parse(base64UrlDecode(parts[1]!)) as Record<string, unknown>;
    return {
      userId: typeof payload.user_id === 'string' ? payload.user_id : null,
      server: payload.server === true,
      exp: typeof payload.exp === 'number' ? payload.exp : null,
    };
  } catch {
    return null;
  }
}
