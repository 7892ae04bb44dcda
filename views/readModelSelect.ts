import { sqlIdent, sqlPathList } from '../lake/duckdb.js';
import { emptySelect } from '../projections/batchTables.js';
import type { Projection } from '../projections/projection.js';

/**
 * The SELECT behind `read_models_tz.<projection>`: the rows of the table's snapshot, columns as
 * stored. Each committed table is the exact read model (one row per key for state, `valid_to`
 * set on closed history rows, final aggregates), so this is a plain read: no folding at query time.
 */
export function readModelSelect(projection: Projection, files: string[]): string {
  if (files.length === 0) return emptySelect(projection.columns);
  return `SELECT ${projection.columns.map((c) => sqlIdent(c.name)).join(', ')} FROM read_parquet(${sqlPathList(files)})`;
}
