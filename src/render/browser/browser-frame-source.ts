/**
 * A broadcast group's picture and sound made by a layout app in Chromium (reference/layouts.md
 * §10). Each attempt at showing the app runs its own stack: a virtual X display at the canvas size
 * (Xvfb), a PulseAudio server with one null sink, Chromium in a kiosk window on that display
 * playing into that sink, and two ffmpeg captures (x11grab of the display as I420 at the
 * broadcast's frame rate, the sink's monitor as s16le 48 kHz stereo). Callcast calls
 * `window.setupLayout` with the call's config (layout-config.ts) through the DevTools protocol;
 * once the page adds `#egress-ready-for-capture`, the captured frames are the broadcast's picture
 * and the page's sound is its sound (through a jitter buffer, PcmTimeline).
 *
 * Until the first captured frame the layout's background colour is shown, and silence is played.
 * A page or browser crash (or the end of any process of the stack) is recovered once: the stack is
 * stopped and a new one opens the app again, while the encoder and RTMP sessions go on with the
 * last picture. A second crash, a page that does not load, or one that is not ready within the
 * readiness timeout fails the source (`onFailure`), which fails the broadcast. When PulseAudio
 * cannot be started, the page is shown muted and the sound is the call's mix (the native source).
 * The built-in layouts page (`pageUrl`, for `external_css_url`) runs the same stack without the
 * sound server: its sound is the call's mix.
 */
import type { FrameSource } from '../../egress/frame-source.js';
import { BackgroundFrameSource } from '../../egress/frame-source.js';
import { qualityProfile } from '../../egress/qualities.js';
import { canvasFor, type CanvasSize, type LayoutSettings, type Quality } from '../../layout/settings.js';
import { describeError, type Logger } from '../../log.js';
import { PcmTimeline, type PcmReadStats } from '../../media/mixer.js';
import type { CdpEvent } from './cdp.js';
import type { ChildGroup } from './child-group.js';
import { ChromiumProcess } from './chromium-process.js';
import { layoutAppConfig } from './layout-config.js';
import { originAllowed } from '../../layout/app-url.js';
import { PulseServer } from './pulse-server.js';
import { FrameQueue, startAudioCapture, startVideoCapture } from './screen-capture.js';
import { FramePool } from '../frame-pool.js';
import { i420Bytes } from '../i420-frame.js';
import { XvfbDisplay } from './xvfb.js';

export const DEFAULT_LAYOUT_READY_TIMEOUT_MS = 20_000;
const POLL_MS = 100;
const DEFAULT_TOKEN_RENEW_MS = 30 * 60_000;

export interface RecorderToken {
  token: string;
  userId: string;
}

export interface BrowserLayoutOptions {
  log: Logger;
  apiKey: string;
  /** How the page reaches Callcast (the public URL). */
  baseUrl: () => string;
  /** A token for a hidden recorder user that may only read the call and subscribe to its participants. */
  recorderToken: (callCid: string, userId?: string) => Promise<RecorderToken>;
  /** How long the page has to call for capture (`#egress-ready-for-capture`), from the start of its loading. */
  readyTimeoutMs?: number;
  /** Origins layout apps may be loaded from (CALLCAST_LAYOUT_URL_ALLOW); absent: any http(s) origin. */
  allowOrigins?: readonly string[];
  chromiumPath?: string;
  ffmpegPath?: string;
  /** How often the recorder token is renewed (a `callcast:token` event on the page's window). */
  tokenRenewMs?: number;
  /**
   * The page to open instead of the layout's `external_app_url`: Callcast's own built-in layouts
   * page (trusted, not subject to the allow list; the layout's `external_css_url` is checked instead).
   */
  pageUrl?: string;
}

/** PIDs of the browsers this process has started and not yet seen exit (for operators and tests). */
const running = new Set<number>();
export function runningLayoutBrowsers(): number[] {
  return [...running];
}

/** PIDs of every process of the layout stacks (browsers, X displays, sound servers, captures) not yet seen exit. */
const runningStack = new Set<number>();
export function runningLayoutProcesses(): number[] {
  return [...runningStack];
}

class CrashError extends Error {}
class FailError extends Error {}

/** The reader's name on the page's sound timeline (one broadcast group reads it). */
const SOUND_READER = 'broadcast';

interface Attempt {
  display: XvfbDisplay | null;
  pulse: PulseServer | null;
  browser: ChromiumProcess | null;
  captures: ChildGroup[];
  sessionId: string;
  /** The page has called for capture: its frames and sound are the broadcast's. */
  ready: boolean;
  crashed: Promise<string>;
  crash(reason: string): void;
}

export class BrowserFrameSource implements FrameSource {
  readonly canvas: CanvasSize;
  private readonly fps: number;
  private readonly background: BackgroundFrameSource;
  private readonly readyTimeoutMs: number;
  /** The captured pictures' buffers, reused once the queue and the encoder are done with them. */
  private readonly pool: FramePool;
  private readonly frames: FrameQueue;
  private readonly sound = new PcmTimeline();
  private readonly soundStats: PcmReadStats = { underrunSampleFrames: 0, droppedSampleFrames: 0 };
  /**
   * Whether the page's sound is the broadcast's: a layout app's is, until PulseAudio cannot be
   * started (then the call's mix). The built-in layouts page (`pageUrl`) draws the native scene and
   * plays nothing; its sound is the call's mix, as the native compositor's, and no sound server runs.
   */
  private pageSound: boolean;
  private attempt: Attempt | null = null;
  private failureReason: string | undefined;
  private readonly failureListeners: Array<(reason: string) => void> = [];
  private closed = false;
  private token: RecorderToken | null = null;
  private renewTimer: NodeJS.Timeout | null = null;
  /** Reloads after a crash, captured pictures shown. */
  readonly counts = { reloads: 0, pictures: 0 };
  private readonly logContext: Record<string, unknown>;

  constructor(
    private readonly callCid: string,
    quality: Quality,
    private readonly layout: LayoutSettings,
    private readonly audio: FrameSource,
    private readonly opts: BrowserLayoutOptions,
  ) {
    this.canvas = canvasFor(quality);
    this.fps = qualityProfile(quality).fps;
    this.background = new BackgroundFrameSource(quality, layout);
    this.pool = new FramePool(i420Bytes(this.canvas.width, this.canvas.height));
    this.frames = new FrameQueue(3, (frame) => this.pool.release(frame));
    this.readyTimeoutMs = opts.readyTimeoutMs ?? DEFAULT_LAYOUT_READY_TIMEOUT_MS;
    this.pageSound = opts.pageUrl === undefined;
    this.logContext =
      opts.pageUrl === undefined ? { callCid, quality, layout: 'custom' } : { callCid, quality, layout: layout.name, page: 'builtin' };
    void this.run();
  }

  /** Calls `fn` once when the source gives up (at once if it already has). */
  onFailure(fn: (reason: string) => void): void {
    if (this.failureReason !== undefined) {
      const reason = this.failureReason;
      queueMicrotask(() => fn(reason));
    } else this.failureListeners.push(fn);
  }

  /** The browser's PID while one runs. */
  get browserPid(): number | undefined {
    return this.attempt?.browser?.pid;
  }

  /** Whether captured frames are being shown. */
  get capturing(): boolean {
    return this.frames.started;
  }

  /** Crashes the page's renderer (for operators and tests): the source reloads it once. */
  async crashPage(): Promise<void> {
    const a = this.attempt;
    if (!a?.browser) return;
    await a.browser.cdp.send('Page.crash', {}, a.sessionId).catch(() => undefined);
  }

  videoFrame(ptsMs: number): Buffer {
    const frame = this.frames.next();
    if (!frame) return this.background.videoFrame(ptsMs);
    // Held until the encoder took it (releaseFrame), beside the queue's own hold.
    this.pool.retain(frame);
    return frame;
  }

  releaseFrame(frame: Buffer): void {
    this.pool.release(frame);
  }

  audioSamples(ptsMs: number, sampleFrames: number): Buffer {
    if (!this.pageSound) return this.audio.audioSamples(ptsMs, sampleFrames);
    return this.sound.read(SOUND_READER, sampleFrames, this.soundStats);
  }

  audioStats() {
    if (this.pageSound) return { ...this.soundStats };
    return this.audio.audioStats?.() ?? { underrunSampleFrames: 0, droppedSampleFrames: 0 };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.renewTimer = null;
    const a = this.attempt;
    this.attempt = null;
    if (a) void stopAttempt(a);
    this.audio.close();
    // The counts below are kept; the pictures go back to the pool.
    const { repeated, dropped } = this.frames;
    this.frames.clear();
    this.opts.log.info(
      {
        ...this.logContext,
        reloads: this.counts.reloads,
        pictures: this.counts.pictures,
        repeated,
        dropped,
        sound: this.pageSound ? { ...this.soundStats } : 'the call mix',
      },
      'layout app stopped',
    );
  }

  private async run(): Promise<void> {
    const url = this.opts.pageUrl ?? this.layout.external_app_url;
    if (this.opts.pageUrl !== undefined && !originAllowed(this.layout.external_css_url, this.opts.allowOrigins)) {
      this.fail('the layout stylesheet URL (external_css_url) is not allowed by CALLCAST_LAYOUT_URL_ALLOW');
      return;
    }
    if (this.opts.pageUrl === undefined && !originAllowed(url, this.opts.allowOrigins)) {
      this.fail('the layout app URL (external_app_url) is not allowed by CALLCAST_LAYOUT_URL_ALLOW');
      return;
    }
    for (;;) {
      let reason: string;
      try {
        await this.openPage(url);
        if (this.closed || !this.attempt) return;
        reason = await this.attempt.crashed;
      } catch (err) {
        if (this.closed) return;
        if (!(err instanceof CrashError)) {
          this.fail(err instanceof FailError ? err.message : `the layout app could not be started: ${describeError(err)}`);
          return;
        }
        reason = err.message;
      }
      if (this.closed) return;
      const old = this.attempt;
      this.attempt = null;
      if (old) await stopAttempt(old);
      if (this.closed) return;
      if (this.counts.reloads >= 1) {
        this.fail(`the layout app crashed again after a reload (${reason})`);
        return;
      }
      this.counts.reloads += 1;
      this.opts.log.warn({ ...this.logContext, reason }, 'layout app crashed; reloading it');
    }
  }

  /** Starts a helper process of the attempt; its end is a crash of the attempt. */
  private watch(attempt: Attempt, proc: ChildGroup): void {
    const pid = proc.pid;
    if (pid !== undefined) runningStack.add(pid);
    proc.onExit(() => {
      if (pid !== undefined) runningStack.delete(pid);
      attempt.crash(proc.describeEnd());
    });
  }

  /** Starts the attempt's X display and sound server (the sound server may fail: the call's mix is played then). */
  private async startStack(attempt: Attempt): Promise<void> {
    const [display, pulse] = await Promise.allSettled([
      XvfbDisplay.start({ width: this.canvas.width, height: this.canvas.height }),
      this.pageSound ? PulseServer.start() : Promise.resolve(null),
    ]);
    if (display.status === 'fulfilled') attempt.display = display.value;
    if (pulse.status === 'fulfilled') attempt.pulse = pulse.value;
    else if (this.pageSound) {
      this.pageSound = false;
      this.opts.log.warn(
        { ...this.logContext, err: describeError(pulse.reason) },
        "PulseAudio could not be started: the layout app is muted and the broadcast plays the call's mix",
      );
    }
    if (display.status === 'rejected') throw display.reason;
    this.watch(attempt, attempt.display!.process);
    if (attempt.pulse) this.watch(attempt, attempt.pulse.process);
  }

  private async openPage(url: string): Promise<void> {
    let crash: (reason: string) => void = () => undefined;
    const crashed = new Promise<string>((resolve) => {
      crash = resolve;
    });
    const attempt: Attempt = { display: null, pulse: null, browser: null, captures: [], sessionId: '', ready: false, crashed, crash };
    this.attempt = attempt;
    try {
      await this.showPage(attempt, url, crashed);
    } catch (err) {
      // Given up on while starting: nothing else stops what had started by then.
      if (this.closed || this.attempt !== attempt) await stopAttempt(attempt);
      throw err;
    }
  }

  private async showPage(attempt: Attempt, url: string, crashed: Promise<string>): Promise<void> {
    const stale = () => this.closed || this.attempt !== attempt;
    await this.startStack(attempt);
    if (stale()) return stopAttempt(attempt);
    const display = attempt.display!.display;
    const browser = await ChromiumProcess.launch({
      width: this.canvas.width,
      height: this.canvas.height,
      display,
      xauthority: attempt.display!.authFile,
      ...(attempt.pulse ? { pulseServer: attempt.pulse.server } : {}),
      ...(this.opts.chromiumPath ? { executablePath: this.opts.chromiumPath } : {}),
    });
    attempt.browser = browser;
    const pid = browser.pid;
    if (pid !== undefined) {
      running.add(pid);
      runningStack.add(pid);
    }
    browser.onExit(() => {
      if (pid !== undefined) {
        running.delete(pid);
        runningStack.delete(pid);
      }
      attempt.crash('the browser exited');
    });
    if (stale()) return stopAttempt(attempt);
    this.opts.log.info({ ...this.logContext, pid, display }, 'layout browser started');
    // The captures run from now on; what they take counts once the page is ready.
    const ffmpeg = this.opts.ffmpegPath ? { ffmpegPath: this.opts.ffmpegPath } : {};
    const video = startVideoCapture({
      ...ffmpeg,
      display,
      xauthority: attempt.display!.authFile,
      width: this.canvas.width,
      height: this.canvas.height,
      fps: this.fps,
      pool: this.pool,
      onFrame: (frame) => {
        if (!attempt.ready || this.attempt !== attempt) {
          this.pool.release(frame);
          return;
        }
        this.frames.push(frame);
        this.counts.pictures += 1;
      },
    });
    attempt.captures.push(video);
    this.watch(attempt, video);
    if (attempt.pulse) {
      const sound = startAudioCapture({
        ...ffmpeg,
        pulseServer: attempt.pulse.server,
        onPcm: (pcm) => {
          if (attempt.ready && this.attempt === attempt) this.sound.write(pcm);
        },
      });
      attempt.captures.push(sound);
      this.watch(attempt, sound);
    }
    const cdp = browser.cdp;
    cdp.on('close', () => attempt.crash('the DevTools connection closed'));
    const targetId = await pageTarget(browser);
    const { sessionId } = (await cdp.send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
    attempt.sessionId = sessionId;
    cdp.on('event', (ev) => {
      if (ev.sessionId === sessionId) this.onPageEvent(attempt, ev);
    });
    const send = (method: string, params: Record<string, unknown> = {}) =>
      Promise.race([cdp.send(method, params, sessionId), crashed.then((r) => Promise.reject(new CrashError(r)))]);
    await send('Page.enable');
    await send('Runtime.enable');
    await send('Inspector.enable');
    // The page's time starts with its loading (not with the browser's start).
    const loadStartedAt = Date.now();
    const deadline = loadStartedAt + this.readyTimeoutMs;
    const nav = (await send('Page.navigate', { url })) as { errorText?: string };
    if (nav.errorText) throw new FailError(`the layout app could not be loaded (${nav.errorText})`);
    const evaluate = async (expression: string): Promise<unknown> => {
      const r = (await send('Runtime.evaluate', { expression, returnByValue: true })) as {
        result?: { value?: unknown };
        exceptionDetails?: { text?: string; exception?: { description?: string } };
      };
      if (r.exceptionDetails)
        throw new FailError(
          `the layout app threw: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text ?? 'an exception'}`,
        );
      return r.result?.value;
    };
    const waitFor = async (expression: string, what: string): Promise<void> => {
      for (;;) {
        if (this.closed) return;
        // Before the document is there, evaluation may fail: keep polling.
        const ok = await evaluate(expression).catch((err) => {
          if (err instanceof CrashError || err instanceof FailError) throw err;
          return false;
        });
        if (ok === true) return;
        if (Date.now() >= deadline) throw new FailError(`the layout app ${what} within ${Math.round(this.readyTimeoutMs / 1000)} s`);
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    };
    await waitFor(`document.readyState !== 'loading'`, 'did not load');
    const status = await evaluate(`(performance.getEntriesByType('navigation')[0] || {}).responseStatus || 0`);
    if (typeof status === 'number' && status >= 400) throw new FailError(`the layout app could not be loaded (HTTP ${status})`);
    await waitFor(`typeof window.setupLayout === 'function'`, 'did not define window.setupLayout');
    const token = await this.currentToken();
    const config = layoutAppConfig({
      callCid: this.callCid,
      layout: this.layout,
      apiKey: this.opts.apiKey,
      token: token.token,
      userId: token.userId,
      baseUrl: this.opts.baseUrl(),
    });
    await send('Runtime.evaluate', { expression: `void window.setupLayout(${JSON.stringify(config)})` });
    await waitFor(`document.getElementById('egress-ready-for-capture') !== null`, 'did not add #egress-ready-for-capture');
    if (stale()) return;
    attempt.ready = true;
    this.opts.log.info(
      { ...this.logContext, pid, reloads: this.counts.reloads, readyMs: Date.now() - loadStartedAt, pageSound: attempt.pulse !== null },
      'layout app ready; capturing',
    );
    this.startTokenRenewal();
  }

  private onPageEvent(attempt: Attempt, ev: CdpEvent): void {
    switch (ev.method) {
      case 'Inspector.targetCrashed':
        attempt.crash('the page crashed');
        return;
      case 'Inspector.detached':
        attempt.crash(`the page was detached (${String(ev.params.reason ?? 'unknown')})`);
        return;
      case 'Runtime.consoleAPICalled': {
        if (ev.params.type !== 'error') return;
        const args = (ev.params.args as Array<{ value?: unknown; description?: string }> | undefined) ?? [];
        const text = args.map((a) => (a.value !== undefined ? String(a.value) : (a.description ?? ''))).join(' ');
        this.opts.log.debug({ ...this.logContext, console: text.slice(0, 1000) }, 'layout app console error');
        return;
      }
      case 'Runtime.exceptionThrown': {
        const d = ev.params.exceptionDetails as { text?: string; exception?: { description?: string } } | undefined;
        this.opts.log.debug(
          { ...this.logContext, exception: String(d?.exception?.description ?? d?.text ?? '').slice(0, 1000) },
          'layout app exception',
        );
        return;
      }
      default:
        return;
    }
  }

  private async currentToken(): Promise<RecorderToken> {
    if (!this.token) this.token = await this.opts.recorderToken(this.callCid);
    return this.token;
  }

  private startTokenRenewal(): void {
    if (this.renewTimer) return;
    this.renewTimer = setInterval(() => void this.renewToken(), this.opts.tokenRenewMs ?? DEFAULT_TOKEN_RENEW_MS);
    this.renewTimer.unref();
  }

  private async renewToken(): Promise<void> {
    try {
      this.token = await this.opts.recorderToken(this.callCid, this.token?.userId);
      const a = this.attempt;
      if (!a?.browser || this.closed) return;
      const detail = JSON.stringify({ token: this.token.token });
      await a.browser.cdp.send(
        'Runtime.evaluate',
        { expression: `window.dispatchEvent(new CustomEvent('callcast:token', { detail: ${detail} }))` },
        a.sessionId,
      );
    } catch (err) {
      this.opts.log.warn({ ...this.logContext, err: describeError(err) }, 'layout app token could not be renewed');
    }
  }

  private fail(reason: string): void {
    if (this.failureReason !== undefined || this.closed) return;
    this.failureReason = reason;
    this.opts.log.warn({ ...this.logContext, reason }, 'layout app failed');
    const a = this.attempt;
    this.attempt = null;
    if (a) void stopAttempt(a);
    for (const fn of this.failureListeners.splice(0)) fn(reason);
  }
}

/** The browser's first page (the kiosk window's tab), or a new one. */
async function pageTarget(browser: ChromiumProcess): Promise<string> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const { targetInfos } = (await browser.cdp.send('Target.getTargets')) as { targetInfos: Array<{ targetId: string; type: string }> };
    const page = targetInfos.find((t) => t.type === 'page');
    if (page) return page.targetId;
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  const { targetId } = (await browser.cdp.send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
  return targetId;
}

/** Stops every process of an attempt: the captures and the browser first, then the sound server and the display. */
async function stopAttempt(a: Attempt): Promise<void> {
  a.ready = false;
  await Promise.all([...a.captures.map((c) => c.stop()), a.browser?.kill()]);
  await Promise.all([a.pulse?.stop(), a.display?.stop()]);
}
