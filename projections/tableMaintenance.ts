import { numRecords, type Action, type AddFile } from '../lake/delta/actions.js';
import { commitVersion, listLog, localFiles, writeCheckpoint } from '../lake/delta/deltaTable.js';
import { applyCommit, dataFilePath, type Snapshot } from '../lake/delta/snapshot.js';
import { joinLocation } from '../lake/storage/locations.js';
import { sqlIdent, sqlPathList, type Duck } from '../lake/duckdb.js';
import { logger } from '../lake/logger.js';
import { dataFileWriter } from './dataFileWriter.js';
import type { Job } from './jobSource.js';

/** Compact once a table has this many small data files (each incremental batch adds one). */
export const COMPACT_AT_FILES = 24;
/**
 * A file with fewer rows than this is "small". Only small files are rewritten, so compaction
 * costs what the recent batches wrote, not the whole table (measured: rewriting a 1M-row table
 * in every live pass was the p99 of command-to-view latency under `serve`).
 */
export const SMALL_FILE_ROWS = 250_000;
/** Write a Delta checkpoint every this many commits, as Spark does, so replay stays short. */
export const CHECKPOINT_EVERY = 10;

/** Housekeeping after a run: compaction of small files, then a checkpoint when one is due. */
export async function maintainTable(duck: Duck, tableDir: string, job: Job, snapshot: Snapshot): Promise<Snapshot> {
  let current = snapshot;
  if (smallFiles(current).length >= COMPACT_AT_FILES) current = await compact(duck, tableDir, job, current);
  const listing = await listLog(tableDir);
  const lastCheckpoint = listing.checkpoints.at(-1)?.version ?? -1;
  if (current.version - lastCheckpoint >= CHECKPOINT_EVERY) await writeCheckpoint(tableDir, current);
  return current;
}

function smallFiles(snapshot: Snapshot, smallRows = SMALL_FILE_ROWS): AddFile[] {
  return [...snapshot.files.values()].filter((add) => (numRecords(add) ?? 0) < smallRows);
}

/**
 * Rewrites the table's small files as one: in a state table it keeps only each key's latest row
 * among them (the view still picks the latest over all files), so readers of the bare Parquet
 * files see far fewer stale rows. The logical content is unchanged, hence dataChange=false; the
 * old files stay until vacuum, for readers still on them.
 */
export async function compact(duck: Duck, tableDir: string, job: Job, snapshot: Snapshot, smallRows = SMALL_FILE_ROWS): Promise<Snapshot> {
  const small = smallFiles(snapshot, smallRows);
  const projection = job.definition;
  const latest =
    projection.kind === 'state'
      ? `QUALIFY row_number() OVER (PARTITION BY ${sqlIdent(projection.key)} ORDER BY ${sqlIdent(projection.orderBy)} DESC) = 1`
      : '';
  const columns = projection.columns.map((c) => sqlIdent(c.name)).join(', ');
  const files = await localFiles(small.map((add) => joinLocation(tableDir, dataFilePath(add.path))));
  await duck.run(`CREATE OR REPLACE TEMP TABLE out AS SELECT ${columns} FROM read_parquet(${sqlPathList(files)}) ${latest}`);
  const add = await dataFileWriter(duck, tableDir, projection.columns)();
  const now = Date.now();
  const actions: Action[] = [
    { commitInfo: { timestamp: now, operation: 'OPTIMIZE', operationParameters: { predicate: '[]' }, engineInfo: 'eventlake/0.1.0', eventlake: { job: job.name } } },
    ...small.map((file): Action => ({ remove: { path: file.path, deletionTimestamp: now, dataChange: false } })),
    ...(add ? [{ add: { ...add, dataChange: false } } as Action] : []),
  ];
  await commitVersion(tableDir, snapshot.version + 1, actions);
  logger.info({ job: job.name, files: small.length, version: snapshot.version + 1 }, 'compacted table');
  return applyCommit(snapshot, snapshot.version + 1, actions);
}
