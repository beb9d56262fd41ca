/** Shared pieces of the egress tests. */
import { execFileSync } from 'node:child_process';
import type { EgressListener } from '../../src/egress/contract.js';
import type { Logger } from '../../src/log.js';
import type { LayoutSettings } from '../../src/layout/settings.js';

export const layout = (options?: Record<string, unknown>): LayoutSettings => ({
  name: 'spotlight',
  external_app_url: '',
  external_css_url: '',
  ...(options ? { options } : {}),
});

export interface ListenerEvent {
  kind: 'started' | 'failed' | 'stopped';
  callCid: string;
  name: string;
  reason?: string;
}

/** A listener that records what it is told and lets tests wait for it. */
export class RecordingListener implements EgressListener {
  readonly events: ListenerEvent[] = [];
  private waiters: Array<() => void> = [];

  onStarted(callCid: string, name: string): void {
    this.push({ kind: 'started', callCid, name });
  }
  onFailed(callCid: string, name: string, reason: string): void {
    this.push({ kind: 'failed', callCid, name, reason });
  }
  onStopped(callCid: string, name: string): void {
    this.push({ kind: 'stopped', callCid, name });
  }

  find(kind: ListenerEvent['kind'], name: string): ListenerEvent | undefined {
    return this.events.find((e) => e.kind === kind && e.name === name);
  }

  async waitFor(kind: ListenerEvent['kind'], name: string, timeoutMs = 30_000): Promise<ListenerEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.find(kind, name);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${kind} of ${name}; got ${JSON.stringify(this.events)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  private push(e: ListenerEvent): void {
    this.events.push(e);
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

/** ffmpeg processes that are children of this process. */
export function ffmpegChildren(): number[] {
  let out = '';
  try {
    out = execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  } catch {
    return []; // ps exits 1 when there is none
  }
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter(([, comm]) => comm === 'ffmpeg')
    .map(([pid]) => Number(pid));
}
