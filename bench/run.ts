/**
 * `npm run bench`: measures what a broadcast costs and how fast it reacts on this machine, against
 * baselines measured in the same run, prints a table and writes bench/results/latest.json and the
 * generated section of BENCHMARKS.md.
 *
 *   npm run bench                  full run (about 12 minutes, at most 15)
 *   npm run bench -- --smoke       every figure once for a few seconds; writes bench/results/smoke.json
 *   options: --out FILE (JSON path), --only overhead,fanout,forwarding,start,latency,custom,capacity, --no-markdown
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startNginxIngest, type NginxIngest } from '../test/support/rtmp-ingest.js';
import { addedLatency } from './figures/added-latency.js';
import { capacity } from './figures/capacity.js';
import { customLayout } from './figures/custom-layout.js';
import { fanOut } from './figures/fanout.js';
import { forwarding } from './figures/forwarding.js';
import { compositeOverhead } from './figures/overhead.js';
import { startLatency } from './figures/start-latency.js';
import { loadAverage } from './lib/proc.js';
import { formatTable, gitCommit, machineInfo, writeBenchmarksMd, writeJson, type RunReport } from './lib/report.js';
import { notMeasured, waitQuiet, type FigureResult, type RunContext, type Timings } from './lib/scenario.js';
import { startService, type ServiceHandle } from './lib/service.js';
import { median } from './lib/stats.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface Plan {
  budgetS: number;
  overhead: Timings;
  fanout: Timings & { pairs: number };
  forwarding: Timings & { pairs: number };
  starts: number;
  flashes: number;
  flashPeriodMs: number;
  custom: Timings;
  capacity: { maxN: number; searchS: number; confirmS: number; warmupS: number; maxTrials: number };
}

const FULL: Plan = {
  budgetS: 14 * 60,
  overhead: { warmupS: 5, windowS: 15, windows: 3 },
  fanout: { warmupS: 5, windowS: 10, windows: 1, pairs: 3 },
  forwarding: { warmupS: 5, windowS: 10, windows: 1, pairs: 3 },
  starts: 10,
  flashes: 20,
  flashPeriodMs: 1500,
  custom: { warmupS: 5, windowS: 10, windows: 3 },
  capacity: { maxN: 24, searchS: 10, confirmS: 60, warmupS: 3, maxTrials: 4 },
};

const SMOKE: Plan = {
  budgetS: 170,
  overhead: { warmupS: 1, windowS: 2, windows: 1 },
  fanout: { warmupS: 1, windowS: 2, windows: 1, pairs: 1 },
  forwarding: { warmupS: 1, windowS: 2, windows: 1, pairs: 1 },
  starts: 1,
  flashes: 3,
  flashPeriodMs: 1000,
  custom: { warmupS: 1, windowS: 2, windows: 1 },
  capacity: { maxN: 1, searchS: 2, confirmS: 0, warmupS: 1, maxTrials: 1 },
};

/** Placeholders for a figure group that could not run, so every figure is always reported. */
const GROUP_FIGURES: Record<string, Array<[id: string, title: string, unit: string, target?: string]>> = {
  overhead: [
    ['composite_overhead_720p30', 'Composite overhead vs the encode floor, 720p30, 4 WHIP participants', 'x', '<= 1.2'],
    ['composition_vs_ffmpeg_720p30', 'Service vs an ffmpeg filter-graph composition of the same call, 720p30', 'x', '< 1'],
    ['composite_overhead_1080p30', 'Composite overhead vs the encode floor, 1080p30, 4 WHIP participants', 'x', '<= 1.1'],
    ['composition_vs_ffmpeg_1080p30', 'Service vs an ffmpeg filter-graph composition of the same call, 1080p30', 'x', '< 1'],
  ],
  fanout: [
    ['fanout_5_vs_1', 'Fan-out: CPU with 5 destinations / with 1 (720p30, same layout, 4 WHIP participants)', 'x', '<= 1.03'],
    ['memory_per_destination', 'Memory per extra destination (service RSS, 5 vs 1 destinations / 4)', 'MiB'],
  ],
  forwarding: [
    [
      'forwarding_per_stream',
      'Forwarding: service CPU per forwarded stream (4-person call, everyone sees everyone, vs nobody subscribed)',
      'millicores',
    ],
  ],
  start: [['start_latency', 'Start latency: request to first video frame at the ingest (720p30, cold)', 'ms', 'median < 1000']],
  latency: [['added_latency', 'Added latency: participant frame to ingest (720p30 spotlight)', 'ms', 'median < 400']],
  custom: [
    ['custom_layout_browser_cpu', 'Custom layout 720p30, 2 participants: CPU of the browser stack', 'cores'],
    ['custom_layout_service_cpu', 'Custom layout 720p30, 2 participants: CPU of the service (without the browser)', 'cores'],
    ['custom_layout_ingest_fps', 'Custom layout 720p30, 2 participants: distinct pictures per second at the ingest', 'fps', '>= 29'],
  ],
  capacity: [
    ['capacity_720p30_groups', 'Capacity: simultaneous 720p30 broadcast groups of 4 live participants at full frame rate', 'groups'],
    [
      'capacity_ffmpeg_composition',
      'Capacity baseline: simultaneous ffmpeg compositions of 4 participants, 720p30, at full frame rate',
      'processes',
    ],
    ['memory_per_group', 'Memory per broadcast group (service RSS, N groups vs idle, / N)', 'MiB'],
  ],
};

function failed(group: string, reason: string): FigureResult[] {
  return GROUP_FIGURES[group]!.map(([id, title, unit, target]) => notMeasured(id, title, unit, 'see the figure group', reason, target));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      smoke: { type: 'boolean', default: false },
      out: { type: 'string' },
      only: { type: 'string' },
      'no-markdown': { type: 'boolean', default: false },
    },
    allowPositionals: false,
  });
  const smoke = values.smoke === true;
  const plan = smoke ? SMOKE : FULL;
  const only = values.only ? new Set(values.only.split(',').map((s) => s.trim())) : undefined;
  const wanted = (g: string) => !only || only.has(g);
  const outPath = values.out ?? `${ROOT}bench/results/${smoke ? 'smoke' : 'latest'}.json`;
  const writeMarkdown = !smoke && !values['no-markdown'] && !only;

  const t0 = performance.now();
  const startedAt = new Date().toISOString();
  const loadBefore = loadAverage();
  let loadMax = loadBefore[0] ?? 0;
  let loadMaxBeforeCapacity: number | undefined;
  const loadTimer = setInterval(() => {
    loadMax = Math.max(loadMax, loadAverage()[0] ?? 0);
  }, 2000);
  const log = (msg: string) => process.stderr.write(`[bench ${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${msg}\n`);

  let service: ServiceHandle | undefined;
  let ingest: NginxIngest | undefined;
  const stopAll = async () => {
    clearInterval(loadTimer);
    await service?.stop().catch(() => undefined);
    await ingest?.stop().catch(() => undefined);
  };
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
  process.once('SIGTERM', () => void stopAll().then(() => process.exit(143)));

  const figures: FigureResult[] = [];
  try {
    log(`${smoke ? 'smoke' : 'full'} run; load average ${loadBefore.join(' ')}`);
    let setupError: string | undefined;
    try {
      ingest = await startNginxIngest();
      service = await startService();
    } catch (err) {
      setupError = `the ${ingest ? 'service' : 'nginx-rtmp ingest'} did not start: ${(err as Error).message.split('\n')[0]}`;
      log(setupError);
    }
    if (service && !service.media.composited) log(`media plane: ${service.media.reason}`);
    const ctx = { smoke, service, ingest, deadline: t0 + plan.budgetS * 1000, log } as RunContext;

    const run = async (group: string, fn: () => Promise<FigureResult[]>) => {
      if (!wanted(group)) return;
      if (setupError) {
        figures.push(...failed(group, setupError));
        return;
      }
      try {
        // Each group starts from an idle service (nothing left over from the one before).
        await waitQuiet(ctx);
        figures.push(...(await fn()));
      } catch (err) {
        log(`${group} failed: ${(err as Error).stack ?? String(err)}`);
        figures.push(...failed(group, `the measurement failed: ${(err as Error).message}`));
      }
    };

    await run('overhead', () => compositeOverhead(ctx, plan.overhead));
    await run('fanout', () => fanOut(ctx, plan.fanout, plan.fanout.pairs));
    await run('forwarding', () => forwarding(ctx, plan.forwarding, plan.forwarding.pairs));
    await run('start', () => startLatency(ctx, plan.starts));
    await run('latency', () => addedLatency(ctx, plan.flashes, plan.flashPeriodMs));
    await run('custom', () => customLayout(ctx, plan.custom));
    // Start the capacity search near what the CPU of one group predicts for this machine.
    const oneGroup = figures.find((f) => f.id === 'fanout_5_vs_1')?.details?.oneDestinationCores as number[] | undefined;
    const cores = machineInfo().cores;
    loadMaxBeforeCapacity = loadMax;
    const start = smoke
      ? 1
      : oneGroup?.length
        ? Math.max(1, Math.min(plan.capacity.maxN, Math.floor((cores * 0.8) / median(oneGroup))))
        : 4;
    await run('capacity', () => capacity(ctx, { ...plan.capacity, start }));
  } finally {
    await stopAll();
  }

  const report: RunReport = {
    mode: smoke ? 'smoke' : 'full',
    startedAt,
    finishedAt: new Date().toISOString(),
    durationS: Math.round((performance.now() - t0) / 1000),
    commit: gitCommit(ROOT),
    machine: machineInfo(),
    loadBefore,
    loadAfter: loadAverage(),
    loadMax,
    ...(loadMaxBeforeCapacity !== undefined ? { loadMaxBeforeCapacity } : {}),
    figures,
  };
  process.stdout.write(`\n${formatTable(figures)}\n\n`);
  writeJson(outPath, report);
  process.stdout.write(`results written to ${outPath}\n`);
  if (writeMarkdown) {
    writeBenchmarksMd(`${ROOT}BENCHMARKS.md`, report);
    process.stdout.write(`summary written to ${ROOT}BENCHMARKS.md\n`);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
