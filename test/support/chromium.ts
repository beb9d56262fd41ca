/**
 * Debian's Chromium driven by playwright-core (never a downloaded browser) for tests: headless,
 * fake camera and microphone, a fresh user-data-dir removed on close, console errors collected
 * per page. `publishFromChromium` opens a page served from a loopback HTTP server that publishes
 * the fake devices over WHIP.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { closeServer, listenOnLoopback } from './http-server.js';

export const CHROMIUM_PATH = process.env.CALLCAST_CHROMIUM || '/usr/bin/chromium';

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

/**
 * Host candidates on loopback (Chromium skips the loopback interface otherwise) and plain IPs
 * rather than mDNS names, so ICE runs over 127.0.0.1 only.
 */
export const LOOPBACK_ICE_ARGS = ['--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns'];

export interface ChromiumSession {
  context: BrowserContext;
  /** A new page; its console errors and uncaught exceptions are collected in `errorsOf(page)`. */
  newPage(viewport?: { width: number; height: number }): Promise<Page>;
  errorsOf(page: Page): string[];
  close(): Promise<void>;
}

export interface LaunchOptions {
  /** A WAV file the fake microphone plays (looped) instead of Chromium's quiet beeps. */
  fakeAudioFile?: string;
  /** A Y4M (or MJPEG) file the fake camera plays (looped) instead of Chromium's test pattern. */
  fakeVideoFile?: string;
  /** Gather ICE candidates on loopback, as plain IPs (LOOPBACK_ICE_ARGS). */
  loopbackIce?: boolean;
}

/** Launches Chromium with a fresh user-data-dir (removed by `close`). */
export async function launchChromium(opts: LaunchOptions = {}): Promise<ChromiumSession> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'callcast-chromium-'));
  const args = [...CHROMIUM_ARGS, ...(opts.loopbackIce ? LOOPBACK_ICE_ARGS : [])];
  if (opts.fakeAudioFile) args.push(`--use-file-for-fake-audio-capture=${opts.fakeAudioFile}`);
  if (opts.fakeVideoFile) args.push(`--use-file-for-fake-video-capture=${opts.fakeVideoFile}`);
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

const PAGE = `<!doctype html><meta charset="utf-8"><title>WHIP publisher</title>
<script>
async function publish(url, token, video, audio, videoCodec) {
  const stream = await navigator.mediaDevices.getUserMedia({ video: video ? { width: 640, height: 360 } : false, audio });
  const pc = new RTCPeerConnection();
  window.pc = pc;
  for (const track of stream.getTracks()) {
    const tr = pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    if (track.kind === 'video' && videoCodec) {
      const codecs = RTCRtpSender.getCapabilities('video').codecs.filter((c) => c.mimeType.toLowerCase() === 'video/' + videoCodec.toLowerCase());
      if (codecs.length === 0) return { status: 0, body: 'codec not available: ' + videoCodec };
      tr.setCodecPreferences(codecs);
    }
  }
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    pc.addEventListener('icegatheringstatechange', () => { if (pc.iceGatheringState === 'complete') resolve(); });
    setTimeout(resolve, 5000);
  });
  const offer = pc.localDescription.sdp.split('\\r\\n').filter((l) => !l.startsWith('a=candidate:') || l.includes(' 127.0.0.1 ')).join('\\r\\n');
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/sdp', authorization: 'Bearer ' + token }, body: offer });
  const body = await res.text();
  if (res.status !== 201) return { status: res.status, body };
  await pc.setRemoteDescription({ type: 'answer', sdp: body });
  await new Promise((resolve, reject) => {
    const check = () => {
      if (pc.connectionState === 'connected') resolve();
      if (pc.connectionState === 'failed') reject(new Error('connection failed'));
    };
    pc.addEventListener('connectionstatechange', check);
    check();
    setTimeout(() => reject(new Error('not connected: ' + pc.connectionState)), 20000);
  });
  return { status: res.status, location: new URL(res.headers.get('location'), url).toString(), answer: body };
}
</script>`;

export interface ChromiumPublisher {
  page: Page;
  status: number;
  location: string | undefined;
  body: string | undefined;
  close(): Promise<void>;
}

async function servePage(): Promise<{ server: Server; url: string }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(PAGE);
  });
  return { server, url: `${await listenOnLoopback(server)}/` };
}

/** Opens a page that publishes Chromium's fake camera + microphone to `whipUrl`. */
export async function publishFromChromium(
  session: ChromiumSession,
  whipUrl: string,
  token: string,
  kinds: { video?: boolean; audio?: boolean; videoCodec?: 'VP8' | 'H264' } = {},
): Promise<ChromiumPublisher> {
  const { server, url } = await servePage();
  const page = await session.newPage();
  const closeAll = async () => {
    await page.close().catch(() => undefined);
    await closeServer(server);
  };
  try {
    await page.goto(url, { timeout: 30_000 });
    const result = await page.evaluate(
      ([u, t, v, a, c]) =>
        (
          globalThis as unknown as {
            publish(
              u: string,
              t: string,
              v: boolean,
              a: boolean,
              c: string,
            ): Promise<{ status: number; location?: string; body?: string; answer?: string }>;
          }
        ).publish(u, t, v, a, c),
      [whipUrl, token, kinds.video !== false, kinds.audio !== false, kinds.videoCodec ?? ''] as const,
    );
    return { page, status: result.status, location: result.location, body: result.body ?? result.answer, close: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

const execFileP = promisify(execFile);

/** Writes a fake camera for Chromium (`fakeVideoFile`): 2 s of a solid ffmpeg colour at 640x360, 30 fps, as Y4M. */
export async function writeFakeCamera(path: string, ffmpegColour: string): Promise<void> {
  await execFileP(
    'ffmpeg',
    ['-v', 'error', '-f', 'lavfi', '-i', `color=c=${ffmpegColour}:s=640x360:r=30`, '-t', '2', '-pix_fmt', 'yuv420p', '-y', path],
    { timeout: 30_000 },
  );
}

/** Writes a fake microphone for Chromium (`fakeAudioFile`): 5 s of a sine tone at half scale, 48 kHz stereo WAV. */
export async function writeFakeMicrophone(path: string, toneHz: number): Promise<void> {
  await execFileP(
    'ffmpeg',
    [
      '-v',
      'error',
      '-f',
      'lavfi',
      '-i',
      `sine=frequency=${toneHz}:duration=5`,
      '-af',
      'volume=0.5',
      '-ar',
      '48000',
      '-ac',
      '2',
      '-y',
      path,
    ],
    { timeout: 30_000 },
  );
}
