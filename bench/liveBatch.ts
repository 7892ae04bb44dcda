import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { sampleNdjson } from '../domains/sampleCommands.js';
import { LakeLayout } from '../lake/layout.js';
import { runJobsTogether } from '../projections/jobRunner.js';
import { loadConfig } from '../projections/jobsConfig.js';
import { runChild } from './childProcess.js';
import type { IngestTimes } from './ingest.js';
import type { BenchResult } from './report.js';
import { WORKLOAD_SEED, WORKLOAD_START } from './workload.js';

/** Commands per live-sized batch: what a service commits after a moment of traffic. */
export const LIVE_BATCH = 100;

export interface LiveBatchInput {
  lake: string;
  config: string;
}

export interface LiveBatchTimes {
  /** The pass over every job (they run side by side), one commit each. */
  ms: number;
  jobs: { job: string; commits: number; bytesWritten: number; bytesRewritten: number }[];
}

/** Child side: one incremental run of every job, its time and what its commits wrote and rewrote. */
export async function runLiveBatch(input: LiveBatchInput): Promise<LiveBatchTimes> {
  const config = await loadConfig({ config: input.config, lake: input.lake });
  const started = performance.now();
  const results = await runJobsTogether(new LakeLayout(config.lakeDir), config.jobs);
  const ms = performance.now() - started;
  return { ms, jobs: results.map((r) => ({ job: r.job, commits: r.commits, bytesWritten: r.bytesWritten, bytesRewritten: r.bytesRewritten })) };
}

/**
 * Figure: a live-sized batch (100 commands) committed on the N-event lake, once copy-on-write
 * (the default: the files holding replaced rows are rewritten) and once with deletion vectors (a
 * copy of the lake opted in: only new rows and small bitmaps are written). Each copy first commits
 * one batch untimed (warm caches; the deletion-vector copy takes the feature in that commit), then
 * the timed one. Reported: bytes written per batch and the pass's time, deletion vectors against
 * copy-on-write.
 */
export async function measureLiveBatch(options: { lake: string; config: string; scratch: string; after: number }): Promise<{ results: BenchResult[] }> {
  const batches = nextCommands(options.after, 2 * LIVE_BATCH, options.scratch);
  const measured: Record<'cow' | 'dv', LiveBatchTimes> = {} as never;
  for (const mode of ['cow', 'dv'] as const) {
    const lake = path.join(options.scratch, `live-${mode}`);
    fs.cpSync(options.lake, lake, { recursive: true });
    const config = path.join(options.scratch, `live-${mode}.config.json`);
    fs.writeFileSync(config, JSON.stringify({ ...JSON.parse(fs.readFileSync(options.config, 'utf8')), ...(mode === 'dv' ? { deletionVectors: true } : {}) }));
    for (const [i, file] of batches.entries()) {
      await runChild<IngestTimes>('ingest', { lake, config, file });
      const { result } = await runChild<LiveBatchTimes>('liveBatch', { lake, config } satisfies LiveBatchInput);
      if (i === batches.length - 1) measured[mode] = result;
    }
    fs.rmSync(lake, { recursive: true, force: true });
  }
  const bytes = (t: LiveBatchTimes) => t.jobs.reduce((sum, j) => sum + j.bytesWritten, 0);
  const rewritten = (t: LiveBatchTimes) => t.jobs.reduce((sum, j) => sum + j.bytesRewritten, 0);
  const perJob = (t: LiveBatchTimes) => t.jobs.map((j) => `${j.job} ${kib(j.bytesWritten)} (rewritten ${kib(j.bytesRewritten)})`).join(', ');
  const { cow, dv } = measured;
  return {
    results: [
      {
        name: `live batch (${LIVE_BATCH} commands): bytes written`,
        value: bytes(dv) / 1024,
        unit: 'KiB',
        baseline: bytes(cow) / 1024,
        baselineLabel: 'the same batch copy-on-write (default)',
        ratio: bytes(dv) / bytes(cow),
        ratioMeaning: 'deletion vectors / copy-on-write (lower is better)',
        goal: null,
        met: null,
        note: `one commit per job; copy-on-write rewrote ${kib(rewritten(cow))} of existing files. Copy-on-write per job: ${perJob(cow)}. Deletion vectors per job: ${perJob(dv)}`,
      },
      {
        name: `live batch (${LIVE_BATCH} commands): time to commit`,
        value: dv.ms,
        unit: 'ms',
        baseline: cow.ms,
        baselineLabel: 'the same batch copy-on-write (default)',
        ratio: dv.ms / cow.ms,
        ratioMeaning: 'deletion vectors / copy-on-write (lower is better)',
        goal: null,
        met: null,
        note: `one pass of all ${cow.jobs.length} jobs side by side (each one commit), process start and views refresh not counted`,
      },
    ],
  };
}

/** Files of the workload's next commands after the first `after`, in batches of LIVE_BATCH. */
function nextCommands(after: number, count: number, dir: string): string[] {
  const lines = [...sampleNdjson({ count: after + count, seed: WORKLOAD_SEED, invalidShare: 0, start: WORKLOAD_START, stepSeconds: 60 })].slice(after);
  const files: string[] = [];
  for (let i = 0; i < lines.length; i += LIVE_BATCH) {
    const file = path.join(dir, `live-${i / LIVE_BATCH}.ndjson`);
    fs.writeFileSync(file, `${lines.slice(i, i + LIVE_BATCH).join('\n')}\n`);
    files.push(file);
  }
  return files;
}

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(bytes < 10_240 ? 1 : 0)} KiB`;
}
