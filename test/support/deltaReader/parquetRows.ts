import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, type ParquetParsers, type SchemaElement } from 'hyparquet';
import { dateFromDays, isoFromMicros } from './sparkSchema.js';

/**
 * Timestamps at full precision (hyparquet's default makes JS Dates, which keep milliseconds
 * only) and dates as calendar days: the forms `typedValue` expects.
 */
const PARSERS: Partial<ParquetParsers> = {
  timestampFromMilliseconds: (millis) => isoFromMicros(millis * 1000n),
  timestampFromMicroseconds: (micros) => isoFromMicros(micros),
  // INT96 (older Spark) arrives here as nanoseconds; Delta timestamps are microseconds.
  timestampFromNanoseconds: (nanos) => isoFromMicros(nanos >= 0n ? nanos / 1000n : -((-nanos + 999n) / 1000n)),
  dateFromDays: (days) => dateFromDays(days),
};

export interface ParquetContent {
  /** every row as an object, in file order (index = the row's position) */
  rows: Record<string, unknown>[];
  /** the Parquet schema element of each top-level column */
  columns: Map<string, SchemaElement>;
}

export async function readParquetRows(file: string): Promise<ParquetContent> {
  const buffer = await asyncBufferFromFile(file).catch((error: Error) => {
    throw new Error(`cannot open Parquet file ${file}: ${error.message}`);
  });
  try {
    const metadata = await parquetMetadataAsync(buffer);
    const rows = (await parquetReadObjects({ file: buffer, metadata, parsers: PARSERS })) as Record<string, unknown>[];
    return { rows, columns: topLevelColumns(metadata.schema) };
  } catch (error) {
    throw new Error(`cannot read Parquet file ${file}: ${(error as Error).message}`);
  }
}

/** The flattened schema lists the root, then each column depth-first; keep the root's children. */
function topLevelColumns(schema: SchemaElement[]): Map<string, SchemaElement> {
  const columns = new Map<string, SchemaElement>();
  let i = 1;
  const skip = (at: number): number => {
    let next = at + 1;
    for (let c = 0; c < (schema[at].num_children ?? 0); c++) next = skip(next);
    return next;
  };
  while (i < schema.length) {
    columns.set(schema[i].name, schema[i]);
    i = skip(i);
  }
  return columns;
}
