import type { AddFile } from '../lake/delta/actions.js';
import { commitVersion, loadSnapshot as loadTableSnapshot, localFiles, snapshotLocalFiles } from '../lake/delta/deltaTable.js';
import { applyCommit, type Snapshot } from '../lake/delta/snapshot.js';
import { Duck } from '../lake/duckdb.js';
import { failpoint } from '../lake/failpoints.js';
import type { LakeLayout } from '../lake/layout.js';
import { acquireLock } from '../lake/lock.js';
import { logger } from '../lake/logger.js';
import { joinLocation } from '../lake/storage/locations.js';
import { readHead, type LogHead } from '../lake/log/logHead.js';
import { readLogMeta } from '../lake/log/logMeta.js';
import { StreamCursor } from '../lake/log/streamCursor.js';
import { batchApplier, PoisonEventError, type ErrorPolicy, type Poisoned } from './applyBatch.js';
import { dataFileWriter } from './dataFileWriter.js';
import { recordDeadLetter } from './deadLetters.js';
import { appendCommit, builtVersion, lastApplied, overwriteCommit, type Applied } from './jobCommits.js';
import { checkpointAppId, linesOfEventTypes, readBatch, sourceStreams, type Job } from './jobSource.js';
import { recordJobRun } from './jobState.js';
import { maintainTable } from './tableMaintenance.js';

export type { Job } from './jobSource.js';
export { checkpointAppId, sourceStreams } from './jobSource.js';

export interface JobRunResult {
  job: string;
  mode: RunMode;
  /** Log records applied by this run. */
  applied: number;
  /** Delta commits made. */
  commits: number;
  /** Records the projection threw on and skipped (dead letters). */
  deadLetters: number;
  /** The table version after the run (-1: the table does not exist yet). */
  tableVersion: number;
}

/** incremental: apply what is new since the checkpoint. rebuild: from the start of the log. */
export type RunMode = 'incremental' | 'rebuild';

export interface RunOptions {
  mode?: RunMode;
  /** Overrides the policy: the job's `onError` for incremental runs, `halt` for rebuilds. */
  onError?: ErrorPolicy;
  /** Called after each batch with the records applied so far and the backlog at start. */
  onProgress?: (applied: number, backlog: number) => void;
}

/**
 * Runs one job to the log's head as it was when the run started.
 *
 * Incremental: each batch is one Delta commit holding the new data file and, as `txn` actions,
 * the log position per stream, so output and checkpoint are one atomic step: a crash anywhere
 * replays at most the uncommitted batch, and never applies one twice.
 *
 * Rebuild: batches are written beside the live files without committing; one final commit then
 * removes the live files and adds the new ones, so readers switch from the old model to the
 * whole new one in one step and never see a half-built table. A table built by another version
 * of the projection is always rebuilt.
 */
export async function runJob(layout: LakeLayout, job: Job, options: RunOptions = {}): Promise<JobRunResult> {
  const lock = await acquireLock(layout.lockFile(`job-${job.name}`), `job ${job.name}`);
  const duck = await Duck.open();
  try {
    const result = await runLocked(layout, job, duck, options);
    await recordJobRun(layout, job.name, null);
    return result;
  } catch (error) {
    await recordJobRun(layout, job.name, error as Error);
    throw error;
  } finally {
    duck.close();
    await lock.release();
  }
}

async function runLocked(layout: LakeLayout, job: Job, duck: Duck, options: RunOptions): Promise<JobRunResult> {
  const tableDir = layout.tableDir(job.output);
  const snapshot = await loadTableSnapshot(tableDir);
  const mode = chooseMode(job, snapshot, options.mode ?? 'incremental');
  const result: JobRunResult = { job: job.name, mode, applied: 0, commits: 0, deadLetters: 0, tableVersion: snapshot.version };
  const [meta, head] = await Promise.all([readLogMeta(layout), readHead(layout.headFile)]);
  if (!meta || !head) return result;
  const run: Run = { layout, job, duck, tableDir, snapshot, head, streams: sourceStreams(job, meta.partitions), result, options };
  if (mode === 'rebuild') await rebuild(run);
  else await applyIncrementally(run);
  result.tableVersion = run.snapshot.version;
  return result;
}

function chooseMode(job: Job, snapshot: Snapshot, requested: RunMode): RunMode {
  const built = builtVersion(snapshot);
  if (requested === 'incremental' && built !== null && built !== job.definition.version) {
    logger.warn({ job: job.name, table: built, code: job.definition.version }, 'projection version changed: rebuilding the read model');
    return 'rebuild';
  }
  return requested;
}

interface Run {
  layout: LakeLayout;
  job: Job;
  duck: Duck;
  tableDir: string;
  snapshot: Snapshot;
  head: LogHead;
  streams: string[];
  result: JobRunResult;
  options: RunOptions;
}

async function applyIncrementally(run: Run): Promise<void> {
  const { job, tableDir } = run;
  const applied = await lastApplied(tableDir, run.snapshot);
  const knownFiles = await snapshotLocalFiles(tableDir, run.snapshot);
  await forEachBatch(run, (s) => run.snapshot.txns.get(checkpointAppId(job, s))?.version ?? 0, knownFiles, run.options.onError ?? job.onError, async (add, advanced) => {
    for (const [stream, position] of advanced) applied[stream] = position;
    const actions = appendCommit(job, run.snapshot, add, advanced, applied);
    await commitVersion(tableDir, run.snapshot.version + 1, actions);
    failpoint('projection.afterCommit');
    run.snapshot = applyCommit(run.snapshot, run.snapshot.version + 1, actions);
    run.result.commits += 1;
  });
  if (run.result.commits > 0) run.snapshot = await maintainTable(run.duck, tableDir, job, run.snapshot);
}

async function rebuild(run: Run): Promise<void> {
  const applied: Applied = {};
  const rebuilt: AddFile[] = [];
  await forEachBatch(run, () => 0, [], run.options.onError ?? 'halt', async (add, advanced) => {
    for (const [stream, position] of advanced) applied[stream] = position;
    if (add) rebuilt.push(add);
  });
  const actions = overwriteCommit(run.job, run.snapshot, rebuilt, applied);
  await commitVersion(run.tableDir, run.snapshot.version + 1, actions);
  run.snapshot = applyCommit(run.snapshot, run.snapshot.version + 1, actions);
  run.result.commits += 1;
  // A rebuild writes a file per batch: compact now, so the new model starts as one file per table.
  run.snapshot = await maintainTable(run.duck, run.tableDir, run.job, run.snapshot);
}

type BatchDone = (add: AddFile | null, advanced: Map<string, { sequence: number; timestamp: string | null }>) => Promise<void>;

/** Reads batches from every stream after `from(stream)`, applies and writes each, then calls `done`. */
async function forEachBatch(run: Run, from: (stream: string) => number, knownFiles: string[], policy: ErrorPolicy, done: BatchDone): Promise<void> {
  const { job, duck, tableDir, head, streams, result } = run;
  const cursors = new Map(streams.map((s) => [s, new StreamCursor(run.layout.streamDir(s), from(s))]));
  const backlog = streams.reduce((sum, s) => sum + Math.max(0, head.streams[s].sequence - from(s)), 0);
  const applier = batchApplier(duck, job.definition, knownFiles, policy, job.upcast);
  const writeFile = dataFileWriter(duck, tableDir, job.definition.columns);
  const perStream = Math.max(1, Math.ceil(job.batchSize / streams.length));
  for (let batch = await readBatch(streams, cursors, perStream, head); batch.lines.length > 0; batch = await readBatch(streams, cursors, perStream, head)) {
    const poisoned = await applier.apply(linesOfEventTypes(batch.lines, job.definition.eventTypes)).catch(async (error: unknown) => {
      if (error instanceof PoisonEventError) await deadLetter(run, error.poisoned, 'halted');
      throw error;
    });
    for (const p of poisoned) await deadLetter(run, p, 'skipped');
    result.deadLetters += poisoned.length;
    const add = await writeFile();
    failpoint('projection.afterDataFile');
    if (add) knownFiles.push(...(await localFiles([joinLocation(tableDir, add.path)])));
    await done(add, batch.advanced);
    result.applied += batch.lines.length;
    run.options.onProgress?.(result.applied, backlog);
  }
}

function deadLetter(run: Run, { record, error }: Poisoned, action: 'skipped' | 'halted'): Promise<void> {
  const stream = run.job.definition.source === 'commands' ? 'commands' : `p${record.partition}`;
  logger.warn({ job: run.job.name, stream, sequence: record.sequence, error: error.message, action }, 'dead letter');
  return recordDeadLetter(run.layout, {
    job: run.job.name,
    stream,
    sequence: record.sequence,
    eventId: record.eventId ?? record.commandId ?? null,
    eventType: record.eventType ?? null,
    error: error.message,
    at: new Date().toISOString(),
    action,
  });
}
