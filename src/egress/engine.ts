/**
 * The egress engine: the control plane's `BroadcastEngine`. Groups destinations by
 * (call, quality, layout) so each combination is encoded once, and reports each destination's
 * fate to the listener.
 */
import type { Logger } from '../log.js';
import type { PublisherPolicy } from '../rtmp/publisher.js';
import type { BroadcastEngine, BroadcastSpec, DestinationStats, EgressListener } from './contract.js';
import { BroadcastGroup } from './broadcast-group.js';
import { groupKey } from './group-key.js';
import type { Destination, RetryPolicy } from './destination.js';
import { backgroundFrameSourceFactory, type FrameSourceFactory } from './frame-source.js';
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
  /**
   * Resolves and checks the address every RTMP session connects to (the destination policy,
   * src/net); a refused address fails the destination without retries. Default: no check.
   */
  resolveAddress?: (host: string, port: number) => Promise<{ address: string }>;
}

interface Entry {
  spec: BroadcastSpec;
  group: BroadcastGroup;
  dest: Destination;
}

export interface EngineDestinationStats extends DestinationStats {
  callCid: string;
  quality: string;
}

function destKey(callCid: string, name: string): string {
  return `${callCid}\u0000${name}`;
}

export class EgressEngine implements BroadcastEngine {
  private readonly groups = new Map<string, BroadcastGroup>();
  private readonly entries = new Map<string, Entry>();
  private readonly sourceFactory: FrameSourceFactory;
  private readonly openTarget: RtmpTargetOpener;
  private closing: Promise<void> | null = null;

  constructor(private readonly opts: EgressEngineOptions) {
    this.sourceFactory = opts.frameSourceFactory ?? backgroundFrameSourceFactory;
    this.openTarget = opts.openTarget ?? openRtmpTarget;
  }

  start(spec: BroadcastSpec): void {
    const { callCid, name } = spec;
    const key = destKey(callCid, name);
    if (this.closing) throw new Error('the egress is closed');
    if (this.entries.has(key)) throw new Error(`broadcast "${name}" is already active for call ${callCid}`);

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
      return;
    }

    const gk = groupKey(callCid, spec.quality, spec.layout);
    let group = this.groups.get(gk);
    if (!group || group.closed) {
      const created: BroadcastGroup = new BroadcastGroup({
        callCid,
        quality: spec.quality,
        layout: spec.layout,
        sourceFactory: this.sourceFactory,
        log: this.opts.log,
        ...(this.opts.ffmpegPath ? { ffmpegPath: this.opts.ffmpegPath } : {}),
      });
      created.once('close', () => {
        if (this.groups.get(gk) === created) this.groups.delete(gk);
      });
      group = created;
      this.groups.set(gk, group);
    }
    const theGroup = group;
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
      theGroup.leave(dest);
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
    entry.group.leave(entry.dest);
    this.opts.log.info({ callCid, name }, 'broadcast stopped');
    this.safely(() => this.opts.listener.onStopped(callCid, name));
  }

  /** Closes every group (encoders, sessions) without reporting onStopped. Idempotent; start() throws afterwards. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.entries.clear();
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
    for (const e of this.entries.values()) if (e.spec.callCid === callCid) out.push(e.dest.stats());
    return out;
  }

  /** Stats of every active destination, with their call and quality. */
  allStats(): EngineDestinationStats[] {
    return [...this.entries.values()].map((e) => ({ ...e.dest.stats(), callCid: e.spec.callCid, quality: e.spec.quality }));
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

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.opts.log.error({ err: String(err) }, 'egress listener threw');
    }
  }
}
