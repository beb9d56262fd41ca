/**
 * One Chromium process for a browser-rendered layout: Debian's Chromium with a fresh profile in a
 * temporary directory (removed when it exits), DevTools on a loopback port chosen by the browser,
 * in a process group of its own so that `kill()` ends it with every child it started. On an X
 * display it shows the page in a kiosk window filling the display and plays its sound into the
 * PulseAudio server it is given; without a display it runs headless and muted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CdpConnection } from './cdp.js';

export const DEFAULT_CHROMIUM_PATH = '/usr/bin/chromium';

export interface ChromiumLaunchOptions {
  executablePath?: string;
  width: number;
  height: number;
  /** How long to wait for the DevTools endpoint. */
  startTimeoutMs?: number;
  /** Extra command-line switches. */
  extraArgs?: string[];
  /** An X display (e.g. `:42`) to show the page on, in a kiosk window of `width` x `height`; absent: headless. */
  display?: string;
  /** The display's Xauthority file. */
  xauthority?: string;
  /** A PulseAudio server (`unix:/path`) the page's sound is played into; absent: muted. */
  pulseServer?: string;
}

export interface ChromiumMode {
  /** On an X display (a kiosk window), not headless. */
  display?: boolean;
  /** The page's sound is played (not muted). */
  sound?: boolean;
}

/**
 * The switches of a capture browser: headless or a kiosk window at 0,0, no GPU, no background
 * traffic, autoplay on, muted unless its sound is played.
 */
export function chromiumArgs(userDataDir: string, width: number, height: number, mode: ChromiumMode = {}): string[] {
  return [
    ...(mode.display
      ? [
          '--kiosk',
          '--window-position=0,0',
          // No banner about the command-line switches, no crash-restore bubble, no keyring.
          '--test-type',
          '--noerrdialogs',
          '--disable-session-crashed-bubble',
          '--password-store=basic',
          '--ozone-platform=x11',
        ]
      : ['--headless']),
    '--no-sandbox',
    '--disable-gpu',
    // No crash handler: it would detach from the browser's process group.
    '--disable-crash-reporter',
    '--disable-breakpad',
    '--no-first-run',
    '--no-default-browser-check',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-extensions',
    '--disable-default-apps',
    ...(mode.sound ? [] : ['--mute-audio']),
    '--autoplay-policy=no-user-gesture-required',
    '--disable-background-timer-throttling',
    '--disable-renderer-backgrounding',
    '--disable-backgrounding-occluded-windows',
    '--hide-scrollbars',
    '--allow-loopback-in-peer-connection',
    '--disable-features=WebRtcHideLocalIpsWithMdns,Translate,MediaRouter',
    `--window-size=${width},${height}`,
    `--user-data-dir=${userDataDir}`,
    '--remote-debugging-address=127.0.0.1',
    '--remote-debugging-port=0',
    'about:blank',
  ];
}

/** The DevTools URL in Chromium's stderr line `DevTools listening on ws://...`. */
export function parseDevToolsUrl(text: string): string | undefined {
  const m = /DevTools listening on (ws:\/\/\S+)/.exec(text);
  return m?.[1];
}

export class ChromiumProcess {
  private exited = false;
  private readonly exitPromise: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    readonly cdp: CdpConnection,
    private readonly userDataDir: string,
    exitPromise: Promise<void>,
  ) {
    this.exitPromise = exitPromise.then(() => {
      this.exited = true;
    });
  }

  static async launch(opts: ChromiumLaunchOptions): Promise<ChromiumProcess> {
    const userDataDir = mkdtempSync(join(tmpdir(), 'callcast-layout-'));
    const removeProfile = () => rmSync(userDataDir, { recursive: true, force: true });
    const mode = { display: opts.display !== undefined, sound: opts.pulseServer !== undefined };
    const args = [...chromiumArgs(userDataDir, opts.width, opts.height, mode), ...(opts.extraArgs ?? [])];
    const child = spawn(opts.executablePath ?? DEFAULT_CHROMIUM_PATH, args, {
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
      // No service secrets in the browser's environment.
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: userDataDir,
        TMPDIR: userDataDir,
        ...(opts.display !== undefined ? { DISPLAY: opts.display } : {}),
        ...(opts.xauthority !== undefined ? { XAUTHORITY: opts.xauthority } : {}),
        ...(opts.pulseServer !== undefined ? { PULSE_SERVER: opts.pulseServer } : {}),
      },
    });
    const exitPromise = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    });
    exitPromise.then(removeProfile, removeProfile);
    let url: string;
    try {
      url = await new Promise<string>((resolve, reject) => {
        let text = '';
        const timer = setTimeout(() => reject(new Error('Chromium did not open DevTools in time')), opts.startTimeoutMs ?? 20_000);
        child.stderr?.on('data', (chunk: Buffer) => {
          if (text.length < 64 * 1024) text += chunk.toString();
          const found = parseDevToolsUrl(text);
          if (found) {
            clearTimeout(timer);
            resolve(found);
          }
        });
        child.once('error', (err) => {
          clearTimeout(timer);
          reject(new Error(`Chromium could not be started: ${err.message}`));
        });
        child.once('exit', (code, signal) => {
          clearTimeout(timer);
          reject(new Error(`Chromium exited at start (${signal ?? `code ${code}`})`));
        });
      });
    } catch (err) {
      killGroup(child);
      throw err;
    }
    // Keep draining stderr so the browser never blocks on it.
    child.stderr?.resume();
    let cdp: CdpConnection;
    try {
      cdp = await CdpConnection.connect(url);
    } catch (err) {
      killGroup(child);
      throw err;
    }
    return new ChromiumProcess(child, cdp, userDataDir, exitPromise);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return !this.exited;
  }

  /** The profile directory (removed after exit). */
  get profileDir(): string {
    return this.userDataDir;
  }

  onExit(fn: () => void): void {
    void this.exitPromise.then(fn);
  }

  /** Kills the browser and everything it started (its process group); resolves when it has exited. */
  async kill(): Promise<void> {
    this.cdp.close();
    if (!this.exited) killGroup(this.child);
    await this.exitPromise;
    // Children of the group that outlived the main process, and any that left the group (they
    // name this profile on their command line).
    killGroup(this.child);
    for (const pid of processesNaming(this.userDataDir)) killPid(pid);
    rmSync(this.userDataDir, { recursive: true, force: true });
  }
}

/** Processes whose command line contains `text` (read from /proc). */
export function processesNaming(text: string): number[] {
  const out: number[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'latin1').includes(text)) out.push(Number(e));
    } catch {
      // gone
    }
  }
  return out;
}

function killPid(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
