/**
 * Browser-rendered layouts: a `custom` layout with `external_app_url` is drawn by the app in
 * Chromium on a display of its own (BrowserFrameSource), its sound the page's; a built-in layout
 * with `external_css_url` by Callcast's built-in layouts page (the same scene as the native
 * compositor, as DOM, with the stylesheet injected) in the same way, its sound the native source's
 * (the call's mix); every other layout by the native compositor.
 */
import type { FrameSourceFactory } from '../../egress/frame-source.js';
import { BrowserFrameSource, type BrowserLayoutOptions } from './browser-frame-source.js';
import { BUILTIN_LAYOUT_PAGE_PATH, rendersBuiltinPage, rendersInBrowser } from '../../layout/app-url.js';

export { BrowserFrameSource, runningLayoutBrowsers, type BrowserLayoutOptions } from './browser-frame-source.js';
export { layoutUrlProblem, parseOriginList, rendersInBrowser } from '../../layout/app-url.js';

/** The built-in layouts page at the service's public URL. */
export function builtinLayoutPageUrl(baseUrl: string): string {
  return `${baseUrl.replace(/\/+$/, '')}${BUILTIN_LAYOUT_PAGE_PATH}`;
}

/** `native` for built-in layouts; a browser for custom app layouts (the page's sound) and stylesheets (`native`'s sound, the call's mix). */
export function createLayoutFrameSourceFactory(native: FrameSourceFactory, opts: BrowserLayoutOptions): FrameSourceFactory {
  return (callCid, quality, layout) => {
    if (!rendersInBrowser(layout)) return native(callCid, quality, layout);
    const sourceOpts = rendersBuiltinPage(layout) ? { ...opts, pageUrl: builtinLayoutPageUrl(opts.baseUrl()) } : opts;
    return new BrowserFrameSource(callCid, quality, layout, native(callCid, quality, layout), sourceOpts);
  };
}
