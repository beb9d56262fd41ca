/**
 * Browser-rendered layouts: a `custom` layout with `external_app_url` is drawn by the app in
 * headless Chromium (BrowserFrameSource); every other layout by the native compositor.
 */
import type { FrameSourceFactory } from '../../egress/frame-source.js';
import { BrowserFrameSource, type BrowserLayoutOptions } from './browser-frame-source.js';
import { rendersInBrowser } from '../../layout/app-url.js';

export { BrowserFrameSource, runningLayoutBrowsers, type BrowserLayoutOptions } from './browser-frame-source.js';
export { layoutUrlProblem, parseOriginList, rendersInBrowser } from '../../layout/app-url.js';

/** `native` for built-in layouts; a browser for custom app layouts, with `native`'s sound (the call's mix). */
export function createLayoutFrameSourceFactory(native: FrameSourceFactory, opts: BrowserLayoutOptions): FrameSourceFactory {
  return (callCid, quality, layout) =>
    rendersInBrowser(layout)
      ? new BrowserFrameSource(callCid, quality, layout, native(callCid, quality, layout), opts)
      : native(callCid, quality, layout);
}
