import type { AddFile } from '../lake/delta/actions.js';
import { sqlIdent, type Duck } from '../lake/duckdb.js';
import { loadRows } from './batchTables.js';
import { writeDataFiles } from './dataFiles.js';
import type { Row } from './projection.js';
import { DEFAULT_FILE_SIZES, type FileSizes } from './tableMerge.js';
import type { TableShape } from './tableShape.js';

/**
 * A rebuild's batch outputs, kept in the job's DuckDB (which spills to disk past its memory
 * limit) instead of being merged batch by batch: at the end they are folded once into the final
 * read model (`TableShape.foldRebuild`) and written as the table's new files, laid out as the
 * incremental writer keeps them (mutable rows by key, the rest by `appendOrder`).
 */
export class RebuildStaging {
  private batches = 0;

  constructor(
    private readonly duck: Duck,
    private readonly shape: TableShape,
    private readonly sizes: FileSizes = DEFAULT_FILE_SIZES,
  ) {}

  /** Adds the batch in `out`; `__seq` keeps log order across batches for the fold. */
  async stage(): Promise<void> {
    const seq = this.batches++;
    if (seq === 0) await this.duck.run(`CREATE OR REPLACE TEMP TABLE __staged AS SELECT *, ${seq}::BIGINT AS __seq FROM out`);
    else await this.duck.run(`INSERT INTO __staged BY NAME SELECT *, ${seq}::BIGINT AS __seq FROM out`);
  }

  /** A state projection's latest staged row per key (when its in-memory rows no longer hold them all). */
  async latestRows(keys: string[], key: string, orderBy: string): Promise<Row[]> {
    if (this.batches === 0 || keys.length === 0) return [];
    const keyColumn = this.shape.columns.find((c) => c.name === key)!;
    await loadRows(this.duck, '__wanted', keys.map((k) => ({ [key]: k })), [keyColumn]);
    const columns = this.shape.columns.map((c) => sqlIdent(c.name)).join(', ');
    const rows = await this.duck.rows(
      `SELECT to_json(t)::VARCHAR AS j FROM (
         SELECT ${columns} FROM __staged SEMI JOIN __wanted USING (${sqlIdent(key)})
         QUALIFY row_number() OVER (PARTITION BY ${sqlIdent(key)} ORDER BY ${sqlIdent(orderBy)} DESC, __seq DESC) = 1) t`,
    );
    return rows.map((r) => JSON.parse(r.j as string) as Row);
  }

  /** Folds everything staged and writes the final data files (not committed). */
  async finish(tableDir: string): Promise<AddFile[]> {
    if (this.batches === 0) return [];
    const { shape, sizes, duck } = this;
    await duck.run(`CREATE OR REPLACE TEMP TABLE __final AS ${shape.foldRebuild('__staged')}`);
    await duck.run('DROP TABLE __staged');
    const write = (relation: string, orderBy: string[], maxRows: number) => writeDataFiles(duck, tableDir, shape.columns, { relation, orderBy, maxRows });
    let adds: AddFile[];
    if (shape.mutable === 'none') adds = await write('__final', shape.appendOrder, sizes.appendRows);
    else if (shape.mutable === 'all') adds = await write('__final', shape.key, sizes.mutableRows);
    else {
      const open = sqlIdent(shape.open!);
      adds = [
        ...(await write(`(SELECT * FROM __final WHERE ${open} IS NULL)`, shape.key, sizes.mutableRows)),
        ...(await write(`(SELECT * FROM __final WHERE ${open} IS NOT NULL)`, shape.appendOrder, sizes.appendRows)),
      ];
    }
    await duck.run('DROP TABLE __final');
    return adds;
  }
}
