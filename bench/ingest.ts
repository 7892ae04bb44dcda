import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ingestNdjson } from '../ingest/fileIngest.js';
import { Ingester } from '../ingest/ingester.js';
import { LakeLayout } from '../lake/layout.js';
import { loadConfig } from '../projections/jobsConfig.js';
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
}

/** Child side: `eventlake ingest FILE` in-process, as the CLI runs it (same functions, same group size). */
export async function ingestFile(input: IngestInput): Promise<IngestTimes> {
  const config = await loadConfig({ config: input.config, lake: input.lake });
  const layout = new LakeLayout(config.lakeDir);
  let t = performance.now();
  const ingester = await Ingester.open(layout, config.registry, { partitions: config.partitions });
  const openMs = performance.now() - t;
  t = performance.now();
  const summary = await ingestNdjson(ingester, fs.createReadStream(input.file), path.basename(input.file), { groupSize: input.groupSize ?? GROUP_SIZE });
  const ingestMs = performance.now() - t;
  t = performance.now();
  await ingester.close();
  const closeMs = performance.now() - t;
  const commands = summary.accepted + summary.rejected + summary.duplicates;
  return { commands, accepted: summary.accepted, rejected: summary.rejected, events: summary.events, openMs, ingestMs, closeMs };
}

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

/** Figure 1: commands/s from NDJSON to durable events, next to raw append+fdatasync of the same bytes. */
export async function measureIngest(options: { lake: string; config: string; file: string; scratch: string; expectedEvents: number; nodeArgs?: string[] }): Promise<IngestFigure> {
  const { result: times, maxRssBytes } = await runChild<IngestTimes>('ingest', { lake: options.lake, config: options.config, file: options.file }, { nodeArgs: [...ingestHeap(options.expectedEvents), ...(options.nodeArgs ?? [])] });
  if (times.events !== options.expectedEvents || times.rejected !== 0) {
    throw new Error(`the workload should make ${options.expectedEvents} events with no refusals; it made ${times.events} events and ${times.rejected} refusals`);
  }
  const raw = rawAppend(options.file, path.join(options.scratch, 'raw-append.ndjson'), GROUP_SIZE);
  const ours = times.commands / (times.ingestMs / 1000);
  const ceiling = raw.lines / (raw.ms / 1000);
  return {
    times,
    maxRssBytes,
    results: [
      {
        name: 'ingest',
        value: ours,
        unit: 'commands/s',
        baseline: ceiling,
        baselineLabel: `raw append + fdatasync of the same NDJSON bytes, ${GROUP_SIZE} lines per fdatasync`,
        ratio: ours / ceiling,
        ratioMeaning: 'ours / raw append',
        goal: '>= 100k commands/s and ratio >= 0.33 (within 3x)',
        met: ours >= 100_000 && ours / ceiling >= 1 / 3,
        note: `${times.events.toLocaleString('en-US')} events; ingest process peak RSS ${Math.round(maxRssBytes / 1024 / 1024)} MiB; close (last commit + write-model snapshot) ${Math.round(times.closeMs)} ms, not counted`,
      },
    ],
  };
}
