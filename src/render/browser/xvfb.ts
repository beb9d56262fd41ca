/**
 * A virtual X display of its own for one layout browser: Xvfb at the canvas size, on a display
 * number it picks itself (`-displayfd`: the first free one, claimed through its lock file, written
 * back once the server accepts connections), listening on no TCP port, and accepting only clients
 * that present its random MIT-MAGIC-COOKIE-1 (an Xauthority file in a private directory, given to
 * the browser and the capture through XAUTHORITY): other local users cannot watch the page.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChildGroup } from './child-group.js';

export const DEFAULT_XVFB_PATH = 'Xvfb';

/** Xvfb's arguments: one screen of `width` x `height` at 24 bits, the display number written to fd 3, clients checked against `authFile`. */
export function xvfbArgs(width: number, height: number, authFile: string): string[] {
  return ['-displayfd', '3', '-screen', '0', `${width}x${height}x24`, '-nolisten', 'tcp', '-noreset', '-auth', authFile];
}

/**
 * An Xauthority file (libXau's format) of one MIT-MAGIC-COOKIE-1 entry for any address and any
 * display number (family FamilyWild, empty address and number): the display's number is not known
 * before Xvfb has picked it. Pure.
 */
export function xauthorityEntry(cookie: Buffer): Buffer {
  const field = (b: Buffer) => {
    const len = Buffer.alloc(2);
    len.writeUInt16BE(b.length);
    return [len, b];
  };
  const family = Buffer.alloc(2);
  family.writeUInt16BE(0xffff);
  return Buffer.concat([
    family,
    ...field(Buffer.alloc(0)),
    ...field(Buffer.alloc(0)),
    ...field(Buffer.from('MIT-MAGIC-COOKIE-1')),
    ...field(cookie),
  ]);
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
    /** The Xauthority file clients need (XAUTHORITY). */
    readonly authFile: string,
  ) {}

  /** The environment a client of this display needs. */
  get clientEnv(): { DISPLAY: string; XAUTHORITY: string } {
    return { DISPLAY: this.display, XAUTHORITY: this.authFile };
  }

  static async start(opts: { width: number; height: number; path?: string; startTimeoutMs?: number }): Promise<XvfbDisplay> {
    const dir = mkdtempSync(join(tmpdir(), 'callcast-x-'));
    const authFile = join(dir, 'Xauthority');
    writeFileSync(authFile, xauthorityEntry(randomBytes(16)), { mode: 0o600 });
    const proc = ChildGroup.spawn('Xvfb', opts.path ?? DEFAULT_XVFB_PATH, xvfbArgs(opts.width, opts.height, authFile), {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    proc.onExit(() => rmSync(dir, { recursive: true, force: true }));
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
      return new XvfbDisplay(proc, `:${n}`, authFile);
    } catch (err) {
      await proc.stop();
      throw err;
    }
  }

  stop(): Promise<void> {
    return this.process.stop();
  }
}
