import { Command } from 'commander';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ingestHeap, type IngestTimes } from './ingest.js';
import { TS_KINDS, type JobsInput, type JobsTimes } from './rebuild.js';
import { runChild } from './childProcess.js';
import { productCommit } from './report.js';
import { writeBenchConfig, writeWorkload } from './workload.js';
import { DEFAULT_MEMORY } from '../projections/memoryBudget.js';

/**
 * The scaling table (issue 15, "Memory at scale"): for each N, ingest and the TypeScript rebuild
 * in their own processes, with time, CPU and peak RSS, so that cost per event and the memory
 * ceiling can be compared across N in one run of the same code. The SQL kinds are left out: their
 * rebuild reads the log sealed into Parquet, and sealing 30M events is maintenance, not the figure.
 */
const program = new Command('bench:scale')
  .description('ingest and TypeScript rebuild at several N: time, CPU per event and peak RSS (the scaling table)')
  .requiredOption('--events <list>', 'comma-separated event counts, run in this order, e.g. 1e6,1e7,3e7')
  .requiredOption('--dir <dir>', 'work folder: one sub-folder per N (lakes of tens of GB at 30M)')
  .option('--json <file>', 'append each N\'s row as one JSON line as soon as it is measured')
  .option('--keep', 'keep each N\'s lake (default: removed once measured)');

interface Row {
  events: number;
  commit: string | null;
  load: { start: number[]; end: number[] };
  ingest: { seconds: number; commandsPerSecond: number; cpuUsPerCommand: number; peakRssMiB: number };
  rebuild: { seconds: number; recordsApplied: number; recordsPerSecond: number; cpuUsPerRecord: number; peakRssMiB: number };
  memoryBudgetMiB: number;
}

const log = (line: string) => process.stderr.write(`[scale ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const mib = (bytes: number) => Math.round(bytes / 1024 / 1024);

function parseCount(value: string): number {
  const n = Number(value.trim().replace(/[_,]/g, ''));
  if (!Number.isInteger(n) || n < 1) throw new Error(`--events: not a positive whole number: ${value}`);
  return n;
}

async function measureAt(events: number, work: string, keep: boolean): Promise<Row> {
  const dir = path.join(work, String(events));
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const loadStart = os.loadavg();
  log(`N = ${events.toLocaleString('en-US')}: generating commands ...`);
  const workload = writeWorkload(dir, events);
  fs.rmSync(workload.extraFile, { force: true });
  const config = writeBenchConfig(dir);
  const lake = path.join(dir, 'lake');
  log(`N = ${events.toLocaleString('en-US')}: ingest (${mib(workload.bytes)} MiB of NDJSON) ...`);
  const ingest = await runChild<IngestTimes>('ingest', { lake, config, file: workload.file, deciders: 1 }, { nodeArgs: ingestHeap(events) });
  if (ingest.result.events !== events) throw new Error(`N = ${events}: ingest made ${ingest.result.events} events`);
  fs.rmSync(workload.file, { force: true });
  log(`N = ${events.toLocaleString('en-US')}: TypeScript rebuild ...`);
  const rebuild = await runChild<JobsTimes>('rebuild', { lake, config, mode: 'rebuild', kinds: TS_KINDS } satisfies JobsInput);
  const applied = rebuild.result.jobs.reduce((sum, job) => sum + job.applied, 0);
  if (!keep) fs.rmSync(dir, { recursive: true, force: true });
  const i = ingest.result;
  return {
    events,
    commit: productCommit(),
    load: { start: loadStart, end: os.loadavg() },
    ingest: { seconds: i.ingestMs / 1000, commandsPerSecond: i.commands / (i.ingestMs / 1000), cpuUsPerCommand: (i.cpuMs * 1000) / i.commands, peakRssMiB: mib(ingest.maxRssBytes) },
    rebuild: { seconds: rebuild.result.totalMs / 1000, recordsApplied: applied, recordsPerSecond: applied / (rebuild.result.totalMs / 1000), cpuUsPerRecord: (rebuild.result.cpuMs * 1000) / applied, peakRssMiB: mib(rebuild.maxRssBytes) },
    memoryBudgetMiB: mib(DEFAULT_MEMORY),
  };
}

function table(rows: Row[]): string {
  const n = (v: number, digits = 0) => v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  return [
    '| events | ingest s | commands/s | CPU us/command | ingest peak RSS | rebuild s | records/s | CPU us/record | rebuild peak RSS | load (start → end) |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ...rows.map((r) => `| ${n(r.events)} | ${n(r.ingest.seconds)} | ${n(r.ingest.commandsPerSecond)} | ${n(r.ingest.cpuUsPerCommand, 1)} | ${n(r.ingest.peakRssMiB)} MiB | ${n(r.rebuild.seconds)} | ${n(r.rebuild.recordsPerSecond)} | ${n(r.rebuild.cpuUsPerRecord, 1)} | ${n(r.rebuild.peakRssMiB)} MiB | ${r.load.start[0].toFixed(1)} → ${r.load.end[0].toFixed(1)} |`),
  ].join('\n');
}

async function main(): Promise<void> {
  const options = program.parse().opts<{ events: string; dir: string; json?: string; keep?: boolean }>();
  const counts = options.events.split(',').map(parseCount);
  const work = path.resolve(options.dir);
  const rows: Row[] = [];
  for (const events of counts) {
    const row = await measureAt(events, work, options.keep === true);
    rows.push(row);
    if (options.json) fs.appendFileSync(options.json, `${JSON.stringify(row)}\n`);
    log(`N = ${events.toLocaleString('en-US')}: done\n${table([row])}`);
  }
  process.stdout.write(`${table(rows)}\n\nrecords = records applied summed over the ${TS_KINDS.join(' and ')} jobs; memory budget ${mib(DEFAULT_MEMORY)} MiB (the default).\n`);
}

main().catch((error: Error) => {
  process.stderr.write(`bench:scale failed: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
