/**
 * Real RTMP ingests for tests, all on 127.0.0.1:
 * - nginx with the RTMP module (live + recording to FLV) and a TLS stream proxy in front of it
 *   (a throw-away CA and a server certificate for localhost/127.0.0.1, made with openssl at start);
 *   optional publish-key allow list through an `on_publish` callback to a loopback HTTP server.
 * - ffmpeg `-listen 1` as a single-publisher ingest that copies what it receives to an FLV file.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sleep } from './wait.js';

const execFileP = promisify(execFile);

export interface NginxIngest {
  rtmpPort: number;
  rtmpsPort: number;
  recordDir: string;
  caCertPem: string;
  /** rtmp://127.0.0.1:PORT/live */
  url(app?: string): string;
  /** rtmps://localhost:PORT/live */
  secureUrl(app?: string): string;
  /** The recording of a published stream name (appended to across reconnects and restarts). */
  recordingPath(streamName: string): string;
  stop(): Promise<void>;
  /** Stops and starts again on the same ports, keeping recordings. */
  restart(): Promise<void>;
}

export interface FfmpegListenIngest {
  port: number;
  /** The full publish URL, rtmp://127.0.0.1:PORT/app/stream (stream name as its last segment). */
  url: string;
  /** rtmp://127.0.0.1:PORT/app, to use with `streamName` as the key. */
  appUrl: string;
  streamName: string;
  outputPath: string;
  /** Waits (bounded) for ffmpeg to finish writing after the publisher left, else stops it. */
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (bound then released). */
export async function freePort(): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const srv = createNetServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** Whether something listens on 127.0.0.1:port, without connecting (reads /proc/net/tcp). */
function isListening(port: number): boolean {
  try {
    const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
    const lines = readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1);
    return lines.some((l) => {
      const cols = l.trim().split(/\s+/);
      return cols[1]?.endsWith(`:${hexPort}`) === true && cols[3] === '0A';
    });
  } catch {
    return false;
  }
}

/** Waits up to `ms` for a child process to exit; true if it did. */
export function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

/** Child processes of `pid` (e.g. nginx workers), from /proc. */
function childPids(pid: number | undefined): number[] {
  if (pid === undefined) return [];
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Kills a process hard, and its direct children too (nginx workers outlive a killed master). */
function killHard(child: ChildProcess): void {
  const kids = childPids(child.pid);
  child.kill('SIGKILL');
  for (const k of kids) {
    try {
      process.kill(k, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

async function killChild(child: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  if (signal === 'SIGKILL') killHard(child);
  else child.kill(signal);
  if (await waitExit(child, graceMs)) return;
  killHard(child);
  await waitExit(child, 5000);
}

export async function makeCertificates(dir: string): Promise<{ caCert: string; cert: string; key: string }> {
  const caKey = join(dir, 'ca.key');
  const caCert = join(dir, 'ca.pem');
  const key = join(dir, 'server.key');
  const csr = join(dir, 'server.csr');
  const cert = join(dir, 'server.pem');
  const ext = join(dir, 'server.ext');
  const opts = { timeout: 30_000 };
  await execFileP(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      caKey,
      '-out',
      caCert,
      '-days',
      '2',
      '-subj',
      '/CN=Callcast Test CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    opts,
  );
  await execFileP('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', '/CN=localhost'], opts);
  writeFileSync(ext, 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  await execFileP(
    'openssl',
    ['x509', '-req', '-in', csr, '-CA', caCert, '-CAkey', caKey, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext],
    opts,
  );
  return { caCert, cert, key };
}

/** Loopback HTTP server answering nginx-rtmp's on_publish: 2xx for allowed names, 403 otherwise. */
async function startPublishAuth(allowed: Set<string>): Promise<{ port: number; server: HttpServer }> {
  const server = createHttpServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => {
      if (body.length < 65536) body += d;
    });
    req.on('end', () => {
      const name = new URLSearchParams(body).get('name') ?? '';
      res.statusCode = allowed.has(name) ? 204 : 403;
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  return { port: typeof addr === 'object' && addr ? addr.port : 0, server };
}

export async function startNginxIngest(opts: { allowedKeys?: string[] } = {}): Promise<NginxIngest> {
  const prefix = mkdtempSync(join(tmpdir(), 'callcast-nginx-'));
  const recordDir = join(prefix, 'record');
  mkdirSync(recordDir);
  mkdirSync(join(prefix, 'logs'));
  const certs = await makeCertificates(prefix);
  const caCertPem = readFileSync(certs.caCert, 'utf8');
  const auth = opts.allowedKeys ? await startPublishAuth(new Set(opts.allowedKeys)) : undefined;
  const rtmpPort = await freePort();
  const rtmpsPort = await freePort();
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(
    conf,
    `load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
daemon off;
master_process on;
worker_processes 1;
user root;
pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'logs', 'error.log')} info;
events { worker_connections 256; }
rtmp {
  server {
    listen 127.0.0.1:${rtmpPort};
    chunk_size 4096;
    ping 10s;
    application live {
      live on;
      record all;
      record_path ${recordDir};
      record_unique off;
      record_append on;
      record_suffix .flv;
${auth ? `      on_publish http://127.0.0.1:${auth.port}/publish;\n` : ''}    }
  }
}
stream {
  server {
    listen 127.0.0.1:${rtmpsPort} ssl;
    ssl_certificate ${certs.cert};
    ssl_certificate_key ${certs.key};
    proxy_pass 127.0.0.1:${rtmpPort};
  }
}
`,
  );

  let child: ChildProcess | undefined;
  let stderr = '';
  const start = async (): Promise<void> => {
    stderr = '';
    const c = spawn('nginx', ['-p', prefix, '-c', conf, '-e', join(prefix, 'logs', 'error.log')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child = c;
    c.stderr?.setEncoding('utf8');
    c.stderr?.on('data', (d: string) => {
      if (stderr.length < 8192) stderr += d;
    });
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (c.exitCode !== null || c.signalCode !== null) break;
      if ((await canConnect(rtmpPort)) && (await canConnect(rtmpsPort))) return;
      await sleep(100);
    }
    await killChild(c, 'SIGKILL', 1000);
    let log = '';
    try {
      log = readFileSync(join(prefix, 'logs', 'error.log'), 'utf8').slice(-2000);
    } catch {
      /* no log */
    }
    throw new Error(`nginx ingest did not start: ${stderr} ${log}`);
  };
  const stopNginx = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (c) await killChild(c, 'SIGTERM', 5000);
  };
  auth?.server.unref();
  cleanupOnExit(prefix, () => {
    // SIGTERM: the nginx master stops its workers itself (a killed master would leave them).
    child?.kill('SIGTERM');
    auth?.server.close();
  });
  await start();

  return {
    rtmpPort,
    rtmpsPort,
    recordDir,
    caCertPem,
    url: (app = 'live') => `rtmp://127.0.0.1:${rtmpPort}/${app}`,
    secureUrl: (app = 'live') => `rtmps://localhost:${rtmpsPort}/${app}`,
    recordingPath: (streamName: string) => join(recordDir, `${streamName}.flv`),
    // The allow-list server stays up across restart(); it is unref'd so it never keeps the
    // process alive, and closed with the temp directory when the process exits.
    stop: () => stopNginx(),
    restart: async () => {
      await stopNginx();
      await start();
    },
  };
}

export async function startFfmpegListenIngest(opts: { app?: string; stream?: string } = {}): Promise<FfmpegListenIngest> {
  const dir = mkdtempSync(join(tmpdir(), 'callcast-ffmpeg-ingest-'));
  const app = opts.app ?? 'live';
  const stream = opts.stream ?? 'stream';
  const port = await freePort();
  const outputPath = join(dir, 'out.flv');
  const url = `rtmp://127.0.0.1:${port}/${app}/${stream}`;
  const child = spawn(
    'ffmpeg',
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-nostdin',
      '-y',
      '-listen',
      '1',
      '-timeout',
      '120',
      '-i',
      url,
      '-c',
      'copy',
      '-f',
      'flv',
      outputPath,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => {
    if (stderr.length < 8192) stderr += d;
  });
  const deadline = Date.now() + 15_000;
  while (!isListening(port)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await killChild(child, 'SIGKILL', 1000);
      throw new Error(`ffmpeg listen ingest did not start: ${stderr}`);
    }
    await sleep(50);
  }
  cleanupOnExit(dir, () => child.kill('SIGKILL'));
  return {
    port,
    url,
    appUrl: `rtmp://127.0.0.1:${port}/${app}`,
    streamName: stream,
    outputPath,
    stop: async () => {
      if (await waitExit(child, 10_000)) return;
      await killChild(child, 'SIGINT', 5000);
    },
  };
}

const exitCleanups: Array<() => void> = [];
let exitHookInstalled = false;
/** Kills leftover children and removes temp directories when the test process exits. */
function cleanupOnExit(dir: string, kill: () => void): void {
  exitCleanups.push(() => {
    try {
      kill();
    } catch {
      /* already gone */
    }
    rmSync(dir, { recursive: true, force: true });
  });
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of exitCleanups) c();
    });
  }
}
