import path from 'node:path';
import type { AddFile } from '../lake/delta/actions.js';
import { commitVersion, loadSnapshot as loadTableSnapshot, snapshotFilePaths } from '../lake/delta/deltaTable.js';
import { applyCommit, type Snapshot } from '../lake/delta/snapshot.js';
import { Duck } from '../lake/duckdb.js';
import { failpoint } from '../lake/failpoints.js';
import type { LakeLayout } from '../lake/layout.js';
import { acquireLock } from '../lake/lock.js';
import { readHead } from '../lake/log/logHead.js';
import { readLogMeta } from '../lake/log/logMeta.js';
import { StreamCursor } from '../lake/log/streamCursor.js';
import { batchApplier } from './applyBatch.js';
import { appendCommit, lastApplied, overwriteCommit, type Applied } from './jobCommits.js';
import { dataFileWriter } from './dataFileWriter.js';
import { checkpointAppId, readBatch, sourceStreams, type Job } from './jobSource.js';

export type { Job } from './jobSource.js';
export { checkpointAppId, sourceStreams } from './jobSource.js';

export interface JobRunResult {
  job: string;
  mode: RunMode;
  /** Log records applied by this run. */
  applied: number;
  /** Delta commits made. */
  commits: number;
  /** The table version after the run (-1: the table does not exist yet). */
  tableVersion: number;
}

/** incremental: apply what is new since the checkpoint. rebuild: from the start of the log. */
export type RunMode = 'incremental' | 'rebuild';

export interface RunOptions {
  mode?: RunMode;
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
 * whole new one in one step and never see a half-built table.
 */
export async function runJob(layout: LakeLayout, job: Job, options: RunOptions = {}): Promise<JobRunResult> {
  const mode = options.mode ?? 'incremental';
  const lock = await acquireLock(layout.lockFile(`job-${job.name}`), `job ${job.name}`);
  const duck = await Duck.open();
  try {
    const tableDir = layout.tableDir(job.output);
    let snapshot = await loadTableSnapshot(tableDir);
    const result: JobRunResult = { job: job.name, mode, applied: 0, commits: 0, tableVersion: snapshot.version };
    const [meta, head] = await Promise.all([readLogMeta(layout), readHead(layout.headFile)]);
    if (!meta || !head) return result;
    const rebuild = mode === 'rebuild';
    const streams = sourceStreams(job, meta.partitions);
    const applied: Applied = rebuild ? {} : await lastApplied(tableDir, snapshot);
    const cursors = new Map(streams.map((s) => [s, new StreamCursor(layout.streamDir(s), rebuild ? 0 : checkpointOf(job, snapshot, s))]));
    const backlog = streams.reduce((sum, s) => sum + Math.max(0, head.streams[s].sequence - cursors.get(s)!.nextSequence + 1), 0);
    // The state kind reads earlier rows from these; a rebuild starts from nothing.
    const knownFiles = rebuild ? [] : snapshotFilePaths(tableDir, snapshot);
    const applier = batchApplier(duck, job.definition, knownFiles);
    const writeFile = dataFileWriter(duck, tableDir, job.definition.columns);
    const rebuilt: AddFile[] = [];
    const perStream = Math.max(1, Math.ceil(job.batchSize / streams.length));
    for (let batch = await readBatch(streams, cursors, perStream, head); batch.lines.length > 0; batch = await readBatch(streams, cursors, perStream, head)) {
      await applier.apply(batch.lines);
      const add = await writeFile();
      failpoint('projection.afterDataFile');
      for (const [stream, position] of batch.advanced) applied[stream] = position;
      if (add) knownFiles.push(path.join(tableDir, add.path));
      result.applied += batch.lines.length;
      if (rebuild) {
        if (add) rebuilt.push(add);
      } else {
        const actions = appendCommit(job, snapshot, add, batch.advanced, applied);
        await commitVersion(tableDir, snapshot.version + 1, actions);
        failpoint('projection.afterCommit');
        snapshot = applyCommit(snapshot, snapshot.version + 1, actions);
        result.commits += 1;
      }
      options.onProgress?.(result.applied, backlog);
    }
    if (rebuild) {
      const actions = overwriteCommit(job, snapshot, rebuilt, applied);
      await commitVersion(tableDir, snapshot.version + 1, actions);
      snapshot = applyCommit(snapshot, snapshot.version + 1, actions);
      result.commits += 1;
    }
    result.tableVersion = snapshot.version;
    return result;
  } finally {
    duck.close();
    await lock.release();
  }
}

function checkpointOf(job: Job, snapshot: Snapshot, stream: string): number {
  return snapshot.txns.get(checkpointAppId(job, stream))?.version ?? 0;
}
