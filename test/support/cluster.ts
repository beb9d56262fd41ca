/**
 * Several Callcast nodes of one cluster for a test: one fresh PostgreSQL schema (in the server
 * CALLCAST_TEST_DATABASE_URL names), one throw-away Redis, the same credentials, each node in
 * this process on its own port with its own data dir. `clusterSkipReason` says why cluster tests
 * cannot run (no PostgreSQL given: the SQLite lane).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamClient } from '@stream-io/node-sdk';
import { startCallcast, type Callcast } from '../../src/app.js';
import type { EgressEngine } from '../../src/egress/engine.js';
import type { Config } from '../../src/config.js';
import { RecordingEngine } from './recording-engine.js';
import { startRedis, type LocalRedis } from './redis.js';
import { freshSchema, TEST_RTMP_ALLOW, testServiceConfig } from './server.js';

/** Why cluster tests are skipped here, or false when they can run. */
export function clusterSkipReason(): string | false {
  return process.env.CALLCAST_TEST_DATABASE_URL
    ? false
    : 'cluster mode needs PostgreSQL: run under scripts/with-postgres.ts (the PostgreSQL lane of scripts/run-tests.sh)';
}

export interface TestNode {
  id: string;
  server: Callcast<EgressEngine | null>;
  /** The RecordingEngine of a control-plane node; null with the real egress. */
  engine: RecordingEngine | null;
  client: StreamClient;
  url: string;
  /** Stops the node as SIGTERM does (it hands its calls over). */
  stop(): Promise<void>;
}

export interface TestCluster {
  redis: LocalRedis;
  databaseUrl: string;
  apiKey: string;
  apiSecret: string;
  nodes: TestNode[];
  /** The config a node of this cluster runs with (for child-process nodes). */
  nodeConfig(id: string): Config;
  /** Starts one more node (same store, Redis, credentials). */
  addNode(id: string): Promise<TestNode>;
  close(): Promise<void>;
}

export async function startTestCluster(opts: {
  nodes: string[];
  /** Real egress (encoders) instead of a RecordingEngine per node. */
  egress?: boolean;
  config?: Partial<Config>;
  webhookPolicy?: Parameters<typeof startCallcast>[0]['webhookPolicy'];
  /** Serve the built pages (test/web/harness.ts's WEB_ROOT) from every node. */
  webRoot?: string;
}): Promise<TestCluster> {
  const base = process.env.CALLCAST_TEST_DATABASE_URL;
  if (!base) throw new Error('startTestCluster needs CALLCAST_TEST_DATABASE_URL');
  const schema = await freshSchema(base);
  const redis = await startRedis();
  const apiKey = `key-${randomBytes(4).toString('hex')}`;
  const apiSecret = randomBytes(24).toString('hex');
  const dirs: string[] = [];
  const nodes: TestNode[] = [];
  const nodeConfig = (id: string): Config => {
    const dataDir = mkdtempSync(join(tmpdir(), `callcast-${id}-`));
    dirs.push(dataDir);
    return {
      ...testServiceConfig({ apiKey, apiSecret, dataDir }),
      logLevel: (process.env.CALLCAST_TEST_LOG_LEVEL as Config['logLevel']) ?? 'silent',
      databaseUrl: schema.url,
      redisUrl: redis.url,
      nodeId: id,
      ...opts.config,
    };
  };
  const addNode = async (id: string): Promise<TestNode> => {
    const engine = opts.egress ? null : new RecordingEngine();
    const server = await startCallcast({
      config: nodeConfig(id),
      ...(engine ? { engine: engine.bind } : {}),
      ...(opts.webhookPolicy ? { webhookPolicy: opts.webhookPolicy } : {}),
      ...(opts.webRoot ? { webRoot: opts.webRoot } : {}),
    });
    const node: TestNode = {
      id,
      server,
      engine,
      client: new StreamClient(apiKey, apiSecret, { basePath: server.url, timeout: 20_000 }),
      url: server.url,
      stop: () => server.close(),
    };
    nodes.push(node);
    return node;
  };
  const cluster: TestCluster = {
    redis,
    databaseUrl: schema.url,
    apiKey,
    apiSecret,
    nodes,
    nodeConfig,
    addNode,
    async close() {
      await Promise.allSettled(nodes.map((n) => n.server.close()));
      await redis.stop();
      await schema.drop();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
  try {
    for (const id of opts.nodes) await addNode(id);
  } catch (err) {
    await cluster.close();
    throw err;
  }
  return cluster;
}

export interface ChildNode {
  id: string;
  url: string;
  pid: number;
  /** Resolves with the exit code (or signal) once the process has exited. */
  exited: Promise<number | string>;
  kill(signal: NodeJS.Signals): void;
}

/**
 * A node of the cluster as `callcast serve` runs it, in a child process on 127.0.0.1:`port`
 * (configured through the environment only). Its log goes to `logPath`. Resolves once it listens.
 */
export async function spawnNode(
  cluster: TestCluster,
  id: string,
  port: number,
  logPath: string,
  env: Record<string, string> = {},
): Promise<ChildNode> {
  const c = cluster.nodeConfig(id);
  const vars: Record<string, string> = {
    CALLCAST_PORT: String(port),
    CALLCAST_HOST: '127.0.0.1',
    CALLCAST_API_KEY: c.apiKey!,
    CALLCAST_API_SECRET: c.apiSecret!,
    CALLCAST_DATA_DIR: c.dataDir,
    CALLCAST_DATABASE_URL: c.databaseUrl!,
    CALLCAST_REDIS_URL: c.redisUrl!,
    CALLCAST_NODE_ID: id,
    CALLCAST_RTMP_ALLOW: TEST_RTMP_ALLOW,
    CALLCAST_ADMISSION_CPU_PERCENT: 'off',
    CALLCAST_ADMISSION_DEGRADED: '0',
    CALLCAST_LOG_LEVEL: 'info',
    ...(c.webhookUrl ? { CALLCAST_WEBHOOK_URL: c.webhookUrl } : {}),
    ...env,
  };
  const { spawn } = await import('node:child_process');
  const { openSync, closeSync } = await import('node:fs');
  const { fileURLToPath } = await import('node:url');
  const cli = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));
  const out = openSync(logPath, 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', cli, 'serve'], {
    env: { ...process.env, ...vars },
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`node ${id} exited with code ${child.exitCode} (log: ${logPath})`);
    try {
      const res = await fetch(`${url}/video/no-such-route`, { signal: AbortSignal.timeout(2_000) });
      await res.body?.cancel();
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`node ${id} did not listen within 90 s (log: ${logPath})`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  return { id, url, pid: child.pid!, exited, kill: (signal) => void child.kill(signal) };
}
