/**
 * A PulseAudio server of its own for one layout browser: no configuration file read, one null sink
 * (`callcast`, 48 kHz stereo) that the browser plays into and whose monitor the capture records,
 * reachable only through a socket in a private runtime directory (removed when it stops). It never
 * exits on idle, uses no D-Bus, no shared memory and no realtime scheduling.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChildGroup } from './child-group.js';

export const DEFAULT_PULSEAUDIO_PATH = 'pulseaudio';
/** The sink the browser plays into; the capture records `${PULSE_SINK}.monitor`. */
export const PULSE_SINK = 'callcast';

/** pulseaudio's arguments for a server whose socket is `socketPath`. */
export function pulseaudioArgs(socketPath: string): string[] {
  return [
    '--daemonize=no',
    '-n',
    '--exit-idle-time=-1',
    '--disallow-exit',
    '--use-pid-file=false',
    '--system=false',
    '--disable-shm=true',
    '--realtime=false',
    '--high-priority=false',
    '--no-cpu-limit=true',
    '--log-target=stderr',
    '--log-level=error',
    '-L',
    `module-null-sink sink_name=${PULSE_SINK} rate=48000 channels=2 format=s16le`,
    '-L',
    `module-native-protocol-unix socket=${socketPath} auth-anonymous=1`,
  ];
}

export class PulseServer {
  private constructor(
    readonly process: ChildGroup,
    private readonly runtimeDir: string,
    /** For clients' PULSE_SERVER, e.g. `unix:/tmp/callcast-pulse-x/native`. */
    readonly server: string,
  ) {}

  static async start(opts: { path?: string; startTimeoutMs?: number } = {}): Promise<PulseServer> {
    const dir = mkdtempSync(join(tmpdir(), 'callcast-pulse-'));
    const socket = join(dir, 'native');
    const proc = ChildGroup.spawn('pulseaudio', opts.path ?? DEFAULT_PULSEAUDIO_PATH, pulseaudioArgs(socket), {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, XDG_RUNTIME_DIR: dir, XDG_CONFIG_HOME: dir },
    });
    const removeDir = () => rmSync(dir, { recursive: true, force: true });
    proc.onExit(removeDir);
    try {
      const deadline = Date.now() + (opts.startTimeoutMs ?? 10_000);
      for (;;) {
        if (!proc.running) throw new Error(proc.describeEnd());
        if (existsSync(socket)) break;
        if (Date.now() >= deadline) throw new Error('pulseaudio did not open its socket in time');
        await new Promise((r) => setTimeout(r, 25));
      }
      return new PulseServer(proc, dir, `unix:${socket}`);
    } catch (err) {
      await proc.stop();
      removeDir();
      throw err;
    }
  }

  async stop(): Promise<void> {
    await this.process.stop();
    rmSync(this.runtimeDir, { recursive: true, force: true });
  }
}
