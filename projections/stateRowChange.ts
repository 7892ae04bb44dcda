import type { Row } from './projection.js';
import type { RowChange } from './tableMerge.js';

/**
 * A state batch's change in rows, told from the rows its projection evolved in JS instead of
 * read back from DuckDB (`TableMerge.rowChange`: the slowest statement on a command's trip, median
 * 22-41 ms at load ~5). Each row replaces its key's row, as the live fold does (`foldBatch` is the
 * batch itself), so every key is replaced and every row added, mutable.
 *
 * The values are the JSON text the batch was loaded into `out` from (`loadRows`: JSON.stringify
 * of the same rows), so the serving views, which type them with `json_transform` and the table's
 * column types, get exactly what the table holds: DuckDB's JSON transform reads the same text the
 * same way in `read_json` and `json_transform` (timestamps with offsets, doubles, numbers as
 * strings; checked in test/service/liveJob.int.test.ts against the committed table).
 */
export function stateRowChange(rows: Row[], keyColumn: string): RowChange {
  const replaced = new Set<string>();
  const added = rows.map((row) => {
    const key = JSON.stringify({ [keyColumn]: row[keyColumn] ?? null });
    replaced.add(key);
    return { row: JSON.stringify(row), key, mutable: true };
  });
  return { replaced: [...replaced], added };
}
