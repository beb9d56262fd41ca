import { ChromiumProcess } from '../src/render/browser/chromium-process.js';
import { XvfbDisplay } from '../src/render/browser/xvfb.js';
import { spawn } from 'node:child_process';
const W = 1280, H = 720;
const PAGE = `data:text/html,${encodeURIComponent(`<!doctype html><body style="margin:0;background:#222"><div id=s style="position:absolute;left:0;bottom:0;width:50%;height:10%;background:#000"><div id=b style="position:absolute;left:0;top:0;width:10%;height:100%;background:#fff"></div></div><script>
let n=0;const b=document.getElementById('b');const step=()=>{n=(n+1)%9;b.style.left=(n*11)+'%';requestAnimationFrame(step)};requestAnimationFrame(step);
let c=0,t0=performance.now();(function f(){c++;if(performance.now()-t0>1000){document.title=String(c);c=0;t0=performance.now()}requestAnimationFrame(f)})();
</script>`)}`;
const extra = process.argv.slice(2);
const display = await XvfbDisplay.start({ width: W, height: H });
const browser = await ChromiumProcess.launch({ width: W, height: H, display: display.display, extraArgs: extra });
const { targetInfos } = (await browser.cdp.send('Target.getTargets')) as { targetInfos: Array<{ targetId: string; type: string }> };
const { sessionId } = (await browser.cdp.send('Target.attachToTarget', { targetId: targetInfos.find((t) => t.type === 'page')!.targetId, flatten: true })) as { sessionId: string };
await browser.cdp.send('Page.navigate', { url: PAGE }, sessionId);
await new Promise((r) => setTimeout(r, 3000));
const sw = 64, sh = 4;
const ff = spawn('ffmpeg', ['-v', 'error', '-f', 'x11grab', '-draw_mouse', '0', '-framerate', '30', '-video_size', `${W}x${H}`, '-i', `${display.display}.0`, '-t', '6', '-vf', `crop=iw/2:ih/10:0:ih*9/10,scale=${sw}:${sh},format=gray`, '-f', 'rawvideo', 'pipe:1'], { stdio: ['ignore', 'pipe', 'inherit'] });
const chunks: Buffer[] = [];
ff.stdout.on('data', (c: Buffer) => chunks.push(c));
await new Promise((r) => ff.once('exit', r));
const r = (await browser.cdp.send('Runtime.evaluate', { expression: 'document.title', returnByValue: true }, sessionId)) as { result: { value: string } };
const buf = Buffer.concat(chunks); const size = sw * sh; const frames = Math.floor(buf.length / size); let d = 0;
for (let i = 1; i < frames; i++) { let s = 0; for (let j = 0; j < size; j++) s += Math.abs(buf[i * size + j]! - buf[(i - 1) * size + j]!); if (s / size > 6) d++; }
console.log(`frames ${frames}, distinct ${d} (${((d * 30) / (frames - 1)).toFixed(1)} fps), rAF/s in page: ${r.result.value}`);
await browser.kill(); await display.stop();
