/**
 * A broadcast group's picture drawn by a layout app in headless Chromium (reference/layouts.md
 * §10): the browser opens the app URL at the canvas size, Callcast calls `window.setupLayout`
 * with the call's config (layout-config.ts), and once the page adds `#egress-ready-for-capture`
 * its frames are captured through the DevTools protocol (`Page.startScreencast`, JPEG) and decoded
 * to I420 by ffmpeg. The sound is the call's mix, taken from the native source.
 *
 * Until the first captured frame the layout's background colour is shown. A page or browser crash
 * is recovered once (a new browser opens the app again, the encoder and RTMP sessions go on with
 * the last picture meanwhile); a second crash, a page that does not load, or one that is not ready
 * within the readiness timeout fails the source (`onFailure`), which fails the broadcast.
 */
import type { FrameSource } from '../../egress/frame-source.js';
import { BackgroundFrameSource } from '../../egress/frame-source.js';
import { canvasFor, type CanvasSize, type LayoutSettings, type Quality } from '../../layout/settings.js';
import { describeError, type Logger } from '../../log.js';
import type { CdpEvent } from './cdp.js';
import { ChromiumProcess } from './chromium-process.js';
import { JpegI420Decoder } from './jpeg-decoder.js';
import { layoutAppConfig } from './layout-config.js';
import { originAllowed } from '../../layout/app-url.js';

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

class CrashError extends Error {}
class FailError extends Error {}

interface Attempt {
  browser: ChromiumProcess | null;
  sessionId: string;
  crashed: Promise<string>;
  crash(reason: string): void;
}

export class BrowserFrameSource implements FrameSource {
  readonly canvas: CanvasSize;
  private readonly background: BackgroundFrameSource;
  private readonly readyTimeoutMs: number;
  private decoder: JpegI420Decoder | null = null;
  private attempt: Attempt | null = null;
  private failureReason: string | undefined;
  private readonly failureListeners: Array<(reason: string) => void> = [];
  private closed = false;
  private token: RecorderToken | null = null;
  private renewTimer: NodeJS.Timeout | null = null;
  /** Reloads after a crash, captured pictures. */
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
    this.background = new BackgroundFrameSource(quality, layout);
    this.readyTimeoutMs = opts.readyTimeoutMs ?? DEFAULT_LAYOUT_READY_TIMEOUT_MS;
    this.logContext = { callCid, quality, layout: 'custom' };
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
    return this.decoder?.latest() != null;
  }

  /** Crashes the page's renderer (for operators and tests): the source reloads it once. */
  async crashPage(): Promise<void> {
    const a = this.attempt;
    if (!a?.browser) return;
    await a.browser.cdp.send('Page.crash', {}, a.sessionId).catch(() => undefined);
  }

  videoFrame(ptsMs: number): Buffer {
    return this.decoder?.latest() ?? this.background.videoFrame(ptsMs);
  }

  audioSamples(ptsMs: number, sampleFrames: number): Buffer {
    return this.audio.audioSamples(ptsMs, sampleFrames);
  }

  audioStats() {
    return this.audio.audioStats?.() ?? { underrunSampleFrames: 0, droppedSampleFrames: 0 };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.renewTimer = null;
    const browser = this.attempt?.browser;
    this.attempt = null;
    if (browser) void browser.kill();
    this.decoder?.close();
    this.audio.close();
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
      const old = this.attempt?.browser;
      this.attempt = null;
      if (old) await old.kill();
      if (this.closed) return;
      if (this.counts.reloads >= 1) {
        this.fail(`the layout app crashed again after a reload (${reason})`);
        return;
      }
      this.counts.reloads += 1;
      this.opts.log.warn({ ...this.logContext, reason }, 'layout app crashed; reloading it');
    }
  }

  private async openPage(url: string): Promise<void> {
    let crash: (reason: string) => void = () => undefined;
    const crashed = new Promise<string>((resolve) => {
      crash = resolve;
    });
    const attempt: Attempt = { browser: null, sessionId: '', crashed, crash };
    this.attempt = attempt;
    const browser = await ChromiumProcess.launch({
      width: this.canvas.width,
      height: this.canvas.height,
      ...(this.opts.chromiumPath ? { executablePath: this.opts.chromiumPath } : {}),
    });
    const pid = browser.pid;
    if (pid !== undefined) running.add(pid);
    browser.onExit(() => {
      if (pid !== undefined) running.delete(pid);
      attempt.crash('the browser exited');
    });
    if (this.closed || this.attempt !== attempt) {
      await browser.kill();
      return;
    }
    attempt.browser = browser;
    this.opts.log.info({ ...this.logContext, pid }, 'layout browser started');
    const cdp = browser.cdp;
    cdp.on('close', () => attempt.crash('the DevTools connection closed'));
    const { targetId } = (await cdp.send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
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
    await send('Emulation.setDeviceMetricsOverride', {
      width: this.canvas.width,
      height: this.canvas.height,
      deviceScaleFactor: 1,
      mobile: false,
    });
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
    if (this.closed) return;
    if (!this.decoder) {
      this.decoder = new JpegI420Decoder(this.canvas.width, this.canvas.height, {
        log: this.opts.log,
        logContext: this.logContext,
        ...(this.opts.ffmpegPath ? { ffmpegPath: this.opts.ffmpegPath } : {}),
      });
    }
    await send('Page.startScreencast', {
      format: 'jpeg',
      quality: 85,
      maxWidth: this.canvas.width,
      maxHeight: this.canvas.height,
      everyNthFrame: 1,
    });
    this.opts.log.info(
      { ...this.logContext, pid, reloads: this.counts.reloads, readyMs: Date.now() - loadStartedAt },
      'layout app ready; capturing',
    );
    this.startTokenRenewal();
  }

  private onPageEvent(attempt: Attempt, ev: CdpEvent): void {
    switch (ev.method) {
      case 'Page.screencastFrame': {
        const browser = attempt.browser;
        if (!browser || this.attempt !== attempt) return;
        void browser.cdp.send('Page.screencastFrameAck', { sessionId: ev.params.sessionId }, attempt.sessionId).catch(() => undefined);
        this.counts.pictures += 1;
        this.decoder?.write(Buffer.from(String(ev.params.data), 'base64'));
        return;
      }
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
    const browser = this.attempt?.browser;
    this.attempt = null;
    if (browser) void browser.kill();
    for (const fn of this.failureListeners.splice(0)) fn(reason);
  }
}
