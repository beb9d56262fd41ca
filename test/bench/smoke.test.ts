/**
 * The benchmark suite's smoke mode runs end to end: every figure is reported (a number, or an
 * explicit "not measured: <reason>"), the table is printed and the JSON results are valid.
 * No timing thresholds: this checks that the suite works, not how fast the machine is.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const FIGURE_IDS = [
  'composite_overhead_720p30',
  'composite_overhead_1080p30',
  'composition_vs_ffmpeg_720p30',
  'composition_vs_ffmpeg_1080p30',
  'fanout_5_vs_1',
  'memory_per_destination',
  'start_latency',
  'added_latency',
  'custom_layout_browser_cpu',
  'custom_layout_service_cpu',
  'custom_layout_ingest_fps',
  'capacity_720p30_groups',
  'capacity_ffmpeg_composition',
  'memory_per_group',
];

describe('npm run bench -- --smoke', () => {
  const dir = mkdtempSync(join(tmpdir(), 'callcast-bench-smoke-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('runs every figure once, prints the table and writes valid JSON', { timeout: 540_000 }, async (t) => {
    const out = join(dir, 'smoke.json');
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--smoke', '--out', out], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-20_000);
    });
    // Normally a few minutes; a machine busy with other work can take much longer.
    const timer = setTimeout(() => child.kill('SIGTERM'), 520_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    clearTimeout(timer);
    assert.equal(code, 0, `the smoke run failed:\n${stderr}`);

    const report = JSON.parse(readFileSync(out, 'utf8')) as {
      mode: string;
      machine: { cores: number; cpuModel: string };
      figures: Array<{ id: string; title: string; value: number | null; unit: string; notMeasured?: string; method: string }>;
    };
    assert.equal(report.mode, 'smoke');
    assert.ok(report.machine.cores >= 1);
    const ids = report.figures.map((f) => f.id);
    for (const id of FIGURE_IDS) assert.ok(ids.includes(id), `figure ${id} missing from ${ids.join(', ')}`);
    for (const f of report.figures) {
      if (f.value === null) {
        assert.match(f.notMeasured ?? '', /^not measured: \S/, `${f.id} has neither a value nor a reason`);
      } else {
        assert.equal(typeof f.value, 'number', f.id);
        assert.ok(Number.isFinite(f.value), `${f.id} is ${f.value}`);
      }
      assert.ok(f.method.length > 0, `${f.id} says how it was measured`);
      // The printed table has a row for every figure, with its number or its reason.
      assert.ok(stdout.includes(f.title), `the table lacks "${f.title}"`);
      const shown = f.value === null ? f.notMeasured! : `${f.value} ${f.unit}`;
      assert.ok(stdout.includes(shown), `the table lacks "${shown}" for ${f.id}`);
    }
  });
});
