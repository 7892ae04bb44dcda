import type { AddFile } from '../lake/delta/actions.js';
import { sqlIdent, type Duck } from '../lake/duckdb.js';
import { withNdjsonSelect, withRowsSelect } from './batchTables.js';
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
    await this.stageSelect('SELECT * FROM out');
  }

  /**
   * Adds the rows of a SELECT as a batch, with no `out` table between (a SQL rebuild's one
   * statement over the sealed log, rows read from JSON). A batch that fails to stage leaves
   * nothing staged (one statement) and takes no `__seq`: it may be staged again, without the rows
   * that made it fail.
   */
  async stageSelect(select: string): Promise<void> {
    const seq = this.batches;
    if (seq === 0) await this.duck.run(`CREATE OR REPLACE TEMP TABLE __staged AS SELECT *, ${seq}::BIGINT AS __seq FROM (${select})`);
    else await this.duck.run(`INSERT INTO __staged BY NAME SELECT *, ${seq}::BIGINT AS __seq FROM (${select})`);
    this.batches += 1;
  }

  /** Stages rows made in JS (a rows job's batch, a state rebuild's evicted or final rows) as a batch, straight from their JSON. */
  async stageRows(rows: Row[]): Promise<void> {
    await withRowsSelect(rows, this.shape.columns, (select) => this.stageSelect(select));
  }

  /** Stages rows serialized already (NdjsonLines) as a batch. */
  async stageNdjson(ndjson: Buffer): Promise<void> {
    await withNdjsonSelect(ndjson, this.shape.columns, (select) => this.stageSelect(select));
  }

  /** SQL: the latest staged row (the table's columns) of each key in `keys` (a relation of one column `key`). */
  latestRowsSql(keys: string, key: string, orderBy: string): string {
    const columns = this.shape.columns.map((c) => sqlIdent(c.name)).join(', ');
    return `SELECT ${columns} FROM __staged WHERE CAST(${sqlIdent(key)} AS VARCHAR) IN (SELECT key FROM ${keys})
      QUALIFY row_number() OVER (PARTITION BY ${sqlIdent(key)} ORDER BY ${sqlIdent(orderBy)} DESC, __seq DESC) = 1`;
  }

  /**
   * Folds everything staged and writes the final data files (not committed). `foldedAlready`:
   * the staged rows are the final ones (a state rebuild that staged each key once, or facts),
   * no fold needed.
   */
  async finish(tableDir: string, foldedAlready = false): Promise<AddFile[]> {
    if (this.batches === 0) return [];
    const { shape, sizes, duck } = this;
    // Facts fold to themselves (every staged row, in log order): no copy (writing the files copies them once more).
    if (foldedAlready || shape.mutable === 'none') await duck.run('ALTER TABLE __staged RENAME TO __final');
    else {
      await duck.run(`CREATE OR REPLACE TEMP TABLE __final AS ${shape.foldRebuild('__staged')}`);
      await duck.run('DROP TABLE __staged');
    }
    // Every relation below reads `__final`, a table: written straight from it when it fits one file.
    const write = (relation: string, orderBy: string[], maxRows: number) => writeDataFiles(duck, tableDir, shape.columns, { relation, orderBy, maxRows, inMemory: true });
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
