/**
 * Changing a running broadcast's layout from the console: the request (UpdateRTMPBroadcast, a
 * PATCH beyond Stream's API) and the layout it sends. Pure.
 */
import { callPath, type LayoutJson } from './api.js';

/** The layout a broadcast gets when only its name is changed: its options (and share layout) stay. */
export function withLayoutName(current: LayoutJson | undefined, name: string): LayoutJson {
  const out: LayoutJson = { name };
  if (current?.options && Object.keys(current.options).length > 0) out.options = current.options;
  if (current?.screenshare_layout) out.screenshare_layout = current.screenshare_layout;
  return out;
}

/** The request that sets a running broadcast's layout. */
export function layoutChangeRequest(
  type: string,
  id: string,
  name: string,
  layout: LayoutJson,
): { method: 'PATCH'; path: string; body: { layout: LayoutJson } } {
  return { method: 'PATCH', path: `${callPath(type, id)}/rtmp_broadcasts/${encodeURIComponent(name)}`, body: { layout } };
}
