/**
 * The run's outputs: the printed table, the JSON results and the generated part of BENCHMARKS.md.
 * Formatting is pure; `machineInfo` and the writers do the I/O.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { dirname } from 'node:path';
import type { FigureResult } from './scenario.js';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  ffmpeg: string;
  nginx: string;
}

export interface RunReport {
  mode: 'full' | 'smoke';
  startedAt: string;
  finishedAt: string;
  durationS: number;
  commit: string;
  machine: MachineInfo;
  /** 1/5/15-minute load averages when the run started and ended. */
  loadBefore: number[];
  loadAfter: number[];
  /** Highest 1-minute load average seen during the run. */
  loadMax: number;
  /**
   * Highest 1-minute load average seen before the capacity trials, which load the machine on
   * purpose (figures 1 to 4 run a service, publishers and an ingest: about 1-2 on a quiet machine).
   */
  loadMaxBeforeCapacity?: number;
  figures: FigureResult[];
}

function firstLine(cmd: string, args: string[]): string {
  try {
    const out = execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
    return out.split('\n')[0]!.trim();
  } catch (err) {
    const e = err as { stderr?: string };
    return (e.stderr ?? '').split('\n')[0]!.trim() || 'unknown';
  }
}

export function machineInfo(): MachineInfo {
  const c = cpus();
  const nginx = firstLine('sh', ['-c', 'nginx -v 2>&1']);
  return {
    cpuModel: c[0]?.model ?? 'unknown',
    cores: c.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
    ffmpeg: firstLine('ffmpeg', ['-version']).replace(/ Copyright.*$/, ''),
    nginx: nginx.replace(/^nginx version: /, ''),
  };
}

export function gitCommit(cwd: string): string {
  const sha = firstLine('git', ['-C', cwd, 'rev-parse', '--short', 'HEAD']);
  const dirty = firstLine('git', ['-C', cwd, 'status', '--porcelain', '--untracked-files=no']);
  return dirty && dirty !== 'unknown' ? `${sha} (with uncommitted changes)` : sha;
}

/** The value column: "1.23 x", or the not-measured reason. */
export function valueText(f: FigureResult): string {
  if (f.value === null) return f.notMeasured ?? 'not measured';
  return `${f.value} ${f.unit}`;
}

export function spreadText(f: FigureResult): string {
  const s = f.summary;
  if (!s || f.value === null) return '';
  const p95 = f.id === 'start_latency' || f.id === 'added_latency' ? `p95 ${round1(s.p95)}, ` : '';
  return `${p95}min ${round1(s.min)}, max ${round1(s.max)}, n=${s.n}`;
}

function round1(x: number): number {
  return Math.round(x * 100) / 100;
}

export function statusText(f: FigureResult): string {
  if (f.value === null) return 'not measured';
  if (f.met === null) return f.target ? '' : '-';
  return f.met ? 'met' : 'MISSED';
}

/** A plain-text table for the terminal. */
export function formatTable(figures: readonly FigureResult[]): string {
  const rows = figures.map((f) => [f.title, valueText(f), spreadText(f), f.against ?? '', f.target ?? '', statusText(f)]);
  const head = ['Figure', 'Median', 'Spread', 'Baseline (same run)', 'Target', 'Status'];
  const widths = head.map((h, i) => Math.min(i === 1 ? 70 : 80, Math.max(h.length, ...rows.map((r) => r[i]!.length))));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ');
  const warnings = figures.flatMap((f) => (f.warnings ?? []).map((w) => `warning: ${f.id}: ${w}`));
  return [line(head), widths.map((w) => '-'.repeat(w)).join('-+-'), ...rows.map(line), ...(warnings.length ? ['', ...warnings] : [])].join(
    '\n',
  );
}

function mdEscape(s: string): string {
  return s.replace(/\|/g, '\\|');
}

/** The generated section of BENCHMARKS.md. */
export function formatMarkdown(r: RunReport): string {
  const m = r.machine;
  const lines: string[] = [];
  lines.push(`Run of ${r.finishedAt} (${r.mode} mode, ${Math.round(r.durationS)} s), commit ${r.commit}.`);
  lines.push('');
  lines.push(
    `Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB RAM, Linux ${m.kernel}; Node ${m.node}; ${m.ffmpeg}; nginx ${m.nginx}.`,
  );
  lines.push(
    `Load average (1/5/15 min) at start ${r.loadBefore.join(' / ')}, at end ${r.loadAfter.join(' / ')}, highest 1-min value seen during the run ${r.loadMax}${r.loadMaxBeforeCapacity !== undefined ? ` (${r.loadMaxBeforeCapacity} before the capacity trials, which saturate the machine on purpose)` : ''}.`,
  );
  lines.push('');
  lines.push('| Figure | Median | Spread | Baseline (same run) | Target | Status |');
  lines.push('|---|---|---|---|---|---|');
  for (const f of r.figures) {
    lines.push(
      `| ${mdEscape(f.title)} | ${mdEscape(valueText(f))} | ${spreadText(f)} | ${mdEscape(f.against ?? '')} | ${mdEscape(f.target ?? '')} | ${statusText(f)} |`,
    );
  }
  lines.push('');
  lines.push('How each figure was measured:');
  lines.push('');
  for (const f of r.figures) lines.push(`- **${f.id}**: ${f.method}.`);
  const warned = r.figures.filter((f) => f.warnings?.length);
  if (warned.length) {
    lines.push('');
    lines.push('Warnings about this run:');
    lines.push('');
    for (const f of warned) for (const w of f.warnings!) lines.push(`- ${f.title}: ${w}.`);
  }
  const missed = r.figures.filter((f) => f.met === false);
  const notMeasured = r.figures.filter((f) => f.value === null);
  if (missed.length || notMeasured.length) {
    lines.push('');
    lines.push('Targets missed and figures not measured in this run:');
    lines.push('');
    for (const f of missed) lines.push(`- ${f.title}: ${valueText(f)}, target ${f.target}.`);
    for (const f of notMeasured) lines.push(`- ${f.title}: ${f.notMeasured}.`);
  }
  return lines.join('\n');
}

export const RESULTS_START = '<!-- bench:results:start -->';
export const RESULTS_END = '<!-- bench:results:end -->';

/** Replaces the generated section of a BENCHMARKS.md text (or appends one). Pure. */
export function spliceResults(doc: string, generated: string): string {
  const block = `${RESULTS_START}\n${generated}\n${RESULTS_END}`;
  const a = doc.indexOf(RESULTS_START);
  const b = doc.indexOf(RESULTS_END);
  if (a >= 0 && b > a) return doc.slice(0, a) + block + doc.slice(b + RESULTS_END.length);
  return `${doc.trimEnd()}\n\n## Latest run\n\n${block}\n`;
}

export function writeJson(path: string, report: RunReport): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
}

export function writeBenchmarksMd(path: string, report: RunReport): void {
  const doc = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n';
  writeFileSync(path, spliceResults(doc, formatMarkdown(report)));
}
