import type { LakeLayout } from '../lake/layout.js';
import { readCommittedHead } from '../lake/log/committedHead.js';
import type { LogHead } from '../lake/log/logHead.js';
import { readLogMeta, type LogMeta } from '../lake/log/logMeta.js';
import { StreamCursor } from '../lake/log/streamCursor.js';
import type { ErrorPolicy } from './applyBatch.js';
import { JobPass, type JobRunResult, type RunMode } from './jobPass.js';
import { MemoryBudget, PassMemory } from './memoryBudget.js';
import { readBatch, type Job } from './jobSource.js';
import { refuseCheckpointsAhead } from './logConsumers.js';
import { SharedPassDuckdb } from './sharedPassDuckdb.js';

export type { Job } from './jobSource.js';
export type { JobRunResult, RunMode } from './jobPass.js';
export { checkpointAppId, sourceStreams } from './jobSource.js';

export interface RunOptions {
  mode?: RunMode;
  /** Overrides the job's `onError` policy. */
  onError?: ErrorPolicy;
  /** Called after each batch with the records read so far and the backlog, per pass. */
  onProgress?: (applied: number, backlog: number) => void;
  /** Bytes the jobs' row caches and DuckDB instances may hold together (memoryBudget.ts; default DEFAULT_MEMORY). */
  memory?: number;
}

/** Runs one job to the log's head as it was when the run started. */
export async function runJob(layout: LakeLayout, job: Job, options: RunOptions = {}): Promise<JobRunResult> {
  const [result] = await runJobsTogether(layout, [job], options);
  return result;
}

/**
 * Runs jobs to the log's head. Jobs that read the same streams from the same positions (every
 * job of a rebuild, and jobs kept in step by `run`) share one pass: each batch is read from the
 * log once and handed to all of them, instead of every job reading the whole log again. A job
 * that fails leaves the pass; the others finish, then the first failure is thrown.
 */
export async function runJobsTogether(layout: LakeLayout, jobs: Job[], options: RunOptions = {}): Promise<JobRunResult[]> {
  const [meta, head] = await Promise.all([readLogMeta(layout), readCommittedHead(layout)]);
  const memory = new PassMemory(new MemoryBudget(options.memory), jobs.length);
  // The jobs that merge batch by batch share one DuckDB instance (a rebuild's own one each).
  const shared = options.mode === 'rebuild' ? undefined : new SharedPassDuckdb(memory, jobs.length);
  try {
    return await runPasses(layout, jobs, memory, options, meta, head, shared);
  } finally {
    await shared?.close();
  }
}

async function runPasses(layout: LakeLayout, jobs: Job[], memory: PassMemory, options: RunOptions, meta: LogMeta | null, head: LogHead | null, shared: SharedPassDuckdb | undefined): Promise<JobRunResult[]> {
  // Each job takes its own lock, DuckDB (or connection) and snapshot: side by side (one after
  // the other took ~0.1 s a job, most of a 1M-event incremental run's first second).
  const started = await Promise.allSettled(jobs.map((job) => JobPass.start(layout, job, meta?.partitions ?? 1, memory, options, shared)));
  const passes = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const refused = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (refused) {
    await Promise.all(passes.map((p) => p.abort(refused.reason as Error)));
    throw refused.reason;
  }
  try {
    await shared?.fit();
    for (const pass of passes) await pass.replaySealed(layout);
    // A start past the head (a checkpoint, or sealed files) means the log lost commits that were
    // read: going on from there would skip or reuse sequences (once: "applied 0", lag 0).
    for (const pass of passes) refuseCheckpointsAhead(`job ${pass.job.name}`, Object.fromEntries(pass.streams.map((s) => [s, pass.startAfter(s)])), head);
  } catch (error) {
    await Promise.all(passes.map((p) => p.abort(error as Error)));
    throw error;
  }
  const failures: Error[] = [];
  const results = new Map<Job, JobRunResult>();
  const finish = async (pass: JobPass) => {
    try {
      results.set(pass.job, await pass.finish());
    } catch (error) {
      failures.push(error as Error);
    }
  };
  const read = (group: JobPass[]) => (head && meta ? readTogether(layout, group, head, options, failures) : Promise.resolve(group));
  const finishGroup = async (survivors: JobPass[]) => {
    if (survivors.some((p) => p.stagesBatches)) for (const pass of survivors) await finish(pass);
    else await Promise.all(survivors.map(finish));
  };
  const groups = groupByStart(passes);
  if (passes.some((p) => p.stagesBatches)) {
    // The groups (the command log's jobs and the event log's) read side by side: one after the
    // other left a core idle while a lone job, command_status, waited on its DuckDB. A staged
    // pass (rebuild, first run) folds its table in `finish` with the memory of the passes closed
    // before it, so each group's staged passes are parked once it has read (their staged rows
    // on disk), and once all have read they fold one at a time; the groups holding rows in the
    // JS heap first, so that no other group's fold runs beside rows that wait for their own.
    // A lone group's first pass folds at once: parking it would only spill what it reads back.
    const waits = (i: number) => groups.length > 1 || i > 0;
    const survivors = await Promise.all(groups.map(async (group) => {
      const done = await read(group);
      if (done.some((p) => p.stagesBatches)) for (const [i, pass] of done.entries()) if (waits(i)) await pass.park();
      return done;
    }));
    const cached = (group: JobPass[]) => group.reduce((sum, p) => sum + p.cachedBytes, 0);
    for (const group of survivors.sort((a, b) => cached(b) - cached(a))) await finishGroup(group);
  } else await Promise.all(groups.map(async (group) => finishGroup(await read(group))));
  if (failures.length > 0) throw failures[0];
  return jobs.map((job) => results.get(job)!);
}

/** Passes that start at the same position of the same streams. */
function groupByStart(passes: JobPass[]): JobPass[][] {
  const groups = new Map<string, JobPass[]>();
  for (const pass of passes) {
    const key = pass.streams.map((s) => `${s}:${pass.startAfter(s)}`).join(',');
    groups.set(key, [...(groups.get(key) ?? []), pass]);
  }
  return [...groups.values()];
}

/**
 * Feeds every batch of the group's streams to each pass; returns the passes that did not fail.
 * The passes take a batch at once, and the next batch is read meanwhile: while one pass waits on
 * its DuckDB (loading rows, writing Parquet), another runs its TypeScript, so both cores work.
 */
async function readTogether(layout: LakeLayout, group: JobPass[], head: LogHead, options: RunOptions, failures: Error[]): Promise<JobPass[]> {
  const { streams } = group[0];
  const cursors = new Map(streams.map((s) => [s, new StreamCursor(layout.streamDir(s), group[0].startAfter(s))]));
  const backlog = streams.reduce((sum, s) => sum + Math.max(0, head.streams[s].sequence - group[0].startAfter(s)), 0);
  const perStream = Math.max(1, Math.ceil(Math.min(...group.map((p) => p.job.batchSize)) / streams.length));
  let active = group;
  let read = 0;
  let next = prefetch(streams, cursors, perStream, head);
  for (;;) {
    const batch = await next.catch(async (error: Error) => {
      // A damaged log: every pass still reading ends with that error (its lock released).
      failures.push(error);
      await Promise.all(active.map((pass) => pass.abort(error)));
      return null;
    });
    if (batch === null) return [];
    if (batch.lines.length === 0 || active.length === 0) break;
    next = prefetch(streams, cursors, perStream, head);
    if (active.length === 1) batch.records.readAlone();
    // A rebuild's passes take the batch a record at a time, each record parsed once for all of them.
    const intakes = active.map((pass) => pass.intake(batch));
    const errors = intakes.some(Boolean) ? batch.records.feed(intakes) : [];
    const applying = active.map((pass, i) => intakes[i]?.end(errors[i]) ?? pass.apply(batch));
    // Each pass took its records synchronously, so the shared parsed copy can go now instead of
    // living through the DuckDB work (a pass that asked again would just parse again).
    batch.records.release();
    const outcomes = await Promise.allSettled(applying);
    const failed = new Set<JobPass>();
    for (const [i, outcome] of outcomes.entries()) {
      if (outcome.status === 'fulfilled') continue;
      failures.push(outcome.reason as Error);
      failed.add(active[i]);
      await active[i].abort(outcome.reason as Error);
    }
    active = active.filter((p) => !failed.has(p));
    read += batch.lines.length;
    options.onProgress?.(read, backlog);
  }
  await next.catch(() => undefined);
  return active;
}

/**
 * The next batch, read while the current one is applied. Its failure (a damaged log) is handled
 * where it is awaited; marked handled now, or it would be an unhandled rejection that killed the
 * process mid-batch, leaving the jobs' locks behind.
 */
function prefetch(...args: Parameters<typeof readBatch>): ReturnType<typeof readBatch> {
  const batch = readBatch(...args);
  batch.catch(() => undefined);
  return batch;
}
