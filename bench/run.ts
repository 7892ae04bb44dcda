import { Command } from 'commander';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { measurePeer } from './emmett/peer.js';
import { measureFreshness } from './freshness.js';
import { measureIncremental } from './incremental.js';
import { measureIngest } from './ingest.js';
import { LIVE_BATCH, measureLiveBatch } from './liveBatch.js';
import { measureQueries } from './queries.js';
import { measureRebuild } from './rebuild.js';
import { machine, notMeasured, productCommit, writeReport, type BenchResult } from './report.js';
import { existingWorkload, writeBenchConfig, writeWorkload } from './workload.js';
import { LakeLayout } from '../lake/layout.js';
import { readHead } from '../lake/log/logHead.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const OPTIONAL = ['queries', 'incremental', 'live-batch', 'freshness', 'peer'] as const;
type Optional = (typeof OPTIONAL)[number];

/** "1000000", "1e6", "1_000_000" and "1,000,000" alike. */
function count(value: string): number {
  const n = Number(value.replace(/[_,]/g, ''));
  if (!Number.isInteger(n) || n < 1) throw new Error(`not a positive whole number: ${value}`);
  return n;
}

const program = new Command('bench')
  .description('eventlake benchmark harness: ingest, rebuild, incremental, freshness, queries and the Emmett peer, each next to a baseline measured in the same run')
  .option('--events <n>', 'events in the log (one per generated command)', count, 1_000_000)
  .option('--json <file>', 'also write the results as JSON')
  .option('--dir <dir>', 'work folder for the lakes (default: a new temp folder, removed afterwards)')
  .option('--keep', 'keep the work folder')
  .option('--reuse', 'with --dir: reuse the lake an earlier run of the same --events left there (no generating, no ingest figure)')
  .option('--skip <figures>', `comma-separated figures to leave out: ${OPTIONAL.join(', ')}`, '')
  .option('--freshness-commands <n>', 'commands sent to `eventlake serve`, one at a time, quiet and again under load', count, 200)
  .option('--freshness-seconds <s>', 'stop sending freshness commands after this long', count, 300)
  .option('--peer-events <n>', 'events for the Emmett comparison (default: min(N, 100,000))', count)
  .option('--peer-lanes <n>', 'concurrent command lanes for Emmett', count, 8)
  .option('--peer-batch <n>', "events per batch of Emmett's projection rebuild", count, 1000)
  .option('--query-reps <n>', 'timed runs per query after a warm-up', count, 5)
  .option('--profile <dir>', 'write V8 CPU profiles of the ingest and TypeScript-rebuild children here')
  .option('--results-dir <dir>', 'where latest.svg and latest.md go', path.join(REPO, 'bench', 'results'));

interface Options {
  events: number;
  json?: string;
  dir?: string;
  keep?: boolean;
  reuse?: boolean;
  skip: string;
  freshnessCommands: number;
  freshnessSeconds: number;
  peerEvents?: number;
  peerLanes: number;
  peerBatch: number;
  queryReps: number;
  profile?: string;
  resultsDir: string;
}

/** A reused lake must hold exactly the N events asked for, or every figure would be off. */
async function checkLakeEvents(lake: string, events: number): Promise<void> {
  const head = await readHead(new LakeLayout(lake).headFile);
  const held = Object.entries(head?.streams ?? {}).filter(([stream]) => stream.startsWith('p')).reduce((sum, [, s]) => sum + s.sequence, 0);
  if (held !== events) throw new Error(`--reuse: the lake in ${lake} holds ${held} events, not --events ${events}`);
}

const log = (line: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

async function main(): Promise<void> {
  const options = program.parse().opts<Options>();
  const skip = new Set(options.skip.split(',').map((s) => s.trim()).filter(Boolean));
  for (const s of skip) if (!OPTIONAL.includes(s as Optional)) throw new Error(`--skip ${s}: figures that can be skipped are ${OPTIONAL.join(', ')}`);
  const wanted = (figure: Optional) => !skip.has(figure);
  const loadStart = os.loadavg();
  const startedAt = new Date().toISOString();
  const started = performance.now();
  const work = options.dir ? path.resolve(options.dir) : fs.mkdtempSync(path.join(os.tmpdir(), 'eventlake-bench-'));
  fs.mkdirSync(work, { recursive: true });
  const profileArgs = options.profile ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(options.profile)] : undefined;
  log(`N = ${options.events.toLocaleString('en-US')} events, work folder ${work}, load average ${loadStart.map((l) => l.toFixed(2)).join(' ')}`);
  const results: BenchResult[] = [];
  try {
    const lake = path.join(work, 'lake');
    const reuse = options.reuse === true && fs.existsSync(lake);
    if (options.reuse && !options.dir) throw new Error('--reuse needs --dir: the folder of an earlier run kept with --keep or --dir');
    let workload;
    if (reuse) {
      workload = existingWorkload(work, options.events);
      await checkLakeEvents(lake, options.events);
      log(`reusing the lake in ${work} (${options.events.toLocaleString('en-US')} events): no ingest figure`);
      results.push(notMeasured('ingest', 'commands/s', 'not measured: --reuse of a lake ingested by an earlier run'));
    } else {
      log('generating commands ...');
      workload = writeWorkload(work, options.events);
    }
    const config = writeBenchConfig(work);

    if (!reuse) {
      log(`ingest: ${workload.commands.toLocaleString('en-US')} commands (${Math.round(workload.bytes / 1024 / 1024)} MiB NDJSON) ...`);
      const ingest = await measureIngest({ lake, config, file: workload.file, scratch: work, expectedEvents: options.events, nodeArgs: profileArgs });
      results.push(...ingest.results);
    }

    log('rebuild: TypeScript projections, SQL projections, then DuckDB alone ...');
    const rebuild = await measureRebuild({ lake, config, scratch: work, events: options.events, nodeArgs: profileArgs });
    results.push(...rebuild.results);

    // Business time halfway through the log, between two commands (they are a minute apart).
    const asOf = new Date(Date.parse(workload.start) + Math.floor(options.events / 2) * 60_000 + 30_000).toISOString().replace('T', ' ').replace('Z', '');
    if (wanted('queries')) {
      log(`queries: views vs raw log, as of ${asOf} ...`);
      results.push(...(await measureQueries({ lake, asOf, reps: options.queryReps })).results);
    } else results.push(notMeasured('queries', 'ms', 'skipped (--skip queries)'));

    if (wanted('incremental')) {
      log(`incremental: +${workload.extraCommands.toLocaleString('en-US')} events, then one run of every job ...`);
      results.push(...(await measureIncremental({ lake, config, extraFile: workload.extraFile, extraCommands: workload.extraCommands, events: options.events, fullRebuildMs: rebuild.fullMs })).results);
    } else results.push(notMeasured('incremental run, +1% events', 's', 'skipped (--skip incremental)'));

    if (wanted('live-batch')) {
      log(`live batch: ${LIVE_BATCH} commands committed copy-on-write and with deletion vectors ...`);
      const after = options.events + (wanted('incremental') ? workload.extraCommands : 0);
      results.push(...(await measureLiveBatch({ lake, config, scratch: work, after })).results);
    } else results.push(notMeasured(`live batch (${LIVE_BATCH} commands): bytes written`, 'KiB', 'skipped (--skip live-batch)'), notMeasured(`live batch (${LIVE_BATCH} commands): time to commit`, 'ms', 'skipped (--skip live-batch)'));

    if (wanted('freshness')) {
      log(`freshness: eventlake serve, ${options.freshnessCommands} commands ...`);
      results.push(...(await measureFreshness({ lake, config, commands: options.freshnessCommands, maxSeconds: options.freshnessSeconds })).results);
    } else results.push(...['freshness p50', 'freshness p99', 'freshness p50 under load', 'freshness p99 under load'].map((name) => notMeasured(name, 'ms', 'skipped (--skip freshness)')));

    if (wanted('peer')) {
      const events = Math.min(options.events, options.peerEvents ?? 100_000);
      log(`peer: Emmett + PostgreSQL vs eventlake on ${events.toLocaleString('en-US')} events ...`);
      try {
        results.push(...(await measurePeer({ file: workload.file, events, scratch: work, lanes: options.peerLanes, batchSize: options.peerBatch, log })).results);
      } catch (error) {
        const reason = `the peer failed: ${(error as Error).message.split('\n').slice(0, 3).join(' ')}`;
        log(reason);
        results.push(notMeasured('peer ingest vs Emmett', 'commands/s', reason), notMeasured('peer projection vs Emmett', 'events/s', reason));
      }
    } else results.push(notMeasured('peer ingest vs Emmett', 'commands/s', 'skipped (--skip peer)'), notMeasured('peer projection vs Emmett', 'events/s', 'skipped (--skip peer)'));
  } finally {
    if (!options.keep && !options.dir) fs.rmSync(work, { recursive: true, force: true });
  }
  const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim();
  writeReport(
    { machine: machine(loadStart), events: options.events, commit: productCommit(), command, startedAt, durationSeconds: (performance.now() - started) / 1000, results },
    { json: options.json, resultsDir: path.resolve(options.resultsDir) },
  );
  log(`done in ${Math.round((performance.now() - started) / 1000)} s; chart and table in ${path.resolve(options.resultsDir)}`);
}

main().catch((error: Error) => {
  process.stderr.write(`bench failed: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
