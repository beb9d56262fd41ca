/**
 * A BroadcastEngine test double for control-plane tests: it records what it was asked to do and
 * lets the test report the engine-side outcomes (started, failed) through the real listener.
 * `stop` reports onStopped like the real engine.
 */
import type { BroadcastEngine, BroadcastSpec, DestinationStats, EgressListener } from '../../src/egress/contract.js';
import type { LayoutSettings } from '../../src/layout/settings.js';

export class RecordingEngine implements BroadcastEngine {
  readonly started: BroadcastSpec[] = [];
  readonly stopped: Array<{ callCid: string; name: string }> = [];
  readonly active = new Map<string, BroadcastSpec>();
  /** Layout changes asked for, in order. */
  readonly layoutChanges: Array<{ callCid: string; name: string; layout: LayoutSettings }> = [];
  listener: EgressListener | null = null;
  shutdownCalls = 0;

  /** Factory for startCallcast({ engine }). */
  bind = (listener: EgressListener): BroadcastEngine => {
    this.listener = listener;
    return this;
  };

  private key(cid: string, name: string): string {
    return `${cid}\u0000${name}`;
  }

  start(spec: BroadcastSpec): void {
    if (this.active.has(this.key(spec.callCid, spec.name))) throw new Error('already active');
    this.started.push(spec);
    this.active.set(this.key(spec.callCid, spec.name), spec);
  }

  changeLayout(callCid: string, name: string, layout: LayoutSettings): boolean {
    const spec = this.active.get(this.key(callCid, name));
    if (!spec) return false;
    this.layoutChanges.push({ callCid, name, layout });
    this.active.set(this.key(callCid, name), { ...spec, layout });
    return true;
  }

  private gate: Promise<void> | null = null;

  /** Makes stops wait until the returned function is called (a slow RTMP close). */
  holdStops(): () => void {
    let release!: () => void;
    this.gate = new Promise<void>((resolve) => (release = resolve));
    return () => {
      this.gate = null;
      release();
    };
  }

  async stop(callCid: string, name: string): Promise<void> {
    this.stopped.push({ callCid, name });
    if (this.gate) await this.gate;
    if (this.active.delete(this.key(callCid, name))) this.listener?.onStopped(callCid, name);
  }

  /** When set, shutdown reports every active destination as failed (a noisy close). */
  failOnShutdown = false;

  async close(): Promise<void> {
    this.shutdownCalls++;
    const active = [...this.active.values()];
    this.active.clear();
    if (this.failOnShutdown) for (const s of active) this.listener?.onFailed(s.callCid, s.name, 'closed at shutdown');
  }

  stats(callCid: string): DestinationStats[] {
    return [...this.active.values()]
      .filter((s) => s.callCid === callCid)
      .map((s) => ({
        name: s.name,
        state: 'live',
        bytesSent: 1000,
        videoFramesSent: 30,
        audioFramesSent: 47,
        bitrate: 3_000_000,
        reconnects: 0,
        lastError: null,
        liveSince: new Date(0).toISOString(),
      }));
  }

  encoderCount(): number {
    return new Set([...this.active.values()].map((s) => `${s.callCid}|${s.quality}|${JSON.stringify(s.layout)}`)).size;
  }

  /** Reports that the destination went live. */
  reportStarted(callCid: string, name: string): void {
    this.listener?.onStarted(callCid, name);
  }

  /** Reports that the destination gave up. */
  reportFailed(callCid: string, name: string, reason = 'refused'): void {
    this.active.delete(this.key(callCid, name));
    this.listener?.onFailed(callCid, name, reason);
  }
}
