/**
 * How a browser-rendered layout's picture can be captured on this machine, at 1280x720 with a page
 * that moves every frame: frames through the DevTools protocol (`Page.startScreencast`, JPEG,
 * decoded to I420 by ffmpeg), and Chromium in a kiosk window on its own Xvfb display captured by
 * ffmpeg's x11grab (what custom layouts use).
 * Prints the frames per second delivered as I420 and the CPU of the browser, the capture and this
 * process. `node --import tsx bench/browser-capture.ts [seconds]`
 */
import { spawn } from 'node:child_process';
import { ChromiumProcess } from '../src/render/browser/chromium-process.js';
import { FixedSizeReader } from '../src/media/rtp-process.js';
import { FramePool } from '../src/render/frame-pool.js';
import { XvfbDisplay } from '../src/render/browser/xvfb.js';
import { cpuBetween, sampleTree } from './lib/proc.js';

const W = 1280;
const H = 720;
const SECONDS = Number(process.argv[2] ?? 10);
const FRAME_BYTES = (W * H * 3) / 2;

const PAGE = `data:text/html,${encodeURIComponent(`<!doctype html><body style="margin:0;background:#123"><canvas id=c width=${W} height=${H}></canvas><script>
const ctx=document.getElementById('c').getContext('2d');let n=0;
function draw(){n++;ctx.fillStyle='hsl('+(n%360)+',60%,30%)';ctx.fillRect(0,0,${W},${H});
for(let i=0;i<20;i++){ctx.fillStyle='hsl('+((n*3+i*40)%360)+',80%,60%)';ctx.fillRect((n*7+i*61)%${W},(i*37+n*2)%${H},120,90);}
ctx.fillStyle='#fff';ctx.font='48px sans-serif';ctx.fillText('frame '+n,40,80);requestAnimationFrame(draw);}draw();
</script>`)}`;

function cpuNow(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/**
 * An ffmpeg that turns a stream of images (or x11grab) into I420 frames; counts whole frames, and
 * distinct ones (the page changes every animation frame, so a frame equal to the one before is a
 * picture taken twice).
 */
function i420Counter(
  args: string[],
  env: Record<string, string> = {},
): { proc: ReturnType<typeof spawn>; frames: () => number; distinct: () => number } {
  const proc = spawn(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', ...args, '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-s', `${W}x${H}`, '-'],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env, ...env },
    },
  );
  let frames = 0;
  let distinct = 0;
  let prev: Buffer | null = null;
  const pool = new FramePool(FRAME_BYTES);
  const cutter = new FixedSizeReader(
    FRAME_BYTES,
    (frame) => {
      frames += 1;
      // Every 101st luma byte is enough to tell two pictures of this page apart.
      if (prev) {
        let diff = 0;
        for (let i = 0; i < W * H; i += 101) diff += Math.abs(frame[i]! - prev[i]!);
        if (diff > 0) distinct += 1;
        pool.release(prev);
      }
      prev = frame;
    },
    { pool },
  );
  proc.stdout?.on('data', (c: Buffer) => cutter.push(c));
  return { proc, frames: () => frames, distinct: () => distinct };
}

async function screencast(format: 'jpeg' | 'png'): Promise<void> {
  const browser = await ChromiumProcess.launch({ width: W, height: H });
  try {
    await measureScreencast(browser, format);
  } finally {
    await browser.kill();
  }
}

async function measureScreencast(browser: ChromiumProcess, format: 'jpeg' | 'png'): Promise<void> {
  const cdp = browser.cdp;
  const { targetId } = (await cdp.send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
  const { sessionId } = (await cdp.send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
  await cdp.send('Page.enable', {}, sessionId);
  await cdp.send('Emulation.setDeviceMetricsOverride', { width: W, height: H, deviceScaleFactor: 1, mobile: false }, sessionId);
  await cdp.send('Page.navigate', { url: PAGE }, sessionId);
  // Let the navigation commit before asking for frames of the new document.
  await new Promise((r) => setTimeout(r, 1500));
  const counter = i420Counter([
    '-probesize',
    '32',
    '-analyzeduration',
    '0',
    '-fflags',
    'nobuffer',
    '-f',
    'image2pipe',
    '-c:v',
    format === 'jpeg' ? 'mjpeg' : 'png',
    '-i',
    '-',
    '-fps_mode',
    'passthrough',
  ]);
  let received = 0;
  cdp.on('event', (ev) => {
    if (ev.method !== 'Page.screencastFrame' || ev.sessionId !== sessionId) return;
    received += 1;
    counter.proc.stdin?.write(Buffer.from(String(ev.params.data), 'base64'));
    void cdp.send('Page.screencastFrameAck', { sessionId: ev.params.sessionId }, sessionId).catch(() => undefined);
  });
  await cdp.send('Page.startScreencast', { format, quality: 80, maxWidth: W, maxHeight: H, everyNthFrame: 1 }, sessionId);
  await new Promise((r) => setTimeout(r, 2000));
  const r0 = received;
  const f0 = counter.frames();
  const b0 = sampleTree(browser.pid ?? 0);
  const e0 = sampleTree(counter.proc.pid ?? 0);
  const n0 = cpuNow();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const dt = (performance.now() - t0) / 1000;
  const b1 = sampleTree(browser.pid ?? 0);
  const e1 = sampleTree(counter.proc.pid ?? 0);
  const n1 = cpuNow();
  console.log(
    `screencast ${format}: ${((received - r0) / dt).toFixed(1)} fps received, ${((counter.frames() - f0) / dt).toFixed(1)} fps as I420; ` +
      `CPU (cores): chromium ${(cpuBetween(b0, b1) / dt).toFixed(2)}, ffmpeg decode ${(cpuBetween(e0, e1) / dt).toFixed(2)}, node ${((n1 - n0) / dt).toFixed(2)}`,
  );
  counter.proc.stdin?.end();
  counter.proc.kill('SIGKILL');
}

async function x11grab(): Promise<void> {
  // As a custom layout runs it: its own display (picked by Xvfb), Chromium in a kiosk window on it.
  let display: XvfbDisplay;
  try {
    display = await XvfbDisplay.start({ width: W, height: H });
  } catch (err) {
    console.log(`x11grab: ${(err as Error).message} (apt-get install xvfb)`);
    return;
  }
  const browser = await ChromiumProcess.launch({ width: W, height: H, display: display.display, xauthority: display.authFile });
  try {
    const { targetInfos } = (await browser.cdp.send('Target.getTargets')) as { targetInfos: Array<{ targetId: string; type: string }> };
    const targetId = targetInfos.find((t) => t.type === 'page')?.targetId;
    if (!targetId) throw new Error('no page');
    const { sessionId } = (await browser.cdp.send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
    await browser.cdp.send('Page.navigate', { url: PAGE }, sessionId);
    await new Promise((r) => setTimeout(r, 3000));
    const counter = i420Counter(
      ['-f', 'x11grab', '-draw_mouse', '0', '-framerate', '30', '-video_size', `${W}x${H}`, '-i', `${display.display}.0`],
      display.clientEnv,
    );
    await new Promise((r) => setTimeout(r, 2000));
    const f0 = counter.frames();
    const d0 = counter.distinct();
    const b0 = sampleTree(browser.pid ?? 0);
    const e0 = sampleTree(counter.proc.pid ?? 0);
    const x0 = sampleTree(display.process.pid ?? 0);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const dt = (performance.now() - t0) / 1000;
    const b1 = sampleTree(browser.pid ?? 0);
    const e1 = sampleTree(counter.proc.pid ?? 0);
    const x1 = sampleTree(display.process.pid ?? 0);
    console.log(
      `x11grab: ${((counter.frames() - f0) / dt).toFixed(1)} fps as I420, ${((counter.distinct() - d0) / dt).toFixed(1)} distinct; CPU (cores): chromium ${(cpuBetween(b0, b1) / dt).toFixed(2)}, ` +
        `ffmpeg x11grab ${(cpuBetween(e0, e1) / dt).toFixed(2)}, Xvfb ${(cpuBetween(x0, x1) / dt).toFixed(2)}`,
    );
    counter.proc.kill('SIGKILL');
  } finally {
    await browser.kill();
    await display.stop();
  }
}

console.log(
  `load average before: ${(await import('node:os'))
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
await screencast('jpeg');
await screencast('png');
await x11grab();
