/**
 * Which layout app and stylesheet URLs a broadcast may load: http(s) only, and, when
 * CALLCAST_LAYOUT_URL_ALLOW lists origins, only those. Pure.
 */
import type { LayoutSettings } from './settings.js';

/** Why a URL is refused, or undefined when it is an absolute http(s) URL. */
export function layoutUrlProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute http:// or https:// URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be an http:// or https:// URL';
  if (url.username || url.password) return 'must not carry user:password@';
  return undefined;
}

/** Parses CALLCAST_LAYOUT_URL_ALLOW (comma-separated origins such as `https://layouts.example.com`) into origins. Throws naming a bad entry. */
export function parseOriginList(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(',')) {
    const entry = raw.trim();
    if (!entry) continue;
    const problem = layoutUrlProblem(entry);
    if (problem) throw new Error(`"${entry}" ${problem}`);
    const url = new URL(entry);
    if (url.pathname !== '/' || url.search || url.hash)
      throw new Error(`"${entry}" must be an origin (scheme://host[:port]) without a path`);
    out.push(url.origin);
  }
  return out;
}

/** Whether `value`'s origin is allowed (`allow` undefined: any http(s) origin). */
export function originAllowed(value: string, allow: readonly string[] | undefined): boolean {
  if (layoutUrlProblem(value)) return false;
  if (!allow) return true;
  return allow.includes(new URL(value).origin);
}

/** A broadcast with this layout is drawn by a browser: `custom` with an app URL, or a built-in layout with a stylesheet. */
export function rendersInBrowser(layout: LayoutSettings): boolean {
  return rendersCustomApp(layout) || rendersBuiltinPage(layout);
}

/** `custom` with an app URL: the app is opened. */
export function rendersCustomApp(layout: LayoutSettings): boolean {
  return layout.name === 'custom' && layout.external_app_url !== '';
}

/**
 * A built-in layout (or `custom` without an app) with `external_css_url`: Callcast's built-in
 * layouts page is opened with the stylesheet injected. Without a stylesheet the native compositor draws.
 */
export function rendersBuiltinPage(layout: LayoutSettings): boolean {
  return !rendersCustomApp(layout) && layout.external_css_url !== '';
}

/** The path of the built-in layouts page (src/http/web.ts). */
export const BUILTIN_LAYOUT_PAGE_PATH = '/layouts/builtin';
