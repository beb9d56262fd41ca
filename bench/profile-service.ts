/**
 * The service alone under one broadcast of a call with 4 WHIP participants (figure 1's scene), for
 * profiling: prints the service's CPU split by process over `seconds`. Pass Node options to the
 * service with CALLCAST_BENCH_SERVICE_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
 * CALLCAST_BENCH_SERVICE_ECHO=1 copies the service's stdout and stderr (e.g. `--trace-gc`) to this one's stderr.
 * `node --import tsx bench/profile-service.ts [720p|1080p] [seconds]`
 */
import { startNginxIngest } from '../test/support/rtmp-ingest.js';
import { measureService } from './figures/overhead.js';
import type { Quality, RunContext } from './lib/scenario.js';
import { startService } from './lib/service.js';

const quality = (process.argv[2] ?? '720p') as Quality;
const seconds = Number(process.argv[3] ?? 20);
const ingest = await startNginxIngest();
const service = await startService();
try {
  const ctx = { smoke: false, service, ingest, deadline: performance.now() + 600_000, log: console.log } as RunContext;
  const run = await measureService(ctx, quality, { warmupS: 8, windows: 1, windowS: seconds }, 'profile', 4);
  console.log(JSON.stringify({ quality, seconds, cores: run.cpuPerS, byProcess: run.coresByCommand, ingestFps: run.ingestFps }));
} finally {
  await service.stop();
  await ingest.stop();
}
