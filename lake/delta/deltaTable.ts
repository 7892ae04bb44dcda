import { Duck, sqlPathList } from '../duckdb.js';
import { numRecords, parseSchemaString, sparkTypeName, type AddFile } from './actions.js';
import { latestVersionOf, listLog } from './logFiles.js';
import { dataFilePath } from './snapshot.js';
import { joinLocation } from '../storage/locations.js';
import { loadSnapshot, localFiles, type AsOf } from './snapshotReader.js';

/**
 * A Delta table in a local folder. This is the module callers import: it gathers the I/O side
 * (load, commit, checkpoint, vacuum, describe); the sibling files hold one concept each, and the
 * pure log replay lives in snapshot.ts.
 */

export { commitVersion, ConcurrentCommitError, readCommit } from './commit.js';
export { writeCheckpoint, readCheckpoint, type WrittenCheckpoint } from './checkpoint.js';
export { listLog, type LogListing, type CheckpointFiles } from './logFiles.js';
export { loadSnapshot, localFiles, refreshSnapshot, snapshotFilePaths, snapshotLocalFiles, vacuumedFiles, type AsOf } from './snapshotReader.js';
export { NoVersionAtTimeError } from './timeTravel.js';
export { vacuum, type VacuumOptions } from './vacuum.js';
export {
  DELETION_VECTOR_CONFIGURATION,
  DELETION_VECTOR_PROTOCOL,
  assertReadable,
  assertWritable,
  deletionVectorsEnabled,
} from './tableFeatures.js';
export { markRowsDeleted, type RowDeletion, type RowDeletionOptions } from './rowDeletion.js';
export {
  liveRowsSelect,
  ROW_FILE_COLUMN,
  ROW_INDEX_COLUMN,
  type DeletedRowsTable,
  type LiveRows,
  type LiveRowsOptions,
} from './liveRows.js';
export { readDeletionVector, writeDeletionVectors, deletionVectorLocation } from './deletionVector.js';
export { removalOf, liveRecords } from './actions.js';

/** A table at one version, as a person or a test wants to see it. */
export interface TableDescription {
  version: number;
  /** Data file paths relative to the table folder (decoded), sorted. */
  files: string[];
  /**
   * Rows in the snapshot: numRecords from stats (counted with DuckDB where a file has none), less
   * the rows deletion vectors delete (their cardinality).
   */
  rows: number;
  /** Columns with their Spark type names. */
  schema: { name: string; type: string }[];
}

/**
 * The version the next commit should claim: latest + 1, or 0 for a new table. Optimistic: another
 * writer may claim it first, which `commitVersion` reports as a ConcurrentCommitError.
 */
export async function nextVersion(tableDir: string): Promise<number> {
  return latestVersionOf(await listLog(tableDir)) + 1;
}

/** Version, files, row count and schema of the table (at `at`). */
export async function describeTable(tableDir: string, at: AsOf = {}): Promise<TableDescription> {
  const snapshot = await loadSnapshot(tableDir, at);
  const adds = [...snapshot.files.values()];
  const fields = snapshot.metadata ? parseSchemaString(snapshot.metadata.schemaString).fields : [];
  return {
    version: snapshot.version,
    files: adds.map((add) => dataFilePath(add.path)).sort(),
    rows: await countRows(tableDir, adds),
    schema: fields.map((field) => ({ name: field.name, type: sparkTypeName(field.type) })),
  };
}

async function countRows(tableDir: string, adds: AddFile[]): Promise<number> {
  const withoutStats: string[] = [];
  let rows = 0;
  for (const add of adds) {
    rows -= add.deletionVector?.cardinality ?? 0;
    const count = numRecords(add);
    if (count === undefined) withoutStats.push(joinLocation(tableDir, dataFilePath(add.path)));
    else rows += count;
  }
  if (withoutStats.length === 0) return rows;
  const duck = await Duck.open();
  try {
    return rows + Number(await duck.scalar(`SELECT count(*) FROM read_parquet(${sqlPathList(await localFiles(withoutStats))})`));
  } finally {
    duck.close();
  }
}
