/**
 * A lever of the composite-overhead figure, measured: what receiving and decoding a call's four
 * participants costs with libwebrtc (`@roamhq/wrtc`: its nonstandard RTCVideoSink and RTCAudioSink
 * hand out decoded I420 pictures and PCM) against the service's own path (werift's receive, the
 * RTP relay, one ffmpeg decoder per track), with the same four publishers in the same run.
 *
 * `@roamhq/wrtc` is not a dependency of Callcast: `npm install --no-save @roamhq/wrtc` first.
 * `node --import tsx bench/wrtc-receive.ts [seconds per window]`
 *
 * 1. A child process (this file with `--receiver`) answers WHIP offers with libwebrtc on
 *    127.0.0.1, decodes every track and counts pictures and samples; its CPU is read from /proc.
 * 2. The service with the same four publishers and nobody subscribed (werift's receive path only),
 *    then with a 720p30 spotlight broadcast (the relay and the decoders start).
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { startNginxIngest } from '../test/support/rtmp-ingest.js';
import { TestPublisher } from '../test/support/publisher.js';
import { COLOURS, callWithPublishers, toneOf } from './lib/participants.js';
import { cpuWindows, sleep, startBroadcast, stopBroadcast, type RunContext } from './lib/scenario.js';
import { startService } from './lib/service.js';
import { sampleTree } from './lib/proc.js';
import { median, round } from './lib/stats.js';

/** The part of @roamhq/wrtc this experiment uses. */
interface WrtcTrack {
  kind: string;
}
interface WrtcPeer {
  ontrack: ((e: { track: WrtcTrack }) => void) | null;
  onicegatheringstatechange: (() => void) | null;
  iceGatheringState: string;
  localDescription: { sdp: string } | null;
  setRemoteDescription(d: { type: 'offer'; sdp: string }): Promise<void>;
  createAnswer(): Promise<{ type: 'answer'; sdp: string }>;
  setLocalDescription(d: { type: 'answer'; sdp: string }): Promise<void>;
  close(): void;
}
interface Wrtc {
  RTCPeerConnection: new (config?: object) => WrtcPeer;
  nonstandard: {
    RTCVideoSink: new (
      track: WrtcTrack,
    ) => { onframe: ((e: { frame: { width: number; height: number; data: Uint8Array } }) => void) | null; stop(): void };
    RTCAudioSink: new (track: WrtcTrack) => { ondata: ((d: { numberOfFrames: number; sampleRate: number }) => void) | null; stop(): void };
  };
}

const READY = 'WRTC_RECEIVER_READY ';
const windowS = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 10);
const WINDOWS = 3;
const WARMUP_S = 8;

async function receiver(): Promise<void> {
  let wrtc: Wrtc;
  try {
    wrtc = createRequire(import.meta.url)('@roamhq/wrtc') as Wrtc;
  } catch {
    console.error('@roamhq/wrtc is not installed: npm install --no-save @roamhq/wrtc');
    process.exit(2);
  }
  const stats = { pictures: 0, samples: 0, sizes: new Set<string>() };
  const peers = new Map<string, WrtcPeer>();
  const server = createServer((req, res) => {
    if (req.method === 'GET') {
      res.end(JSON.stringify({ pictures: stats.pictures, samples: stats.samples, sizes: [...stats.sizes] }));
      return;
    }
    if (req.method === 'DELETE') {
      peers.get(req.url ?? '')?.close();
      peers.delete(req.url ?? '');
      res.writeHead(200).end();
      return;
    }
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => {
      body += d;
    });
    req.on('end', async () => {
      try {
        const pc = new wrtc.RTCPeerConnection({});
        pc.ontrack = ({ track }) => {
          if (track.kind === 'video') {
            const sink = new wrtc.nonstandard.RTCVideoSink(track);
            sink.onframe = ({ frame }) => {
              stats.pictures++;
              stats.sizes.add(`${frame.width}x${frame.height}`);
            };
          } else {
            const sink = new wrtc.nonstandard.RTCAudioSink(track);
            sink.ondata = (d) => {
              stats.samples += d.numberOfFrames;
            };
          }
        };
        await pc.setRemoteDescription({ type: 'offer', sdp: body });
        await pc.setLocalDescription(await pc.createAnswer());
        await new Promise<void>((resolve) => {
          if (pc.iceGatheringState === 'complete') return resolve();
          const t = setTimeout(resolve, 5000);
          pc.onicegatheringstatechange = () => {
            if (pc.iceGatheringState === 'complete') {
              clearTimeout(t);
              resolve();
            }
          };
        });
        const path = `/session/${peers.size + 1}`;
        peers.set(path, pc);
        res.writeHead(201, { 'content-type': 'application/sdp', location: path }).end(pc.localDescription!.sdp);
      } catch (err) {
        res.writeHead(400).end(String(err));
      }
    });
  });
  server.listen(0, '127.0.0.1', () => {
    const addr = server.address() as { port: number };
    console.log(`${READY}http://127.0.0.1:${addr.port}/whip`);
  });
  process.on('SIGTERM', () => {
    for (const pc of peers.values()) pc.close();
    process.exit(0);
  });
}

interface Receiver {
  pid: number;
  url: string;
  stats(): Promise<{ pictures: number; samples: number; sizes: string[] }>;
  stop(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--receiver'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('the libwebrtc receiver did not start within 30 s')), 30_000);
    let out = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith(READY));
      if (line) {
        clearTimeout(t);
        resolve(line.slice(READY.length).trim());
      }
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`the libwebrtc receiver exited (${code})`));
    });
  });
  return {
    pid: child.pid!,
    url,
    stats: async () => (await (await fetch(url.replace('/whip', '/stats'))).json()) as Awaited<ReturnType<Receiver['stats']>>,
    stop: async () => {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

const cores = (xs: number[]) => round(median(xs), 3);

async function main(): Promise<void> {
  const timings = { warmupS: WARMUP_S, windowS, windows: WINDOWS };

  // 1. libwebrtc receiving and decoding the four participants.
  const rx = await startReceiver();
  const publishers: TestPublisher[] = [];
  let libwebrtc: { cores: number; byProcess: Record<string, number>; picturesPerS: number; samplesPerS: number; sizes: string[] };
  try {
    for (let i = 0; i < 4; i++)
      publishers.push(await TestPublisher.start({ url: rx.url, color: COLOURS[i]!, size: { width: 640, height: 360 }, toneHz: toneOf(i) }));
    await sleep(WARMUP_S * 1000);
    const before = await rx.stats();
    const t0 = performance.now();
    const run = await cpuWindows(() => sampleTree(rx.pid), timings);
    const s = (performance.now() - t0) / 1000;
    const after = await rx.stats();
    libwebrtc = {
      cores: cores(run.cpuPerS),
      byProcess: run.coresByCommand,
      picturesPerS: round((after.pictures - before.pictures) / s, 1),
      samplesPerS: round((after.samples - before.samples) / s, 0),
      sizes: after.sizes,
    };
  } finally {
    for (const p of publishers) await p.close();
    await rx.stop();
  }
  console.log(JSON.stringify({ libwebrtc }));

  // 2. The service's own path, the same publishers.
  const ingest = await startNginxIngest();
  const service = await startService();
  try {
    const ctx = { smoke: false, service, ingest, deadline: performance.now() + 600_000, log: console.log } as RunContext;
    const joined = await callWithPublishers(ctx, 'wrtc-lever', 4);
    try {
      await sleep(WARMUP_S * 1000);
      const receiveOnly = await cpuWindows(service.sample, timings);
      await startBroadcast(joined.call, 'main', ingest.url(), 'wrtc-lever', '720p');
      await sleep(WARMUP_S * 1000);
      const broadcasting = await cpuWindows(service.sample, timings);
      await stopBroadcast(joined.call, 'main');
      const decoders = Object.entries(broadcasting.coresByCommand)
        .filter(([k]) => k.endsWith('decoder'))
        .reduce((sum, [, v]) => sum + v, 0);
      console.log(
        JSON.stringify({
          service: {
            receiveOnly: { cores: cores(receiveOnly.cpuPerS), byProcess: receiveOnly.coresByCommand },
            broadcasting: { cores: cores(broadcasting.cpuPerS), byProcess: broadcasting.coresByCommand },
            receiveAndDecode: round((receiveOnly.coresByCommand.node ?? 0) + decoders, 3),
          },
          libwebrtcReceiveAndDecode: libwebrtc.cores,
        }),
      );
    } finally {
      await joined.leave();
    }
  } finally {
    await service.stop();
    await ingest.stop();
  }
}

if (process.argv.includes('--receiver')) await receiver();
else await main();
