/**
 * Drives test/support/gst-whip-publisher.py (GStreamer webrtcbin as a WHIP publisher), optionally
 * inside a network namespace, and collects what it reports.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const GST_PUBLISHER_SCRIPT = fileURLToPath(new URL('./gst-whip-publisher.py', import.meta.url));
const PYTHON = '/usr/bin/python3';

export interface GstPublisherOptions {
  url: string;
  token: string;
  codec: 'vp8' | 'h264';
  bundle: 'max-bundle' | 'max-compat';
  /** RRGGBB */
  color: string;
  freq: number;
  seconds: number;
  /** run inside this network namespace (ip netns exec) */
  netns?: string;
}

export interface GstEvent {
  event: string;
  [k: string]: unknown;
}

export interface GstPublisher {
  child: ChildProcess;
  events: GstEvent[];
  stderr: () => string;
  /** resolves with the first event of this kind (or rejects after `timeoutMs`) */
  waitFor(event: string, timeoutMs: number, match?: (e: GstEvent) => boolean): Promise<GstEvent>;
  /** SIGTERM, then waits for the exit (the script DELETEs its WHIP session first) */
  stop(): Promise<void>;
}

/** Whether GStreamer's webrtcbin and its Python bindings are installed. */
export function gstAvailable(): { ok: true } | { ok: false; why: string } {
  const r = spawnSync(
    PYTHON,
    [
      '-c',
      "import gi; gi.require_version('Gst','1.0'); gi.require_version('GstWebRTC','1.0'); from gi.repository import Gst; Gst.init(None); assert Gst.ElementFactory.find('webrtcbin') and Gst.ElementFactory.find('nicesrc')",
    ],
    { encoding: 'utf8', timeout: 20_000 },
  );
  return r.status === 0
    ? { ok: true }
    : {
        ok: false,
        why: `GStreamer webrtcbin with Python bindings is not installed (scripts/install-system-deps.sh test): ${r.stderr.trim().split('\n').at(-1) ?? ''}`,
      };
}

export function startGstPublisher(o: GstPublisherOptions): GstPublisher {
  const args = [
    GST_PUBLISHER_SCRIPT,
    '--url',
    o.url,
    '--token',
    o.token,
    '--codec',
    o.codec,
    '--bundle',
    o.bundle,
    '--color',
    o.color,
    '--freq',
    String(o.freq),
    '--seconds',
    String(o.seconds),
  ];
  const child = o.netns
    ? spawn('ip', ['netns', 'exec', o.netns, PYTHON, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(PYTHON, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const events: GstEvent[] = [];
  const waiters: (() => void)[] = [];
  let err = '';
  let buf = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => {
    buf += d;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        events.push(JSON.parse(line) as GstEvent);
      } catch {
        /* not ours */
      }
      for (const w of [...waiters]) w();
    }
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    if (err.length < 20_000) err += d;
  });
  const exited = new Promise<void>((resolve) =>
    child.on('exit', () => {
      for (const w of [...waiters]) w();
      resolve();
    }),
  );
  return {
    child,
    events,
    stderr: () => err,
    waitFor(event, timeoutMs, match = () => true) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = events.find((e) => e.event === event && match(e));
          if (found) {
            done();
            resolve(found);
            return;
          }
          if (child.exitCode !== null || child.signalCode !== null) {
            done();
            reject(
              new Error(
                `GStreamer publisher exited before "${event}": ${JSON.stringify(events.filter((e) => e.event === 'error'))} ${err.slice(-2000)}`,
              ),
            );
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(
            new Error(
              `no "${event}" from the GStreamer publisher within ${timeoutMs} ms: ${JSON.stringify(events.map((e) => (e.event === 'offer' || e.event === 'answer' ? { event: e.event } : e)))}`,
            ),
          );
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          const k = waiters.indexOf(check);
          if (k >= 0) waiters.splice(k, 1);
        };
        waiters.push(check);
        check();
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
      await exited;
      clearTimeout(timer);
    },
  };
}
