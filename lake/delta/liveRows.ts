import { randomUUID } from 'node:crypto';
import { sqlIdent, sqlPathList, type Duck } from '../duckdb.js';
import { joinLocation } from '../storage/locations.js';
import { duckType, parseSchemaString, type AddFile } from './actions.js';
import { readDeletionVector, type DeletionVectorFiles } from './deletionVector.js';
import { dataFilePath, type Snapshot } from './snapshot.js';
import { localFiles } from './snapshotReader.js';

/**
 * The live rows of a snapshot as one DuckDB SELECT: files without a deletion vector are read as
 * they are (plain read_parquet, nothing added), files with one are read in one read_parquet and
 * anti-joined on DuckDB's virtual columns (file_index, file_row_number) with the row indexes their
 * DVs delete, loaded into a small table beside the query.
 *
 * Measured on a 1M-row file with 10,000 deleted rows (bench/deletionVectorRead.ts), integer keys
 * on the virtual columns scan at about 1.1x a plain read; keying by the `filename` column (a
 * string per row) cost 1.6x, and one NOT IN branch per file about 1.2x.
 */

// DuckDB's virtual columns of read_parquet: a data column of the same name would hide them.
const VIRTUAL_COLUMNS = ['filename', 'file_row_number', 'file_index'];

/** With `withRowAddress`: the path DuckDB read the row from (a key of `LiveRows.files`). */
export const ROW_FILE_COLUMN = '__delta_file';
/** With `withRowAddress`: the row's 0-based index in its data file, as `markRowsDeleted` takes it. */
export const ROW_INDEX_COLUMN = '__delta_row_index';

/** Where the deleted row indexes go: a table `(file_id INTEGER, row_index BIGINT)`. */
export interface DeletedRowsTable {
  name: string;
  schema?: string;
  /** A TEMP table (default) lives as long as the connection; a view saved in a database file needs a persistent one. */
  temporary?: boolean;
}

export interface LiveRowsOptions {
  /** The files to read; default every live file of the snapshot. */
  files?: AddFile[];
  /** Default: a new temporary table with a unique name. Replaced when it exists. */
  deletedRowsTable?: DeletedRowsTable;
  /** The paths DuckDB reads for file locations; default local paths (downloads cached from ADLS). */
  readPaths?: (locations: string[]) => Promise<string[]>;
  /** Also select ROW_FILE_COLUMN and ROW_INDEX_COLUMN, for a merge that deletes rows it supersedes. */
  withRowAddress?: boolean;
}

export interface LiveRows {
  /** SELECT of the live rows with the table's columns (by name; plus the row address when asked). */
  sql: string;
  /** The add action of each path DuckDB reads (the values of ROW_FILE_COLUMN). */
  files: Map<string, AddFile>;
  /** The qualified table the SELECT reads deleted rows from, when a file has a DV; drop it after use. */
  deletedRowsTable?: string;
}

/**
 * Loads the DVs of the files into `duck` and returns the SELECT of their live rows. It costs
 * nothing for files without a DV (plain read_parquet); a DV costs reading its bytes here and an
 * anti join on (file index, row number) in DuckDB. Refuses partitioned tables, and tables with a
 * column named like one of DuckDB's virtual columns (filename, file_row_number, file_index).
 */
export async function liveRowsSelect(duck: Duck, tableDir: string, snapshot: Snapshot, options: LiveRowsOptions = {}): Promise<LiveRows> {
  if (!snapshot.metadata) throw new Error(`Delta table ${tableDir} has no metadata at version ${snapshot.version}`);
  if (snapshot.metadata.partitionColumns.length > 0) {
    throw new Error(`Delta table ${tableDir} is partitioned (${snapshot.metadata.partitionColumns.join(', ')}); eventlake reads unpartitioned tables only`);
  }
  const hidden = parseSchemaString(snapshot.metadata.schemaString).fields.filter((f) => VIRTUAL_COLUMNS.includes(f.name.toLowerCase()));
  if (hidden.length > 0) {
    throw new Error(`Delta table ${tableDir} has a column named ${hidden[0].name}, which hides DuckDB's virtual column of that name; eventlake cannot apply deletion vectors to it`);
  }
  const adds = options.files ?? [...snapshot.files.values()];
  const readPaths = await (options.readPaths ?? localFiles)(adds.map((add) => joinLocation(tableDir, dataFilePath(add.path))));
  const files = new Map(adds.map((add, i) => [readPaths[i], add]));
  const withDv = [...files].filter(([, add]) => add.deletionVector);
  const plain = [...files].filter(([, add]) => !add.deletionVector).map(([readPath]) => readPath);
  const address = options.withRowAddress ?? false;
  const selects: string[] = [];
  if (plain.length > 0) selects.push(plainSelect(plain, address));
  let deletedRowsTable: string | undefined;
  if (withDv.length > 0) {
    deletedRowsTable = await loadDeletedRows(duck, tableDir, withDv.map(([, add]) => add), options.deletedRowsTable);
    selects.push(antiJoinSelect(withDv.map(([readPath]) => readPath), deletedRowsTable, address));
  }
  const sql = selects.length > 0 ? selects.join(' UNION ALL BY NAME ') : emptySelect(snapshot.metadata.schemaString, address);
  return { sql, files, deletedRowsTable };
}

function plainSelect(paths: string[], address: boolean): string {
  return `SELECT *${address ? rowAddress('') : ''} FROM read_parquet(${sqlPathList(paths)})`;
}

// The deleted-rows table holds, per row, the file's position in the read_parquet list (DuckDB's
// file_index) rather than its path: integer keys, and the same table serves whatever paths a
// reader uses for the files.
function antiJoinSelect(paths: string[], deletedRows: string, address: boolean): string {
  return (
    `SELECT t.*${address ? rowAddress('t.') : ''} FROM read_parquet(${sqlPathList(paths)}) AS t ` +
    `ANTI JOIN (SELECT CAST(file_id AS UBIGINT) AS file_id, row_index FROM ${deletedRows}) AS d ` +
    `ON t.file_index = d.file_id AND t.file_row_number = d.row_index`
  );
}

function rowAddress(alias: string): string {
  return `, ${alias}filename AS ${sqlIdent(ROW_FILE_COLUMN)}, ${alias}file_row_number AS ${sqlIdent(ROW_INDEX_COLUMN)}`;
}

/** Creates the deleted-rows table and appends every DV's row indexes to it; returns its qualified name. */
async function loadDeletedRows(duck: Duck, tableDir: string, adds: AddFile[], table: DeletedRowsTable | undefined): Promise<string> {
  const temporary = table?.temporary ?? true;
  const name = table?.name ?? `deleted_rows_${randomUUID().replaceAll('-', '')}`;
  const schema = table?.schema ?? 'main';
  const qualified = temporary ? `temp.${sqlIdent(schema)}.${sqlIdent(name)}` : `${sqlIdent(schema)}.${sqlIdent(name)}`;
  await duck.run(`CREATE OR REPLACE ${temporary ? 'TEMP ' : ''}TABLE ${qualified} (file_id INTEGER, row_index BIGINT)`);
  const dvFiles: DeletionVectorFiles = new Map();
  const deleted: Float64Array[] = [];
  for (const add of adds) deleted.push(await readDeletionVector(tableDir, add.deletionVector!, dvFiles));
  await duck.append({ name, schema, catalog: temporary ? 'temp' : undefined }, deletedRows(deleted));
  return qualified;
}

function* deletedRows(deleted: Float64Array[]): Generator<[number, bigint]> {
  for (const [fileId, rows] of deleted.entries()) for (const row of rows) yield [fileId, BigInt(row)];
}

function emptySelect(schemaString: string, address: boolean): string {
  const columns = parseSchemaString(schemaString).fields.map((f) => `CAST(NULL AS ${duckType(f.type)}) AS ${sqlIdent(f.name)}`);
  if (address) columns.push(`CAST(NULL AS VARCHAR) AS ${sqlIdent(ROW_FILE_COLUMN)}`, `CAST(NULL AS BIGINT) AS ${sqlIdent(ROW_INDEX_COLUMN)}`);
  return `SELECT ${columns.join(', ')} LIMIT 0`;
}
