/**
 * node-media-server 4 (an RTMP server we did not write, from npm) as a second ingest beside
 * nginx-rtmp, on 127.0.0.1: plain RTMP and its own RTMPS (a throw-away CA and a certificate for
 * localhost/127.0.0.1), recording every published stream to FLV. Runs as its own process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort, makeCertificates, waitExit } from './rtmp-ingest.js';

export interface NmsIngest {
  rtmpPort: number;
  rtmpsPort: number;
  caCertPem: string;
  /** rtmp://127.0.0.1:PORT/live */
  url(app?: string): string;
  /** rtmps://localhost:PORT/live */
  secureUrl(app?: string): string;
  /** The FLV files recorded for a stream (app "live"), largest first. */
  recordings(streamName: string): string[];
  log(): string;
  stop(): Promise<void>;
}

const require = createRequire(import.meta.url);

async function portOpen(port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export async function startNmsIngest(): Promise<NmsIngest> {
  const prefix = mkdtempSync(join(tmpdir(), 'callcast-nms-'));
  const certs = await makeCertificates(prefix);
  const [rtmpPort, rtmpsPort, httpPort, httpsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const recordDir = join(prefix, 'record');
  const conf = join(prefix, 'config.json');
  writeFileSync(
    conf,
    JSON.stringify(
      {
        bind: '127.0.0.1',
        notify: { url: '' },
        store: { path: join(prefix, 'data') },
        auth: { play: false, publish: false, secret: '' },
        rtmp: { port: rtmpPort },
        rtmps: { port: rtmpsPort, key: certs.key, cert: certs.cert },
        http: { port: httpPort },
        https: { port: httpsPort, key: certs.key, cert: certs.cert },
        webadmin: { enable: false },
        record: { auto: true, path: recordDir },
      },
      null,
      2,
    ),
  );
  const app = join(dirname(require.resolve('node-media-server/package.json')), 'bin', 'app.js');
  const child: ChildProcess = spawn(process.execPath, [app, '-c', conf, '--no-admin'], { stdio: ['ignore', 'pipe', 'pipe'], cwd: prefix });
  let log = '';
  const keep = (d: Buffer) => {
    if (log.length < 200_000) log += d.toString('utf8');
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const deadline = Date.now() + 20_000;
  while (!(await portOpen(rtmpPort)) || !(await portOpen(rtmpsPort))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      rmSync(prefix, { recursive: true, force: true });
      throw new Error(`node-media-server did not start: ${log.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const files = (dir: string): string[] => {
    let out: string[] = [];
    let entries: string[] = [];
    try {
      entries = readdirSync(dir);
    } catch {
      return out;
    }
    for (const e of entries) {
      const p = join(dir, e);
      if (statSync(p).isDirectory()) out = out.concat(files(p));
      else if (p.endsWith('.flv')) out.push(p);
    }
    return out;
  };
  return {
    rtmpPort,
    rtmpsPort,
    caCertPem: readFileSync(certs.caCert, 'utf8'),
    url: (a = 'live') => `rtmp://127.0.0.1:${rtmpPort}/${a}`,
    secureUrl: (a = 'live') => `rtmps://localhost:${rtmpsPort}/${a}`,
    recordings: (name) => files(join(recordDir, 'live', name)).sort((x, y) => statSync(y).size - statSync(x).size),
    log: () => log,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        if (!(await waitExit(child, 5000))) {
          child.kill('SIGKILL');
          await waitExit(child, 5000);
        }
      }
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}
