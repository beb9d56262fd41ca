/**
 * Debian's Chromium driven by playwright-core (never a downloaded browser): headless, fake camera
 * and microphone, a fresh user-data-dir removed on close. Collects console errors per page.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CALLCAST_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
];

export interface TestBrowser {
  context: BrowserContext;
  /** A new page; its console errors and uncaught exceptions are collected in `errorsOf(page)`. */
  newPage(viewport?: { width: number; height: number }): Promise<Page>;
  errorsOf(page: Page): string[];
  close(): Promise<void>;
}

export interface LaunchOptions {
  /** A WAV file the fake microphone plays (looped) instead of Chromium's quiet beeps. */
  fakeAudioFile?: string;
}

export async function launchBrowser(opts: LaunchOptions = {}): Promise<TestBrowser> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'callcast-chromium-'));
  const args = opts.fakeAudioFile ? [...CHROMIUM_ARGS, `--use-file-for-fake-audio-capture=${opts.fakeAudioFile}`] : CHROMIUM_ARGS;
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args,
      viewport: { width: 1280, height: 900 },
      timeout: 60_000,
      permissions: ['camera', 'microphone'],
    });
  } catch (err) {
    rmSync(userDataDir, { recursive: true, force: true });
    throw err;
  }
  context.setDefaultTimeout(30_000);
  const errors = new WeakMap<Page, string[]>();
  // The persistent context opens with one blank page; close it so every page is ours.
  for (const p of context.pages()) await p.close();
  return {
    context,
    async newPage(viewport) {
      const page = await context.newPage();
      const list: string[] = [];
      errors.set(page, list);
      page.on('console', (msg) => {
        if (msg.type() === 'error') list.push(`console: ${msg.text()} (${msg.location().url})`);
      });
      page.on('pageerror', (err) => list.push(`pageerror: ${err.message}`));
      if (viewport) await page.setViewportSize(viewport);
      return page;
    },
    errorsOf(page) {
      return errors.get(page) ?? [];
    },
    async close() {
      await context.close().catch(() => undefined);
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
