/**
 * The egress engine: the control plane's `BroadcastEngine`. Groups destinations by
 * (call, quality, layout) so each combination is encoded once, and reports each destination's
 * fate to the listener. A destination's layout can change while it runs: it moves to the group of
 * its new layout (a running one or a new one) at that group's next keyframe, under the same session.
 */
import type { Logger } from '../log.js';
import { admitNewGroup, GroupRefusedError, OPEN_ADMISSION, type AdmissionPolicy } from './admission.js';
import type { PublisherPolicy } from '../rtmp/publisher.js';
import type { BroadcastEngine, BroadcastSpec, DestinationStats, EgressListener } from './contract.js';
import { BroadcastGroup, type BroadcastGroupHealth } from './broadcast-group.js';
import { groupKey, planLayoutMove } from './group-key.js';
import type { LayoutSettings, Quality } from '../layout/settings.js';
import type { Destination, PublishSession, RetryPolicy } from './destination.js';
import { backgroundFrameSourceFactory, type FrameSourceFactory } from './frame-source.js';
import type { RealtimePolicy } from './realtime.js';
import { openRtmpTarget, type RtmpTargetOpener } from './rtmp-session.js';

export interface EgressEngineOptions {
  listener: EgressListener;
  log: Logger;
  frameSourceFactory?: FrameSourceFactory;
  /** The ffmpeg executable; default "ffmpeg" on PATH. */
  ffmpegPath?: string;
  tls?: { ca?: string | Buffer };
  retry?: Partial<RetryPolicy>;
  /**
   * The socket policy of every RTMP session: phase timeouts (connect, handshake, publish), the
   * send-buffer bound above which frames are dropped, the stall rule. Defaults: src/rtmp/publisher.ts.
   */
  rtmp?: Partial<PublisherPolicy>;
  /** How targets are opened; default RTMP(S) through src/rtmp. */
  openTarget?: RtmpTargetOpener;
  /** When a group counts as behind real time; defaults in realtime.ts. */
  realtime?: Partial<RealtimePolicy>;
  /**
   * Resolves and checks the address every RTMP session connects to (the destination policy,
   * src/net); a refused address fails the destination without retries. Default: no check.
   */
  resolveAddress?: (host: string, port: number) => Promise<{ address: string }>;
  /** When a new broadcast group is refused (admission.ts); default: never. */
  admission?: Partial<AdmissionPolicy>;
  /** The service's recent CPU use as a share of all cores (load.ts), for admission; default: unknown. */
  cpuShare?: () => number | null;
}

/** Where a destination (an RTMP broadcast or an attached output) streams from. */
interface Placement {
  /** The group the destination streams from. */
  group: BroadcastGroup;
  /** The group it is moving to (a layout change waiting for that group's keyframe). */
  moving?: BroadcastGroup;
  dest: Destination;
}

interface Entry extends Placement {
  spec: BroadcastSpec;
}

interface AttachedOutput {
  spec: OutputSpec;
  placement: Placement;
  handle: OutputHandle;
}

export interface EngineDestinationStats extends DestinationStats {
  callCid: string;
  quality: string;
}

/** An output other than an RTMP destination (see attach). */
export interface OutputSpec {
  callCid: string;
  /** Unique among the call's attached outputs, e.g. "hls/720p" (a separate name space from RTMP names). */
  name: string;
  quality: Quality;
  layout: LayoutSettings;
  /** For logs and reasons. */
  describe: string;
  createSession: () => PublishSession;
  retry?: Partial<RetryPolicy>;
  /** The user whose request attaches it (see BroadcastSpec.startedBy); absent: the server side. */
  startedBy?: string;
}

export interface OutputHandle {
  /** Emits `started` (first keyframe taken) and `failed` (gave up; already detached). */
  destination: Destination;
  /** The encode it shares now (another one after a layout change). */
  readonly group: BroadcastGroup;
  /** Closes the output (its session finishes its files) and leaves the group. Idempotent. */
  stop(): Promise<void>;
}

function outputKey(callCid: string, name: string): string {
  return `${callCid}\u0000${name}`;
}

function destKey(callCid: string, name: string): string {
  return `${callCid}\u0000${name}`;
}

export class EgressEngine implements BroadcastEngine {
  private readonly groups = new Map<string, BroadcastGroup>();
  private readonly entries = new Map<string, Entry>();
  private readonly outputs = new Map<string, AttachedOutput>();
  /** Who asked for each running group (the user whose request created it; null: the server side). */
  private readonly creators = new Map<BroadcastGroup, string | null>();
  private readonly admission: AdmissionPolicy;
  private readonly sourceFactory: FrameSourceFactory;
  private readonly openTarget: RtmpTargetOpener;
  private closing: Promise<void> | null = null;

  constructor(private readonly opts: EgressEngineOptions) {
    this.sourceFactory = opts.frameSourceFactory ?? backgroundFrameSourceFactory;
    this.openTarget = opts.openTarget ?? openRtmpTarget;
    this.admission = { ...OPEN_ADMISSION, ...(opts.admission ?? {}) };
  }

  start(spec: BroadcastSpec): void {
    const { callCid, name } = spec;
    const key = destKey(callCid, name);
    if (this.closing) throw new Error('the egress is closed');
    if (this.entries.has(key)) throw new Error(`broadcast "${name}" is already active for call ${callCid}`);

    // A refused new group throws (GroupRefusedError) before anything is set up.
    const theGroup = this.groupFor(callCid, spec.quality, spec.layout, spec.startedBy ?? null);
    let target: ReturnType<RtmpTargetOpener>;
    try {
      target = this.openTarget(spec.streamUrl, spec.streamKey, {
        ...(this.opts.tls ? { tls: this.opts.tls } : {}),
        ...(this.opts.rtmp ? { policy: this.opts.rtmp } : {}),
        ...(this.opts.resolveAddress ? { resolveAddress: this.opts.resolveAddress } : {}),
      });
    } catch (err) {
      // The target parser never puts the key in its messages.
      const reason = `invalid RTMP target: ${err instanceof Error ? err.message : String(err)}`;
      this.opts.log.warn({ callCid, name, reason }, 'broadcast not started');
      queueMicrotask(() => this.opts.listener.onFailed(callCid, name, reason));
      if (theGroup.members().length === 0) void theGroup.close();
      return;
    }

    const entry: Partial<Entry> = { spec, group: theGroup };
    this.entries.set(key, entry as Entry);
    try {
      entry.dest = this.joinGroup(theGroup, spec, key, entry, target);
    } catch (err) {
      this.entries.delete(key);
      const reason = `the broadcast could not start: ${err instanceof Error ? err.message : String(err)}`;
      this.opts.log.error({ callCid, name, reason }, 'broadcast not started');
      queueMicrotask(() => this.safely(() => this.opts.listener.onFailed(callCid, name, reason)));
    }
  }

  /**
   * Attaches another output (an HLS or recording packager) to the group of its call, quality and
   * layout: it joins a running encode of the same picture (RTMP destinations included) or starts
   * one. The output starts at a keyframe with the cached sequence headers; its fate arrives as the
   * handle's destination events (`started`, `failed`). Throws when the engine is closed or the
   * group cannot start.
   */
  attach(spec: OutputSpec): OutputHandle {
    if (this.closing) throw new Error('the egress is closed');
    const key = outputKey(spec.callCid, spec.name);
    if (this.outputs.has(key)) throw new Error(`output "${spec.name}" is already attached to call ${spec.callCid}`);
    const group = this.groupFor(spec.callCid, spec.quality, spec.layout, spec.startedBy ?? null);
    const dest = group.join({
      name: spec.name,
      describe: spec.describe,
      createSession: spec.createSession,
      log: this.opts.log,
      ...(spec.retry ? { retry: spec.retry } : {}),
    });
    const placement: Placement = { group, dest };
    let stopping: Promise<void> | null = null;
    const handle: OutputHandle = {
      destination: dest,
      get group() {
        return placement.group;
      },
      stop: () =>
        (stopping ??= (async () => {
          if (this.outputs.get(key)?.handle === handle) this.outputs.delete(key);
          await dest.close();
          this.leaveGroups(placement);
        })()),
    };
    dest.once('failed', () => {
      if (this.outputs.get(key)?.handle === handle) this.outputs.delete(key);
      this.leaveGroups(placement);
    });
    this.outputs.set(key, { spec, placement, handle });
    return handle;
  }

  /**
   * Changes an attached output's layout as `changeLayout` does a broadcast's: it moves to the
   * group of (call, its quality, the new layout) at that group's next keyframe, with continuous
   * timestamps and the same packager. False when no such output is attached; throws when the new
   * group cannot start (the output keeps its layout).
   */
  changeOutputLayout(callCid: string, name: string, layout: LayoutSettings): boolean {
    if (this.closing) throw new Error('the egress is closed');
    const attached = this.outputs.get(outputKey(callCid, name));
    if (!attached) return false;
    this.move(attached.placement, callCid, name, attached.spec.quality, layout, attached.spec.startedBy ?? null);
    attached.spec = { ...attached.spec, layout };
    return true;
  }

  /**
   * The running group of (call, quality, layout), always admitted (it costs no encode), or a new
   * one if admission allows it (else GroupRefusedError, logged).
   */
  private groupFor(callCid: string, quality: Quality, layout: LayoutSettings, requester: string | null): BroadcastGroup {
    const gk = groupKey(callCid, quality, layout);
    const existing = this.groups.get(gk);
    if (existing && !existing.closed) return existing;
    const decision = admitNewGroup(
      {
        groups: [...this.groups.values()].filter((g) => !g.closed).map((g) => g.health()),
        cpuShare: this.opts.cpuShare?.() ?? null,
        requester,
        requesterGroups: requester === null ? 0 : this.groupsCreatedBy(requester),
      },
      this.admission,
    );
    if (!decision.admit) {
      this.opts.log.warn({ callCid, quality, requester, reason: decision.reason, detail: decision.detail }, 'new broadcast group refused');
      throw new GroupRefusedError(decision.reason, decision.detail);
    }
    const created: BroadcastGroup = new BroadcastGroup({
      callCid,
      quality,
      layout,
      sourceFactory: this.sourceFactory,
      log: this.opts.log,
      ...(this.opts.ffmpegPath ? { ffmpegPath: this.opts.ffmpegPath } : {}),
      ...(this.opts.realtime ? { realtime: this.opts.realtime } : {}),
    });
    created.once('close', () => {
      if (this.groups.get(gk) === created) this.groups.delete(gk);
      this.creators.delete(created);
    });
    this.groups.set(gk, created);
    this.creators.set(created, requester);
    return created;
  }

  private joinGroup(
    theGroup: BroadcastGroup,
    spec: BroadcastSpec,
    key: string,
    entry: Partial<Entry>,
    target: ReturnType<RtmpTargetOpener>,
  ): Destination {
    const { callCid, name } = spec;
    const dest = theGroup.join({
      name,
      describe: target.describe,
      createSession: target.createSession,
      log: this.opts.log,
      ...(this.opts.retry ? { retry: this.opts.retry } : {}),
    });
    // The destination starts in a microtask: nothing is emitted before these are in place.
    dest.on('started', () => {
      if (this.entries.get(key) === entry) this.safely(() => this.opts.listener.onStarted(callCid, name));
    });
    dest.on('failed', (reason) => {
      if (this.entries.get(key) !== entry) return;
      this.entries.delete(key);
      this.leaveGroups(entry as Entry);
      this.safely(() => this.opts.listener.onFailed(callCid, name, reason));
    });
    return dest;
  }

  async stop(callCid: string, name: string): Promise<void> {
    const key = destKey(callCid, name);
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    await entry.dest.close();
    this.leaveGroups(entry);
    this.opts.log.info({ callCid, name }, 'broadcast stopped');
    this.safely(() => this.opts.listener.onStopped(callCid, name));
  }

  /**
   * Changes the layout of a running broadcast: its destination moves to the group of (call, its
   * quality, the new layout), a running one or a new one, at that group's next keyframe, with
   * continuous timestamps and the same session; the group it leaves stops when that was its last
   * output. False when the broadcast is not active. Throws when the new group cannot start (the
   * broadcast then keeps its layout).
   */
  changeLayout(callCid: string, name: string, layout: LayoutSettings): boolean {
    if (this.closing) throw new Error('the egress is closed');
    const entry = this.entries.get(destKey(callCid, name));
    if (!entry) return false;
    this.move(entry, callCid, name, entry.spec.quality, layout, entry.spec.startedBy ?? null);
    entry.spec = { ...entry.spec, layout };
    return true;
  }

  /**
   * Moves a destination to the group of (call, quality, layout): a running one or a new one, at
   * that group's next keyframe; the group it leaves stops when that was its last output. Throws
   * when the new group cannot start (the destination stays where it is).
   */
  private move(entry: Placement, callCid: string, name: string, quality: Quality, layout: LayoutSettings, requester: string | null): void {
    const plan = planLayoutMove(entry.group.key, entry.moving?.key ?? null, groupKey(callCid, quality, layout));
    if (plan.kind === 'keep') return;
    if (plan.cancel && entry.moving) {
      const pending = entry.moving;
      entry.moving = undefined;
      pending.leave(entry.dest);
    }
    if (plan.kind === 'stay') return;
    const target = this.groupFor(callCid, quality, layout, requester);
    const from = entry.group;
    entry.moving = target;
    const started = performance.now();
    try {
      target.adopt(entry.dest, from, {
        moved: () => {
          if (entry.moving === target) entry.moving = undefined;
          entry.group = target;
          this.opts.log.info(
            { callCid, name, quality, layout: layout.name, switchMs: Math.round(performance.now() - started) },
            'broadcast moved to the group of its new layout',
          );
        },
        cancelled: () => {
          if (entry.moving !== target) return;
          entry.moving = undefined;
          this.opts.log.warn({ callCid, name, layout: layout.name }, 'broadcast layout change called off (the new group closed first)');
        },
      });
    } catch (err) {
      if (entry.moving === target) entry.moving = undefined;
      throw err;
    }
  }

  /** A destination that ended leaves its group and the one it was moving to. */
  private leaveGroups(entry: Placement): void {
    const moving = entry.moving;
    entry.moving = undefined;
    moving?.leave(entry.dest);
    entry.group.leave(entry.dest);
  }

  /** Closes every group (encoders, sessions) without reporting onStopped. Idempotent; start() throws afterwards. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.entries.clear();
    this.outputs.clear();
    const groups = [...this.groups.values()];
    this.groups.clear();
    this.closing = Promise.all(groups.map((g) => g.close())).then(() => undefined);
    return this.closing;
  }

  /** close() was called. */
  get closed(): boolean {
    return this.closing !== null;
  }

  stats(callCid: string): DestinationStats[] {
    const out: DestinationStats[] = [];
    for (const e of this.entries.values()) if (e.spec.callCid === callCid) out.push({ ...e.dest.stats(), degraded: e.group.degraded });
    return out;
  }

  /** Stats of every active destination, with their call and quality. */
  allStats(): EngineDestinationStats[] {
    return [...this.entries.values()].map((e) => ({
      ...e.dest.stats(),
      degraded: e.group.degraded,
      callCid: e.spec.callCid,
      quality: e.spec.quality,
    }));
  }

  /** Stats of every broadcast group (one encode each). */
  groupStats(): Array<BroadcastGroupHealth & { key: string }> {
    return [...this.groups.values()].map((g) => ({ ...g.health(), key: g.key }));
  }

  /** Broadcast groups behind real time. */
  degradedGroupCount(): number {
    let n = 0;
    for (const g of this.groups.values()) if (g.degraded) n += 1;
    return n;
  }

  encoderCount(): number {
    let n = 0;
    for (const g of this.groups.values()) if (g.encoderRunning) n += 1;
    return n;
  }

  /** Number of broadcast groups (encodes wanted, running or restarting). */
  groupCount(): number {
    return this.groups.size;
  }

  /** Process ids of the running encoders. */
  encoderPids(): number[] {
    const pids: number[] = [];
    for (const g of this.groups.values()) {
      const pid = g.encoderPid;
      if (pid !== undefined) pids.push(pid);
    }
    return pids;
  }

  /** The group serving a destination (for operators and tests). */
  groupOf(callCid: string, name: string): BroadcastGroup | undefined {
    return this.entries.get(destKey(callCid, name))?.group;
  }

  /** Running groups the user's requests created. */
  groupsCreatedBy(userId: string): number {
    let n = 0;
    for (const [g, by] of this.creators) if (by === userId && !g.closed) n += 1;
    return n;
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.opts.log.error({ err: String(err) }, 'egress listener threw');
    }
  }
}
