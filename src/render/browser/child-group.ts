/**
 * A helper process of a browser-rendered layout (the display server, the sound server, the
 * capture ffmpegs), started in a process group of its own so that stopping it ends everything it
 * started. `stop()` kills the group by its PID and resolves when the process has exited.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export class ChildGroup {
  private exited = false;
  private readonly exitPromise: Promise<void>;
  private stderrText = '';
  /** Why the process could not be started (e.g. ENOENT), if it could not. */
  startError: Error | undefined;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    this.exitPromise = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', (err) => {
        this.startError = err;
        resolve();
      });
    }).then(() => {
      this.exited = true;
    });
    child.stderr?.on('data', (c: Buffer) => {
      if (this.stderrText.length < 4096) this.stderrText += c.toString();
    });
  }

  /** Starts `command` detached (its own process group), stdin ignored, stderr kept (the first 4 KiB). */
  static spawn(name: string, command: string, args: string[], opts: SpawnOptions = {}): ChildGroup {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], ...opts, detached: true });
    return new ChildGroup(name, child);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return !this.exited;
  }

  /** What the process wrote to stderr (its first 4 KiB), trimmed. */
  get stderr(): string {
    return this.stderrText.trim();
  }

  /** Why it ended, for a log line or a failure reason: the start error, else the start of stderr. */
  describeEnd(): string {
    if (this.startError) return `${this.name} could not be started: ${this.startError.message}`;
    return `${this.name} exited${this.stderr ? `: ${this.stderr.slice(0, 300)}` : ''}`;
  }

  /** Calls `fn` once when the process exits (or could not be started). */
  onExit(fn: () => void): void {
    void this.exitPromise.then(fn);
  }

  whenExited(): Promise<void> {
    return this.exitPromise;
  }

  /** Kills the process group; resolves when the process has exited. */
  async stop(): Promise<void> {
    killGroup(this.child);
    await this.exitPromise;
    // Members of the group that outlived its leader.
    killGroup(this.child);
  }
}

export function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
