import { liveRecords, numRecords, removalOf, type Action, type AddFile } from '../lake/delta/actions.js';
import { commitVersion, listLog, liveRowsSelect, writeCheckpoint } from '../lake/delta/deltaTable.js';
import { applyCommit, type Snapshot } from '../lake/delta/snapshot.js';
import type { Duck } from '../lake/duckdb.js';
import { logger } from '../lake/logger.js';
import { fileStats, writeDataFiles } from './dataFiles.js';
import type { Job } from './jobSource.js';
import { DEFAULT_FILE_SIZES, type FileSizes } from './tableMerge.js';
import { tableShape, type TableShape } from './tableShape.js';

/** Compact once a table has this many small data files (most batches add one or two). */
export const COMPACT_AT_FILES = 24;
/** A file is small below this share of its target size. */
export const SMALL_SHARE = 0.25;
/** Write a Delta checkpoint every this many commits, as Spark does, so replay stays short. */
export const CHECKPOINT_EVERY = 10;

/** Housekeeping after a run: compaction of small files, then a checkpoint when one is due. */
export async function maintainTable(duck: Duck, tableDir: string, job: Job, snapshot: Snapshot, sizes: FileSizes = DEFAULT_FILE_SIZES): Promise<Snapshot> {
  let current = snapshot;
  const groups = compactionGroups(tableShape(job.definition), current, sizes);
  const due = groups.reduce((sum, g) => sum + g.files.length, 0) >= COMPACT_AT_FILES || groups.some((g) => g.files.some(mostlyDeleted));
  if (due) current = await compact(duck, tableDir, job, current, groups, sizes);
  const listing = await listLog(tableDir);
  const lastCheckpoint = listing.checkpoints.at(-1)?.version ?? -1;
  if (current.version - lastCheckpoint >= CHECKPOINT_EVERY) await writeCheckpoint(tableDir, current, {}, duck);
  return current;
}

/** A file with a quarter of its rows marked deleted (deletion vectors): rewritten without them. */
export function mostlyDeleted(add: AddFile): boolean {
  return (add.deletionVector?.cardinality ?? 0) >= (numRecords(add) ?? Infinity) * SMALL_SHARE;
}

/** Small files that compaction merges into one, and how the merged rows are ordered. */
export interface CompactionGroup {
  files: AddFile[];
  orderBy: string[];
  maxRows: number;
}

/**
 * What to merge: every small file holding only final rows (appended facts, closed history rows)
 * into one group ordered by time; and runs of small neighbouring key-range files (mutable rows),
 * each run no larger than one file, so files keep disjoint key ranges. A file with a quarter of
 * its rows marked deleted counts as small, so compaction rewrites it without them.
 */
export function compactionGroups(shape: TableShape, snapshot: Snapshot, sizes: FileSizes): CompactionGroup[] {
  const files = [...snapshot.files.values()];
  const isMutable = (add: AddFile) => shape.mutable === 'all' || (shape.mutable === 'open' && (fileStats(add)?.nullCount?.[shape.open!] ?? 1) > 0);
  const rows = (add: AddFile) => liveRecords(add) ?? Number.MAX_SAFE_INTEGER;
  const purge = mostlyDeleted;
  const groups: CompactionGroup[] = [];
  const appendSmall = files.filter((f) => !isMutable(f) && (rows(f) < sizes.appendRows * SMALL_SHARE || purge(f)));
  if (appendSmall.length >= 2 || appendSmall.some(purge)) groups.push({ files: appendSmall, orderBy: shape.appendOrder, maxRows: sizes.appendRows });
  const key = shape.key[0];
  const byRange = files.filter(isMutable).sort((a, b) => compareKeys(fileStats(a)?.minValues?.[key], fileStats(b)?.minValues?.[key]));
  let run: AddFile[] = [];
  const close = () => {
    if (run.length >= 2 || run.some(purge)) groups.push({ files: run, orderBy: shape.key, maxRows: sizes.mutableRows });
    run = [];
  };
  for (const file of byRange) {
    const small = rows(file) < sizes.mutableRows * SMALL_SHARE || purge(file);
    if (!small || run.reduce((sum, f) => sum + rows(f), rows(file)) > sizes.mutableRows) close();
    if (small) run.push(file);
  }
  close();
  return groups;
}

/**
 * OPTIMIZE: each group's files become one file holding exactly their rows (dataChange=false, as
 * the protocol requires: the removed files' records are all in the added ones, so readers that
 * tail the table skip the commit without missing anything). The old files stay until vacuum,
 * for readers still on them.
 */
export async function compact(duck: Duck, tableDir: string, job: Job, snapshot: Snapshot, groups: CompactionGroup[], sizes: FileSizes = DEFAULT_FILE_SIZES): Promise<Snapshot> {
  const now = Date.now();
  const actions: Action[] = [{ commitInfo: { timestamp: now, operation: 'OPTIMIZE', operationParameters: { predicate: '[]', zOrderBy: '[]' }, engineInfo: 'eventlake/0.1.0', eventlake: { job: job.name } } }];
  for (const group of groups) {
    // Live rows only: a deletion vector's rows are dropped for good (the table's rows stay the same).
    const { sql } = await liveRowsSelect(duck, tableDir, snapshot, { files: group.files, deletedRowsTable: { name: '__compacted_deleted_rows' } });
    const adds = await writeDataFiles(duck, tableDir, job.definition.columns, { relation: `(${sql})`, orderBy: group.orderBy, maxRows: group.maxRows });
    actions.push(...group.files.map((file): Action => ({ remove: removalOf(file, { deletionTimestamp: now, dataChange: false }) })));
    actions.push(...adds.map((add): Action => ({ add: { ...add, dataChange: false } })));
  }
  await commitVersion(tableDir, snapshot.version + 1, actions);
  logger.info({ job: job.name, files: groups.reduce((sum, g) => sum + g.files.length, 0), version: snapshot.version + 1, sizes }, 'compacted table');
  return applyCommit(snapshot, snapshot.version + 1, actions);
}

/** Orders stat values of one key column; files without stats go last. */
function compareKeys(a: unknown, b: unknown): number {
  if (a === undefined || a === null) return b === undefined || b === null ? 0 : 1;
  if (b === undefined || b === null) return -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  // Stats of strings compare as DuckDB and Spark do: by UTF-8 bytes.
  return Buffer.compare(Buffer.from(String(a)), Buffer.from(String(b)));
}
