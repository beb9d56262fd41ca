/**
 * Which layout a running RTMP broadcast draws: one given with its start request (or set on it
 * later) is kept; otherwise it follows the call's effective RTMP settings (call type settings with
 * the call's override) as they change. HLS broadcasts and recordings follow their own settings
 * paths the same way. Pure, but for the helpers that make running outputs follow the settings.
 */
import { sameLayout, type LayoutSettings } from '../layout/settings.js';
import type { Logger } from '../log.js';
import type { BroadcastRecord, CallRecord, CallTypeRecord } from '../store/records.js';
import { parseCallCid } from '../wire/call-cid.js';
import type { LoadedCall } from './access.js';
import type { JsonObject } from '../wire/json.js';
import { dig, effectiveSettings, isPlainObject } from './settings.js';
import { toLayoutSettings } from './validation.js';

/** The layout at `path` of a call's effective settings (the defaults where there is none). */
export function layoutAt(settings: JsonObject, path: readonly string[]): LayoutSettings {
  const layout = dig(settings, [...path]);
  return toLayoutSettings(isPlainObject(layout) ? layout : {});
}

/** The layout the call's effective settings give its RTMP broadcasts (`broadcasting.rtmp.layout`). */
export function settingsLayout(settings: JsonObject): LayoutSettings {
  return layoutAt(settings, ['broadcasting', 'rtmp', 'layout']);
}

/** A service with outputs that follow their call's layout settings (HLS, recordings). */
export interface LayoutFollower {
  /** The calls with an output running on this node. */
  runningCalls(): Iterable<string>;
  /** The call's settings changed: its running output takes the layout they give; true when it changed. */
  followSettings(loaded: LoadedCall): Promise<boolean>;
  /** Announces that a call's output changed (call.updated follows). */
  emit(event: 'changed', callCid: string): unknown;
}

/** A running output (HLS broadcast, recording) whose layout follows its call's settings. */
export interface FollowingOutput {
  /** `HLS`, `recording`: how the logs name it. */
  what: string;
  /** Where its layout is in the call's effective settings. */
  path: readonly string[];
  /** The layout it draws now. */
  current: LayoutSettings;
  /** Log fields besides the call's cid. */
  context?: Record<string, unknown>;
  /** Moves the output to the layout and keeps it (throws when it could not). */
  apply(layout: LayoutSettings): Promise<void>;
}

/**
 * The call's settings changed: the output takes the layout they now give at its path. Never throws
 * (logged). True when it changed.
 */
export async function followLayoutSettings(loaded: LoadedCall, output: FollowingOutput, log: Logger): Promise<boolean> {
  const layout = layoutAt(effectiveSettings(loaded.callType.settings, loaded.call.settings_override), output.path);
  if (sameLayout(output.current, layout)) return false;
  const fields = { callCid: loaded.call.cid, ...output.context };
  try {
    await output.apply(layout);
    log.info({ ...fields, layout: layout.name }, `${output.what} layout changed`);
    return true;
  } catch (err) {
    log.error({ ...fields, err: String(err) }, `${output.what} could not follow the layout settings`);
    return false;
  }
}

/**
 * A call type's settings changed: the follower's running outputs of its calls (on this node) follow
 * the layout they now give, and each call whose output changed is announced (`changed`). Never
 * throws.
 */
export async function followCallTypeLayouts(
  follower: LayoutFollower,
  callType: CallTypeRecord,
  getCall: (cid: string) => Promise<CallRecord | null>,
): Promise<void> {
  for (const cid of [...follower.runningCalls()]) {
    if (parseCallCid(cid)?.type !== callType.name) continue;
    const call = await getCall(cid).catch(() => null);
    if (call && (await follower.followSettings({ call, callType }))) follower.emit('changed', cid);
  }
}

export interface LayoutUpdate {
  name: string;
  layout: LayoutSettings;
}

/**
 * The broadcasts (of one call) whose layout changes with these effective settings: those that
 * follow the settings and draw another layout than the settings now give.
 */
export function followedLayoutUpdates(records: readonly BroadcastRecord[], settings: JsonObject): LayoutUpdate[] {
  const layout = settingsLayout(settings);
  return records.filter((r) => r.layout_source === 'settings' && !sameLayout(r.layout, layout)).map((r) => ({ name: r.name, layout }));
}
