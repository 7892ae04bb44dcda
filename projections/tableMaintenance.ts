import type { Action } from '../lake/delta/actions.js';
import { commitVersion, listLog, snapshotLocalFiles, writeCheckpoint } from '../lake/delta/deltaTable.js';
import { applyCommit, type Snapshot } from '../lake/delta/snapshot.js';
import { sqlIdent, sqlPathList, type Duck } from '../lake/duckdb.js';
import { logger } from '../lake/logger.js';
import { dataFileWriter } from './dataFileWriter.js';
import type { Job } from './jobSource.js';

/** Compact once a table has this many data files (each incremental batch adds one). */
export const COMPACT_AT_FILES = 24;
/** Write a Delta checkpoint every this many commits, as Spark does, so replay stays short. */
export const CHECKPOINT_EVERY = 10;

/** Housekeeping after a run: compaction of small files, then a checkpoint when one is due. */
export async function maintainTable(duck: Duck, tableDir: string, job: Job, snapshot: Snapshot): Promise<Snapshot> {
  let current = snapshot;
  if (current.files.size >= COMPACT_AT_FILES) current = await compact(duck, tableDir, job, current);
  const listing = await listLog(tableDir);
  const lastCheckpoint = listing.checkpoints.at(-1)?.version ?? -1;
  if (current.version - lastCheckpoint >= CHECKPOINT_EVERY) await writeCheckpoint(tableDir, current);
  return current;
}

/**
 * Rewrites the table's files as one: a state table keeps only each key's latest row, so readers
 * of the bare Parquet files (Power BI, Spark) see one row per key again. The logical content is
 * unchanged, hence dataChange=false; the old files stay until vacuum, for readers still on them.
 */
export async function compact(duck: Duck, tableDir: string, job: Job, snapshot: Snapshot): Promise<Snapshot> {
  const projection = job.definition;
  const latest =
    projection.kind === 'state'
      ? `QUALIFY row_number() OVER (PARTITION BY ${sqlIdent(projection.key)} ORDER BY ${sqlIdent(projection.orderBy)} DESC) = 1`
      : '';
  const columns = projection.columns.map((c) => sqlIdent(c.name)).join(', ');
  await duck.run(`CREATE OR REPLACE TEMP TABLE out AS SELECT ${columns} FROM read_parquet(${sqlPathList(await snapshotLocalFiles(tableDir, snapshot))}) ${latest}`);
  const add = await dataFileWriter(duck, tableDir, projection.columns)();
  const now = Date.now();
  const actions: Action[] = [
    { commitInfo: { timestamp: now, operation: 'OPTIMIZE', operationParameters: { predicate: '[]' }, engineInfo: 'eventlake/0.1.0', eventlake: { job: job.name } } },
    ...[...snapshot.files.keys()].map((path): Action => ({ remove: { path, deletionTimestamp: now, dataChange: false } })),
    ...(add ? [{ add: { ...add, dataChange: false } } as Action] : []),
  ];
  await commitVersion(tableDir, snapshot.version + 1, actions);
  logger.info({ job: job.name, files: snapshot.files.size, version: snapshot.version + 1 }, 'compacted table');
  return applyCommit(snapshot, snapshot.version + 1, actions);
}
