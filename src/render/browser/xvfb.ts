/**
 * A virtual X display of its own for one layout browser: Xvfb at the canvas size, on a display
 * number it picks itself (`-displayfd`: the first free one, claimed through its lock file, written
 * back once the server accepts connections), listening on no TCP port.
 */
import { ChildGroup } from './child-group.js';

export const DEFAULT_XVFB_PATH = 'Xvfb';

/** Xvfb's arguments: one screen of `width` x `height` at 24 bits, the display number written to fd 3. */
export function xvfbArgs(width: number, height: number): string[] {
  return ['-displayfd', '3', '-screen', '0', `${width}x${height}x24`, '-nolisten', 'tcp', '-noreset'];
}

/** The display number Xvfb wrote to its display fd (`"42\n"`), once the line is complete. */
export function parseDisplayNumber(text: string): number | undefined {
  const m = /^(\d+)\n/.exec(text);
  return m ? Number(m[1]) : undefined;
}

export class XvfbDisplay {
  private constructor(
    readonly process: ChildGroup,
    /** E.g. `:42`. */
    readonly display: string,
  ) {}

  static async start(opts: { width: number; height: number; path?: string; startTimeoutMs?: number }): Promise<XvfbDisplay> {
    const proc = ChildGroup.spawn('Xvfb', opts.path ?? DEFAULT_XVFB_PATH, xvfbArgs(opts.width, opts.height), {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    const fd3 = proc.child.stdio[3];
    try {
      const n = await new Promise<number>((resolve, reject) => {
        let text = '';
        const timer = setTimeout(() => reject(new Error('Xvfb did not open a display in time')), opts.startTimeoutMs ?? 10_000);
        fd3?.on('data', (chunk: Buffer) => {
          text += chunk.toString();
          const found = parseDisplayNumber(text);
          if (found !== undefined) {
            clearTimeout(timer);
            resolve(found);
          }
        });
        proc.child.once('error', (err) => {
          clearTimeout(timer);
          reject(new Error(`Xvfb could not be started: ${err.message}`));
        });
        proc.child.once('exit', (code, signal) => {
          clearTimeout(timer);
          reject(new Error(`Xvfb exited at start (${signal ?? `code ${code}`}): ${proc.stderr.slice(0, 300)}`));
        });
      });
      return new XvfbDisplay(proc, `:${n}`);
    } catch (err) {
      await proc.stop();
      throw err;
    }
  }

  stop(): Promise<void> {
    return this.process.stop();
  }
}
