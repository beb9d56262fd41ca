/**
 * Call time limits: `settings.limits.max_duration_seconds` ends a call that many seconds after it
 * became active (its session started: a participant joined; or its first RTMP broadcast went out,
 * whichever came first). Ending goes through the one end-of-call path (CallService.end, server
 * side): its broadcasts stop, everyone leaves, `call.ended` carries `reason: "max_duration"`. A
 * change of the setting (`call.updated`) moves the deadline; `call.ended` / `call.deleted`
 * cancel it. The deadline is counted from the earliest stored broadcast start, so a restart that
 * resumes the broadcasts keeps it. The rule is the pure `maxDurationDeadline`; timers sit here.
 */
import type { EventBus, WireEvent } from '../events/contract.js';
import type { Logger } from '../log.js';
import { describeError } from '../log.js';
import type { Store } from '../store/store.js';
import type { JsonObject } from '../wire/json.js';
import { dig, effectiveSettings } from './settings.js';

/** Why a call ended because of a limit (`call.ended.reason`). */
export const MAX_DURATION_REASON = 'max_duration';

/** When the call must end (epoch ms), or null when it has no duration limit. */
export function maxDurationDeadline(settings: JsonObject, activeSinceMs: number): number | null {
  const max = dig(settings, ['limits', 'max_duration_seconds']);
  if (typeof max !== 'number' || !Number.isFinite(max) || max <= 0) return null;
  return activeSinceMs + max * 1000;
}

export interface CallLimitsOptions {
  store: Store;
  bus: EventBus;
  log: Logger;
  /** Ends the call (server side) with the reason. */
  end(cid: string, reason: string): Promise<void>;
  /** When the call's live session started (RFC3339), if it has one. */
  sessionStartedAt?(cid: string): string | undefined;
  now?: () => number;
}

export class CallLimits {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly activeSince = new Map<string, number>();
  private readonly unsubscribe: () => void;
  private closed = false;

  constructor(private readonly opts: CallLimitsOptions) {
    this.unsubscribe = opts.bus.subscribe((e) => this.onEvent(e));
  }

  /** Deadlines pending (for tests and metrics). */
  armed(): string[] {
    return [...this.timers.keys()];
  }

  close(): void {
    this.closed = true;
    this.unsubscribe();
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.activeSince.clear();
  }

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  private onEvent(e: WireEvent): void {
    const cid = e.call_cid;
    if (!cid) return;
    switch (e.type) {
      case 'call.session_participant_joined':
      case 'call.rtmp_broadcast_started':
        this.arm(cid);
        break;
      case 'call.updated':
        if (this.activeSince.has(cid)) this.arm(cid);
        break;
      case 'call.ended':
      case 'call.deleted':
        this.disarm(cid);
        break;
    }
  }

  private disarm(cid: string): void {
    const t = this.timers.get(cid);
    if (t) clearTimeout(t);
    this.timers.delete(cid);
    this.activeSince.delete(cid);
  }

  private arm(cid: string): void {
    this.schedule(cid).catch((err: unknown) =>
      this.opts.log.error({ callCid: cid, err: describeError(err) }, 'call limit could not be scheduled'),
    );
  }

  private async schedule(cid: string): Promise<void> {
    const { store } = this.opts;
    const call = await store.getCall(cid);
    if (!call || call.ended_at !== null) return this.disarm(cid);
    const callType = await store.getCallType(call.type);
    if (!callType || this.closed) return;
    const starts = [this.activeSince.get(cid) ?? this.now()];
    const session = this.opts.sessionStartedAt?.(cid);
    if (session) starts.push(Date.parse(session));
    for (const b of await store.listBroadcasts(cid)) starts.push(Date.parse(b.started_at));
    const since = Math.min(...starts.filter((s) => Number.isFinite(s)));
    this.activeSince.set(cid, since);
    const deadline = maxDurationDeadline(effectiveSettings(callType.settings, call.settings_override), since);
    const previous = this.timers.get(cid);
    if (previous) clearTimeout(previous);
    this.timers.delete(cid);
    if (deadline === null) return;
    const timer = setTimeout(() => this.expire(cid), Math.max(0, deadline - this.now()));
    timer.unref();
    this.timers.set(cid, timer);
  }

  private expire(cid: string): void {
    this.timers.delete(cid);
    if (this.closed) return;
    this.opts.log.info({ callCid: cid }, 'call reached its max duration');
    this.opts
      .end(cid, MAX_DURATION_REASON)
      .catch((err: unknown) =>
        this.opts.log.error({ callCid: cid, err: describeError(err) }, 'call could not be ended at its max duration'),
      );
  }
}
