import { numRecords, removalOf, type Action, type AddFile } from './actions.js';
import { readDeletionVector, writeDeletionVectors, type DeletionVectorFiles, type DeletionVectorWriteOptions } from './deletionVector.js';
import { sameDeletionVector } from './logicalFile.js';
import type { Snapshot } from './snapshot.js';
import { deletionVectorsEnabled } from './tableFeatures.js';

/**
 * Deleting rows of live files with deletion vectors: the commit writes no data, only one small DV
 * file and, per touched file, a `remove` of (path, old DV) and an `add` of (path, new DV).
 */

/** Rows (0-based indexes within the data file) of one live file to delete. */
export interface RowDeletion {
  file: AddFile;
  rows: Iterable<number>;
}

export interface RowDeletionOptions extends DeletionVectorWriteOptions {
  /** deletionTimestamp of the removes, ms since the epoch; default now. */
  now?: number;
}

/**
 * Writes the DVs that delete `rows` from each file (on top of what its current DV already
 * deletes) and returns the actions to commit: for each file whose live rows change, `remove`
 * (path, old DV) and `add` (path, new DV, stats with `tightBounds: false`); a file left with no
 * live row is only removed. Rows already deleted are ignored. The DV file is written before the
 * commit; should the commit never happen, vacuum deletes it after the retention.
 *
 * Refuses, before writing anything: a table whose protocol and metadata do not enable deletion
 * vectors, a file that is not live in `snapshot` with that DV (a stale file), a file whose stats
 * lack numRecords (the protocol requires it with a DV), a row index outside the file.
 */
export async function markRowsDeleted(
  tableDir: string,
  snapshot: Snapshot,
  deletions: RowDeletion[],
  options: RowDeletionOptions = {},
): Promise<Action[]> {
  if (!deletionVectorsEnabled(snapshot)) {
    throw new Error(
      `cannot write deletion vectors to Delta table ${tableDir}: it needs the deletionVectors feature (reader 3 / writer 7) ` +
        `and delta.enableDeletionVectors=true in its metadata`,
    );
  }
  const dvFiles: DeletionVectorFiles = new Map();
  const changed: { file: AddFile; deleted: Float64Array }[] = [];
  const seen = new Set<string>();
  for (const { file, rows } of deletions) {
    if (seen.has(file.path)) throw new Error(`Delta table ${tableDir}: rows of ${file.path} are deleted twice in one commit; merge them first`);
    seen.add(file.path);
    assertLive(tableDir, snapshot, file);
    const records = recordsOf(tableDir, file);
    const before = file.deletionVector ? await readDeletionVector(tableDir, file.deletionVector, dvFiles) : new Float64Array(0);
    const deleted = union(before, checkedRows(tableDir, file, rows, records));
    if (deleted.length > before.length) changed.push({ file, deleted });
  }
  const now = options.now ?? Date.now();
  const partial = changed.filter(({ file, deleted }) => deleted.length < recordsOf(tableDir, file));
  const descriptors = await writeDeletionVectors(tableDir, partial.map((c) => c.deleted), options);
  const newDv = new Map(partial.map((c, i) => [c.file.path, descriptors[i]]));
  return changed.flatMap(({ file }): Action[] => {
    const remove: Action = { remove: removalOf(file, { deletionTimestamp: now, dataChange: true }) };
    const deletionVector = newDv.get(file.path);
    if (!deletionVector) return [remove];
    return [remove, { add: { ...file, dataChange: true, stats: withLooseBounds(file.stats!), deletionVector } }];
  });
}

function assertLive(tableDir: string, snapshot: Snapshot, file: AddFile): void {
  const live = snapshot.files.get(file.path);
  if (!live || !sameDeletionVector(live, file)) {
    throw new Error(
      `cannot delete rows of ${file.path} in Delta table ${tableDir}: it is not live with that deletion vector at version ${snapshot.version}`,
    );
  }
}

function recordsOf(tableDir: string, file: AddFile): number {
  const records = numRecords(file);
  if (records === undefined) {
    throw new Error(`cannot delete rows of ${file.path} in Delta table ${tableDir}: its stats have no numRecords, which a deletion vector needs`);
  }
  return records;
}

function checkedRows(tableDir: string, file: AddFile, rows: Iterable<number>, records: number): number[] {
  const checked: number[] = [];
  for (const row of rows) {
    if (!Number.isInteger(row) || row < 0 || row >= records) {
      throw new Error(`cannot delete row ${row} of ${file.path} in Delta table ${tableDir}: the file has rows 0 to ${records - 1}`);
    }
    checked.push(row);
  }
  return checked;
}

/** Ascending distinct union of row indexes. */
function union(sorted: Float64Array, more: number[]): Float64Array {
  // A typed array sorts numerically, and much faster than Array.prototype.sort with a comparator.
  const all = new Float64Array(sorted.length + more.length);
  all.set(sorted);
  all.set(more, sorted.length);
  all.sort();
  let distinct = 0;
  for (let i = 0; i < all.length; i++) if (i === 0 || all[i] !== all[i - 1]) all[distinct++] = all[i];
  return all.subarray(0, distinct);
}

// Min/max stats may now describe deleted rows: still bounds, no longer exact (PROTOCOL.md
// "Per-file Statistics"). numRecords stays the data file's count, as the protocol requires.
function withLooseBounds(stats: string): string {
  return JSON.stringify({ ...(JSON.parse(stats) as Record<string, unknown>), tightBounds: false });
}
