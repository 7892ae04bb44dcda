import type { SchemaElement } from 'hyparquet';
import type { DeletionVectorDescriptor } from './actions.js';
import { loadDeletionVector } from './deletionVector.js';
import { verifyFileStats } from './fileStats.js';
import { readParquetRows } from './parquetRows.js';
import { partitionValue, typedValue, type SparkField } from './sparkSchema.js';
import { resolveTablePath } from './tablePath.js';

/** A logical file as an add or a remove names it: a data file, maybe with a deletion vector. */
export interface LogicalFileRef {
  path: string;
  partitionValues?: Record<string, string | null> | null;
  deletionVector?: DeletionVectorDescriptor | null;
  stats?: string | null;
}

export interface TableLayout {
  fields: SparkField[];
  partitionColumns: string[];
}

/**
 * The rows of a logical file: the data file's rows in file order, without those its deletion
 * vector removes, each typed by the table schema. Partition columns come from the log;
 * columns missing from the file are null (PROTOCOL.md, "Consistency Between Table Metadata and
 * Data Files"). The file's stats and its timestamp encoding are checked on the way.
 */
export async function readLogicalFile(tableDir: string, file: LogicalFileRef, layout: TableLayout): Promise<Record<string, unknown>[]> {
  const dataFile = resolveTablePath(tableDir, file.path);
  const where = `${tableDir}: ${file.path}`;
  const content = await readParquetRows(dataFile);
  checkPhysicalTypes(where, layout.fields, content.columns);
  const physical = content.rows.map((raw) => typedRow(where, raw, file, layout));
  const deleted = file.deletionVector ? await loadDeletionVector(tableDir, file.deletionVector) : [];
  const beyond = deleted.find((row) => row >= physical.length);
  if (beyond !== undefined) throw new Error(`${where}: the deletion vector removes row ${beyond}, the file has ${physical.length} row(s)`);
  const valid = physical.map(() => true);
  for (const row of deleted) valid[row] = false;
  verifyFileStats(where, file.stats, layout.fields, physical, valid, Boolean(file.deletionVector));
  return physical.filter((_, i) => valid[i]);
}

function typedRow(where: string, raw: Record<string, unknown>, file: LogicalFileRef, layout: TableLayout): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (const field of layout.fields) {
    if (layout.partitionColumns.includes(field.name)) {
      if (!file.partitionValues || !(field.name in file.partitionValues)) throw new Error(`${where}: no partition value for ${field.name}`);
      row[field.name] = partitionValue(field, file.partitionValues[field.name]);
    } else {
      row[field.name] = typedValueIn(where, field, raw[field.name]);
    }
  }
  return row;
}

function typedValueIn(where: string, field: SparkField, raw: unknown): unknown {
  const value = typedValue(field, raw);
  const expected = { string: 'string', double: 'number', float: 'number', boolean: 'boolean' }[field.type as string];
  if (value !== null && expected && typeof value !== expected) throw new Error(`${where}: column ${field.name} is ${field.type} in the schema, the file holds ${typeof raw} ${String(raw)}`);
  return value;
}

/**
 * A Delta `timestamp` is an instant: stored as INT64 with isAdjustedToUTC=true (or INT96), never
 * as a local time, which Fabric and Synapse would show shifted.
 */
function checkPhysicalTypes(where: string, fields: SparkField[], columns: Map<string, SchemaElement>): void {
  for (const field of fields) {
    const column = columns.get(field.name);
    if (!column || field.type !== 'timestamp') continue;
    const logical = column.logical_type;
    const utc = column.type === 'INT96' || (logical?.type === 'TIMESTAMP' ? logical.isAdjustedToUTC : column.converted_type === 'TIMESTAMP_MICROS' || column.converted_type === 'TIMESTAMP_MILLIS');
    if (!utc) throw new Error(`${where}: timestamp column ${field.name} is not stored as a UTC-adjusted Parquet timestamp (${JSON.stringify(column)})`);
  }
}
