import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ingestNdjson } from '../ingest/fileIngest.js';
import { DEFAULT_DECIDERS } from '../ingest/deciderPool.js';
import { Ingester } from '../ingest/ingester.js';
import { LakeLayout } from '../lake/layout.js';
import { loadConfig } from '../projections/jobsConfig.js';
import { jsonFloor } from './baselines/jsonFloor.js';
import { rawAppend } from './baselines/rawAppend.js';
import { runChild } from './childProcess.js';
import type { BenchResult } from './report.js';

/** Lines decided per group commit: the CLI's default, and the raw baseline's chunk size. */
export const GROUP_SIZE = 10_000;

export interface IngestInput {
  lake: string;
  config: string;
  file: string;
  groupSize?: number;
  /** Decider threads (FileIngestOptions.deciders); the CLI's default when absent. */
  deciders?: number;
}

export interface IngestTimes {
  commands: number;
  accepted: number;
  rejected: number;
  events: number;
  /** Open (lock, recovery, write-model replay) until the log is opened for writing. */
  openMs: number;
  /** First line read until everything is durable (validation, decide, append, fsync). */
  ingestMs: number;
  /** close(): last commit and the write-model snapshot. */
  closeMs: number;
  /** CPU time of the whole process (every thread: deciders, GC, file system) during `ingestMs`. */
  cpuMs: number;
  /**
   * CPU time of the ingester's own thread during `ingestMs` (Linux; null elsewhere): with decider
   * threads, the routing, merging and staging thread that every command passes through.
   */
  mainThreadCpuMs: number | null;
  deciders: number;
}

/** Child side: `eventlake ingest FILE` in-process, as the CLI runs it (same functions, same group size). */
export async function ingestFile(input: IngestInput): Promise<IngestTimes> {
  const config = await loadConfig({ config: input.config, lake: input.lake });
  const layout = new LakeLayout(config.lakeDir);
  let t = performance.now();
  const ingester = await Ingester.open(layout, config.registry, { partitions: config.partitions });
  const openMs = performance.now() - t;
  t = performance.now();
  const cpu = process.cpuUsage();
  const mainThreadCpu = thisThreadCpuMs();
  const deciders = input.deciders ?? DEFAULT_DECIDERS;
  const summary = await ingestNdjson(ingester, fs.createReadStream(input.file), path.basename(input.file), { groupSize: input.groupSize ?? GROUP_SIZE, deciders });
  const ingestMs = performance.now() - t;
  const used = process.cpuUsage(cpu);
  const mainThreadCpuAfter = thisThreadCpuMs();
  t = performance.now();
  await ingester.close();
  const closeMs = performance.now() - t;
  const commands = summary.accepted + summary.rejected + summary.duplicates;
  return { commands, accepted: summary.accepted, rejected: summary.rejected, events: summary.events, openMs, ingestMs, closeMs, cpuMs: (used.user + used.system) / 1000, mainThreadCpuMs: mainThreadCpu === null || mainThreadCpuAfter === null ? null : mainThreadCpuAfter - mainThreadCpu, deciders };
}

/** User + system CPU time of the calling thread so far, from /proc (10 ms ticks); null off Linux. */
function thisThreadCpuMs(): number | null {
  try {
    // Fields after the parenthesised command name; utime and stime are the stat file's 14th and 15th.
    const fields = fs.readFileSync('/proc/thread-self/stat', 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

/** Linux's USER_HZ (`getconf CLK_TCK`), 100 on every platform Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * Node flags for an ingest child over a lake of `events` events. The ingester used to keep every
 * command id on the JS heap (0.7 KB per command at 1M), past Node's default limit beyond 4M
 * commands; ids and aggregate ids now live off the heap (peak RSS ~1.05 GiB at 10M, the same with
 * or without this flag), so it is kept only so that figures stay comparable with older runs.
 */
export function ingestHeap(events: number): string[] {
  return [`--max-old-space-size=${Math.max(4096, Math.ceil(events / 1_000_000) * 1024)}`];
}

export interface IngestFigure {
  results: BenchResult[];
  times: IngestTimes;
  maxRssBytes: number;
}

/** Figure 1: commands/s from NDJSON to durable events, with 1 and 2 deciders, next to the JSON floor of the same lines. */
export async function measureIngest(options: { lake: string; config: string; file: string; scratch: string; expectedEvents: number; nodeArgs?: string[] }): Promise<IngestFigure> {
  const nodeArgs = [...ingestHeap(options.expectedEvents), ...(options.nodeArgs ?? [])];
  const ingestInto = async (lake: string, deciders: number) => {
    const outcome = await runChild<IngestTimes>('ingest', { lake, config: options.config, file: options.file, deciders }, { nodeArgs });
    const times = outcome.result;
    if (times.events !== options.expectedEvents || times.rejected !== 0) {
      throw new Error(`the workload should make ${options.expectedEvents} events with no refusals; ${deciders} decider(s) made ${times.events} events and ${times.rejected} refusals`);
    }
    return outcome;
  };
  // The lake the later figures read is the one decider's; the two deciders' goes to scratch.
  const one = await ingestInto(options.lake, 1);
  const twoLake = path.join(options.scratch, 'lake-2-deciders');
  const two = await ingestInto(twoLake, 2);
  fs.rmSync(twoLake, { recursive: true, force: true });
  const floor = jsonFloor(options.file);
  const raw = rawAppend(options.file, path.join(options.scratch, 'raw-append.ndjson'), GROUP_SIZE);
  const floorRate = floor.lines / (floor.ms / 1000);
  const rawRate = raw.lines / (raw.ms / 1000);
  const row = (name: string, { result: times, maxRssBytes }: { result: IngestTimes; maxRssBytes: number }): BenchResult => {
    const ours = times.commands / (times.ingestMs / 1000);
    return {
      name,
      value: ours,
      unit: 'commands/s',
      baseline: floorRate,
      baselineLabel: 'JSON floor: JSON.parse + JSON.stringify of the same NDJSON lines on one thread',
      ratio: ours / floorRate,
      ratioMeaning: 'ours / JSON floor',
      goal: '>= 0.5 of the JSON floor',
      met: ours / floorRate >= 0.5,
      note:
        `${times.deciders} decider thread(s); ${times.events.toLocaleString('en-US')} events; CPU ${((times.cpuMs * 1000) / times.commands).toFixed(1)} us per command (all threads)${times.mainThreadCpuMs === null ? '' : `, ${((times.mainThreadCpuMs * 1000) / times.commands).toFixed(1)} us on the ingester's thread`}; ` +
        `ingest process peak RSS ${Math.round(maxRssBytes / 1024 / 1024)} MiB; close (last commit + write-model snapshot) ${Math.round(times.closeMs)} ms, not counted; ` +
        `for information, raw append + fdatasync of the same bytes (${GROUP_SIZE} lines per fdatasync) runs at ${Math.round(rawRate).toLocaleString('en-US')} lines/s`,
    };
  };
  return { times: one.result, maxRssBytes: one.maxRssBytes, results: [row('ingest', one), row('ingest, 2 deciders', two)] };
}
