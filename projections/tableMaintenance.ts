import { numRecords, type Action, type AddFile } from '../lake/delta/actions.js';
import { commitVersion, listLog, localFiles, writeCheckpoint } from '../lake/delta/deltaTable.js';
import { applyCommit, dataFilePath, type Snapshot } from '../lake/delta/snapshot.js';
import { joinLocation } from '../lake/storage/locations.js';
import { sqlIdent, sqlPathList, type Duck } from '../lake/duckdb.js';
import { logger } from '../lake/logger.js';
import { dataFileWriter } from './dataFileWriter.js';
import type { Job } from './jobSource.js';
import type { Column, Projection } from './projection.js';

/** Compact once a table has this many small data files (each incremental batch adds one). */
export const COMPACT_AT_FILES = 24;
/**
 * A file with fewer rows than this is "small". Only small files are rewritten, so compaction
 * costs what the recent batches wrote, not the whole table (measured: rewriting a 1M-row table
 * in every live pass was the p99 of command-to-view latency under `serve`).
 */
export const SMALL_FILE_ROWS = 250_000;
/**
 * A large base is rewritten once the rows committed beside it reach this share of it: the views
 * fold those rows at query time, and rewriting the base this rarely costs a constant per row.
 */
export const REBASE_SHARE = 0.25;
/** Write a Delta checkpoint every this many commits, as Spark does, so replay stays short. */
export const CHECKPOINT_EVERY = 10;

/**
 * The Delta `add` tag of a base file: the whole table folded as of its commit (one row per key in
 * a state table, `valid_to` filled in a history). Every other file of a snapshot with a base holds
 * only rows committed after it, so the views read the base as it is and fold only the newer files.
 */
export const BASE_FILE_TAG = 'eventlake.base';

export function isBaseFile(add: AddFile): boolean {
  return add.tags?.[BASE_FILE_TAG] === 'true';
}

export function baseFileOf(snapshot: Snapshot): AddFile | undefined {
  return [...snapshot.files.values()].find(isBaseFile);
}

/** Housekeeping after a run: compaction of small files, then a checkpoint when one is due. */
export async function maintainTable(duck: Duck, tableDir: string, job: Job, snapshot: Snapshot): Promise<Snapshot> {
  let current = snapshot;
  if (smallFiles(current).length >= COMPACT_AT_FILES) {
    current = rebaseDue(current) ? await compactFully(duck, tableDir, job, current) : await compact(duck, tableDir, job, current);
  }
  const listing = await listLog(tableDir);
  const lastCheckpoint = listing.checkpoints.at(-1)?.version ?? -1;
  if (current.version - lastCheckpoint >= CHECKPOINT_EVERY) await writeCheckpoint(tableDir, current);
  return current;
}

/** Small files other than the base: the base is only ever rewritten whole, by `compactFully`. */
function smallFiles(snapshot: Snapshot, smallRows = SMALL_FILE_ROWS): AddFile[] {
  return [...snapshot.files.values()].filter((add) => !isBaseFile(add) && (numRecords(add) ?? 0) < smallRows);
}

/** A new base is due when there is none, when rewriting it is cheap, or when many rows sit beside it. */
function rebaseDue(snapshot: Snapshot): boolean {
  const base = baseFileOf(snapshot);
  if (!base) return true;
  const baseRows = numRecords(base) ?? 0;
  const newerRows = [...snapshot.files.values()].filter((add) => add !== base).reduce((sum, add) => sum + (numRecords(add) ?? 0), 0);
  return baseRows < SMALL_FILE_ROWS || newerRows >= baseRows * REBASE_SHARE;
}

/**
 * Rewrites the table's small files (never the base) as one: in a state table it keeps only each
 * key's latest row among them (the view still picks the latest over all files), so readers of the
 * bare Parquet files see far fewer stale rows. The logical content is unchanged, hence
 * dataChange=false; the old files stay until vacuum, for readers still on them.
 */
export async function compact(duck: Duck, tableDir: string, job: Job, snapshot: Snapshot, smallRows = SMALL_FILE_ROWS): Promise<Snapshot> {
  const projection = job.definition;
  const latest = projection.kind === 'state' ? latestPerKey(projection.key, projection.orderBy) : '';
  return rewrite(duck, tableDir, job, snapshot, smallFiles(snapshot, smallRows), (files) => `SELECT ${columnList(projection.columns)} FROM ${files} ${latest}`, false);
}

/**
 * Rewrites the whole table as one base file (see BASE_FILE_TAG): state tables keep each key's
 * latest row, histories get `valid_to` and are sorted by `valid_from`, so a point-in-time filter
 * skips the row groups after its time. This is what lets the views skip their window functions.
 */
export async function compactFully(duck: Duck, tableDir: string, job: Job, snapshot: Snapshot): Promise<Snapshot> {
  return rewrite(duck, tableDir, job, snapshot, [...snapshot.files.values()], (files) => foldedSelect(job.definition, files), true);
}

/** The SELECT that folds a table (read from `files`) into its base. */
function foldedSelect(projection: Projection, files: string): string {
  const columns = columnList(projection.columns);
  if (projection.kind === 'state') return `SELECT ${columns} FROM ${files} ${latestPerKey(projection.key, projection.orderBy)}`;
  if (projection.kind === 'rows' && projection.validity) {
    const { key, orderBy, from, to } = projection.validity;
    const next = `lead(${sqlIdent(from)}) OVER (PARTITION BY ${sqlIdent(key)} ORDER BY ${sqlIdent(orderBy)})`;
    const select = projection.columns.map((c) => (c.name === to ? `${next} AS ${sqlIdent(to)}` : sqlIdent(c.name))).join(', ');
    return `SELECT ${select} FROM ${files} ORDER BY ${sqlIdent(from)}, ${sqlIdent(key)}, ${sqlIdent(orderBy)}`;
  }
  return `SELECT ${columns} FROM ${files}`;
}

export function latestPerKey(key: string, orderBy: string): string {
  return `QUALIFY row_number() OVER (PARTITION BY ${sqlIdent(key)} ORDER BY ${sqlIdent(orderBy)} DESC) = 1`;
}

function columnList(columns: Column[]): string {
  return columns.map((c) => sqlIdent(c.name)).join(', ');
}

/** Replaces `files` by the rows `select` makes of them, in one OPTIMIZE commit. */
async function rewrite(duck: Duck, tableDir: string, job: Job, snapshot: Snapshot, files: AddFile[], select: (files: string) => string, asBase: boolean): Promise<Snapshot> {
  const paths = await localFiles(files.map((add) => joinLocation(tableDir, dataFilePath(add.path))));
  await duck.run(`CREATE OR REPLACE TEMP TABLE out AS ${select(`read_parquet(${sqlPathList(paths)})`)}`);
  const add = await dataFileWriter(duck, tableDir, job.definition.columns)();
  const now = Date.now();
  const actions: Action[] = [
    { commitInfo: { timestamp: now, operation: 'OPTIMIZE', operationParameters: { predicate: '[]' }, engineInfo: 'eventlake/0.1.0', eventlake: { job: job.name } } },
    ...files.map((file): Action => ({ remove: { path: file.path, deletionTimestamp: now, dataChange: false } })),
    ...(add ? [{ add: { ...add, dataChange: false, ...(asBase ? { tags: { [BASE_FILE_TAG]: 'true' } } : {}) } } as Action] : []),
  ];
  await commitVersion(tableDir, snapshot.version + 1, actions);
  logger.info({ job: job.name, files: files.length, base: asBase, version: snapshot.version + 1 }, 'compacted table');
  return applyCommit(snapshot, snapshot.version + 1, actions);
}
