import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** One figure of a bench run: ours, the baseline measured in the same run, and their ratio. */
export interface BenchResult {
  name: string;
  /** Ours; null when the figure could not be measured (see `note`). */
  value: number | null;
  unit: string;
  baseline: number | null;
  baselineLabel: string;
  ratio: number | null;
  /** How the ratio is formed, e.g. "ours / DuckDB" or "raw / views (times faster)". */
  ratioMeaning: string;
  /** The issue's goal for this figure, in words, or null. */
  goal: string | null;
  /** Whether the goal is met (null: no goal, or not applicable at this N). */
  met: boolean | null;
  note?: string;
}

export interface Machine {
  cpus: number;
  cpuModel: string;
  memory: number;
  node: string;
  platform: string;
  /** 1, 5 and 15 minute load averages at the start and the end of the run: others share the machine. */
  loadStart: number[];
  loadEnd: number[];
}

/** What `--json FILE` writes. */
export interface BenchReport {
  machine: Machine;
  events: number;
  /** The product's git commit ("+dirty" when the work tree had changes), or null when unknown. */
  commit: string | null;
  command: string;
  startedAt: string;
  durationSeconds: number;
  results: BenchResult[];
}

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The product's commit, from git or (for a run from an exported tree) EVENTLAKE_BENCH_COMMIT. */
export function productCommit(): string | null {
  if (process.env.EVENTLAKE_BENCH_COMMIT) return process.env.EVENTLAKE_BENCH_COMMIT;
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    return `${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', '--untracked-files=no') ? '+dirty' : ''}`;
  } catch {
    return null;
  }
}

export function machine(loadStart: number[]): Machine {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memory: os.totalmem(),
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    loadStart,
    loadEnd: os.loadavg(),
  };
}

export function notMeasured(name: string, unit: string, reason: string): BenchResult {
  return { name, value: null, unit, baseline: null, baselineLabel: '', ratio: null, ratioMeaning: '', goal: null, met: null, note: `not measured: ${reason}` };
}

/** 1234567 -> "1,234,567"; small numbers keep a few significant digits. */
export function formatNumber(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return '-';
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  if (Math.abs(value) >= 1) return value.toFixed(2);
  return value.toPrecision(3);
}

function ratioText(r: BenchResult): string {
  return r.ratio === null || !Number.isFinite(r.ratio) ? '-' : `${formatNumber(r.ratio)}×`;
}

function goalText(r: BenchResult): string {
  if (!r.goal) return '';
  return `${r.goal}: ${r.met === null ? 'n/a at this N' : r.met ? 'met' : 'not met'}`;
}

/** The results as a Markdown table (also printed to the terminal: it reads fine as plain text). */
export function markdownTable(results: BenchResult[]): string {
  const header = '| figure | ours | baseline | ratio | goal |\n|---|---:|---:|---:|---|';
  const rows = results.map((r) => {
    const ours = r.value === null ? `not measured` : `${formatNumber(r.value)} ${r.unit}`;
    const baseline = r.baseline === null ? '-' : `${formatNumber(r.baseline)} ${r.unit}`;
    const ratio = r.ratio === null ? '-' : `${ratioText(r)} (${r.ratioMeaning})`;
    return `| ${r.name} | ${ours} | ${baseline} | ${ratio} | ${goalText(r)} |`;
  });
  return [header, ...rows].join('\n');
}

export function markdownReport(report: BenchReport): string {
  const m = report.machine;
  const gib = (bytes: number) => `${Math.round(bytes / 1024 ** 3)} GiB`;
  const lines = [
    `# eventlake benchmark: N = ${report.events.toLocaleString('en-US')} events`,
    '',
    `\`${report.command}\` at commit ${report.commit ?? 'unknown'}, started ${report.startedAt}, ${Math.round(report.durationSeconds)} s.`,
    `Machine: ${m.cpus} cores (${m.cpuModel}), ${gib(m.memory)}, Node ${m.node}, ${m.platform}; load average ${m.loadStart.map((l) => l.toFixed(2)).join(' ')} at the start, ${m.loadEnd.map((l) => l.toFixed(2)).join(' ')} at the end.`,
    '',
    markdownTable(report.results),
    '',
    '## Baselines and notes',
    '',
    ...report.results.map((r) => `- **${r.name}**: ${r.baselineLabel ? `baseline: ${r.baselineLabel}.` : ''}${r.note ? ` ${r.note}.` : ''}`),
    '',
    '![ratios](latest.svg)',
    '',
  ];
  return lines.join('\n');
}

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * Horizontal bars of each figure's ratio on a log scale around 1 (parity with the baseline):
 * green when the figure's goal is met, red when not, grey without a goal.
 */
export function svgChart(report: BenchReport): string {
  const rows = report.results;
  const width = 1120;
  const labelWidth = 300;
  const valueWidth = 400;
  const barArea = width - labelWidth - valueWidth - 20;
  const rowHeight = 28;
  const top = 56;
  const height = top + rows.length * rowHeight + 40;
  const min = -3;
  const max = 3; // log10 range: 0.001x .. 1000x
  const x = (ratio: number) => labelWidth + ((Math.min(max, Math.max(min, Math.log10(ratio))) - min) / (max - min)) * barArea;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  parts.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  parts.push(`<text x="12" y="22" font-size="15" font-weight="bold">${escape(`eventlake vs baselines, N = ${report.events.toLocaleString('en-US')} events (ratio, log scale)`)}</text>`);
  parts.push(`<text x="12" y="40" fill="#555">${escape(`${report.machine.cpus} cores, Node ${report.machine.node}, load ${report.machine.loadStart[0].toFixed(2)}; green: goal met, red: not met, grey: no goal / n/a`)}</text>`);
  for (let p = min; p <= max; p++) {
    const gx = x(10 ** p);
    parts.push(`<line x1="${gx}" y1="${top - 6}" x2="${gx}" y2="${top + rows.length * rowHeight}" stroke="${p === 0 ? '#333' : '#ddd'}" stroke-width="${p === 0 ? 1.5 : 1}"/>`);
    parts.push(`<text x="${gx}" y="${top + rows.length * rowHeight + 16}" text-anchor="middle" fill="#555">${10 ** p >= 1 ? 10 ** p : (10 ** p).toFixed(-p)}×</text>`);
  }
  rows.forEach((r, i) => {
    const y = top + i * rowHeight;
    parts.push(`<text x="${labelWidth - 8}" y="${y + 17}" text-anchor="end">${escape(r.name)}</text>`);
    if (r.ratio !== null && Number.isFinite(r.ratio) && r.ratio > 0) {
      const [a, b] = [x(1), x(r.ratio)].sort((p, q) => p - q);
      const color = r.met === true ? '#2e9e4f' : r.met === false ? '#d1473d' : '#8a8f98';
      parts.push(`<rect x="${a}" y="${y + 5}" width="${Math.max(1, b - a)}" height="${rowHeight - 10}" fill="${color}"/>`);
      parts.push(`<text x="${labelWidth + barArea + 10}" y="${y + 17}">${escape(`${ratioText(r)} ${r.ratioMeaning}`)}</text>`);
    } else {
      parts.push(`<text x="${labelWidth + barArea + 10}" y="${y + 17}" fill="#888">${escape(r.value === null ? 'not measured' : 'no ratio')}</text>`);
    }
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** Prints the table and writes JSON (if asked), the SVG chart and the Markdown table. */
export function writeReport(report: BenchReport, options: { json?: string; resultsDir: string }): void {
  process.stdout.write(`\n${markdownTable(report.results)}\n\n`);
  if (options.json) {
    fs.mkdirSync(path.dirname(path.resolve(options.json)), { recursive: true });
    fs.writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`);
  }
  fs.mkdirSync(options.resultsDir, { recursive: true });
  fs.writeFileSync(path.join(options.resultsDir, 'latest.svg'), svgChart(report));
  fs.writeFileSync(path.join(options.resultsDir, 'latest.md'), markdownReport(report));
}
