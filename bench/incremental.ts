import { runChild } from './childProcess.js';
import { ingestHeap, type IngestTimes } from './ingest.js';
import type { JobsInput, JobsTimes } from './rebuild.js';
import type { BenchResult } from './report.js';

const kib = (bytes: number) => Math.round(bytes / 1024).toLocaleString('en-US');

/**
 * Figure 3: ingest 1% more commands on top of N, then one incremental run of every job (what
 * `eventlake run` does on a schedule), next to the full rebuild of the same jobs over N.
 */
export async function measureIncremental(options: { lake: string; config: string; extraFile: string; extraCommands: number; events: number; fullRebuildMs: number }): Promise<{ results: BenchResult[]; run: JobsTimes }> {
  const { result: ingested } = await runChild<IngestTimes>('ingest', { lake: options.lake, config: options.config, file: options.extraFile }, { nodeArgs: ingestHeap(options.events) });
  if (ingested.events !== options.extraCommands) throw new Error(`the extra commands should make ${options.extraCommands} events; they made ${ingested.events}`);
  const { result: run } = await runChild<JobsTimes>('rebuild', { lake: options.lake, config: options.config, mode: 'incremental', buildViews: true } satisfies JobsInput);
  const seconds = run.totalMs / 1000;
  const full = options.fullRebuildMs / 1000;
  return {
    run,
    results: [
      {
        name: 'incremental run, +1% events',
        value: seconds,
        unit: 's',
        baseline: full,
        baselineLabel: 'full rebuild of the same read models over N',
        ratio: seconds / full,
        ratioMeaning: 'incremental / full rebuild (lower is better)',
        goal: '< 0.05',
        met: seconds / full < 0.05,
        note: `${ingested.events} new events, ${run.jobs.length} jobs, ${run.jobs.reduce((sum, j) => sum + j.commits, 0)} commits; views database build ${Math.round(run.viewsMs ?? 0)} ms (not counted); per job commits / KiB written / KiB of existing files rewritten: ${run.jobs.map((j) => `${j.job} ${j.commits} / ${kib(j.bytesWritten)} / ${kib(j.bytesRewritten)}`).join(', ')}`,
      },
    ],
  };
}
