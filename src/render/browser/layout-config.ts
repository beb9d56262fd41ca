/**
 * The object a layout app's `window.setupLayout(config)` receives (reference/layouts.md §3, §10). Pure.
 */
import type { LayoutSettings } from '../../layout/settings.js';
import { parseCallCid } from '../../wire/call-cid.js';

export interface LayoutAppConfig {
  call_id: string;
  call_type: string;
  api_key: string;
  token: string;
  user_id: string;
  /** How the page reaches Callcast (its public URL). */
  base_url: string;
  layout: string;
  screenshare_layout: string;
  /** The layout options: the flat dotted keys, as Stream passes them. */
  options: Record<string, unknown>;
  ext_css: string;
  log_level: string;
}

export interface LayoutConfigInput {
  callCid: string;
  layout: LayoutSettings;
  apiKey: string;
  token: string;
  userId: string;
  baseUrl: string;
}

export function layoutAppConfig(input: LayoutConfigInput): LayoutAppConfig {
  const cid = parseCallCid(input.callCid);
  if (!cid) throw new Error(`not a call cid: ${input.callCid}`);
  return {
    call_id: cid.id,
    call_type: cid.type,
    api_key: input.apiKey,
    token: input.token,
    user_id: input.userId,
    base_url: input.baseUrl.replace(/\/+$/, ''),
    layout: input.layout.name,
    screenshare_layout: input.layout.screenshare_layout ?? input.layout.name,
    options: { ...(input.layout.options ?? {}) },
    ext_css: input.layout.external_css_url,
    log_level: 'info',
  };
}
