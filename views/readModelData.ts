import type { AddFile } from '../lake/delta/actions.js';
import { liveRowsSelect, loadSnapshot, localFiles } from '../lake/delta/deltaTable.js';
import { logicalFileKey } from '../lake/delta/logicalFile.js';
import type { Snapshot } from '../lake/delta/snapshot.js';
import { sqlIdent, type Duck } from '../lake/duckdb.js';
import type { Projection } from '../projections/projection.js';
import { tableShape } from '../projections/tableShape.js';

/**
 * A read model's rows copied into the views database (`read_model_data.<name>`), so that queries
 * read DuckDB's own storage and never a file: the query connection then runs with every file
 * system access off (views/query.ts), which is what makes it unable to write anything anywhere,
 * and a views database moved or copied with its lake answers the same without reading anything.
 *
 * A new table version is applied as its difference in rows: the rows of the files it removed that
 * no added file holds are deleted, the rows of added files that no removed file held are
 * inserted. A copy-on-write batch rewrites whole files for a few changed rows, compaction rewrites
 * files without changing any, and a deletion vector re-adds a file with fewer live rows, so the
 * difference is what really changed: refreshing reads the touched files and writes only the
 * changed rows.
 */
export const DATA_SCHEMA = 'read_model_data';

export function dataTable(projection: Projection): string {
  return `${DATA_SCHEMA}.${sqlIdent(projection.name)}`;
}

/** An empty copy of the read model. */
export async function createDataTable(duck: Duck, projection: Projection): Promise<void> {
  await duck.run(`CREATE TABLE ${dataTable(projection)} (${projection.columns.map((c) => `${sqlIdent(c.name)} ${c.type}`).join(', ')})`);
}

/** What a copy holds: the table version and its files (path and deletion vector). */
export interface HeldVersion {
  version: number;
  files: Set<string>;
}

/** The logical files of a snapshot: a file with another deletion vector is another file. */
export function fileKeys(snapshot: Snapshot | null): Set<string> {
  return new Set([...(snapshot?.files.values() ?? [])].map(fileKey));
}

/** A file's logical key as the views database stores it (a tab, not a NUL, before the DV's id). */
function fileKey(add: AddFile): string {
  return logicalFileKey(add.path, add.deletionVector).replace('\u0000', '\t');
}

/**
 * Brings the copy from the version it holds (null: nothing known, e.g. a new database) to the
 * snapshot (null: no table yet). `direct`: read the lake's own locations (DuckDB's azure
 * extension) instead of local copies.
 */
export async function applySnapshot(duck: Duck, projection: Projection, tableDir: string, snapshot: Snapshot | null, held: HeldVersion | null, direct: boolean): Promise<void> {
  const table = dataTable(projection);
  const reader = new FileRows(duck, projection, tableDir, direct);
  const reload = async () => {
    await duck.run(`DELETE FROM ${table}`);
    if (snapshot && snapshot.files.size > 0) await duck.run(`INSERT INTO ${table} ${await reader.rows(snapshot, [...snapshot.files.values()])}`);
  };
  const before = held && held.version >= 0 ? await loadSnapshot(tableDir, { version: held.version }).catch(() => null) : null;
  if (held === null || (held.version >= 0 && before === null)) return reload();
  const now = new Map([...(snapshot?.files.values() ?? [])].map((add) => [fileKey(add), add]));
  const removed = [...(before?.files.values() ?? [])].filter((add) => !now.has(fileKey(add)));
  const added = [...now].filter(([key]) => !held.files.has(key)).map(([, add]) => add);
  if (removed.length === 0 && added.length === 0) return;
  const removedRows = removed.length === 0 ? emptyRows(projection) : await reader.rows(before!, removed);
  const addedRows = added.length === 0 ? emptyRows(projection) : await reader.rows(snapshot!, added);
  await duck.run(`CREATE OR REPLACE TEMP TABLE __gone AS ${removedRows} EXCEPT ALL ${addedRows}`);
  await duck.run(`CREATE OR REPLACE TEMP TABLE __new AS ${addedRows} EXCEPT ALL ${removedRows}`);
  const gone = Number(await duck.scalar('SELECT count(*) FROM __gone'));
  // Facts may repeat a row, and deleting by value would take every copy: their rows only go when
  // their files are removed whole (rebuild, rollback), so the read model is reloaded then.
  if (gone > 0 && tableShape(projection).mutable === 'none') await reload();
  else {
    if (gone > 0) await duck.run(`DELETE FROM ${table} AS t USING __gone AS g WHERE ${projection.columns.map((c) => `t.${sqlIdent(c.name)} IS NOT DISTINCT FROM g.${sqlIdent(c.name)}`).join(' AND ')}`);
    await duck.run(`INSERT INTO ${table} SELECT * FROM __new`);
  }
  await duck.run('DROP TABLE __gone');
  await duck.run('DROP TABLE __new');
}

/** SELECTs of the live rows of some files of a table version, the read model's columns in order. */
class FileRows {
  private tables = 0;

  constructor(
    private readonly duck: Duck,
    private readonly projection: Projection,
    private readonly tableDir: string,
    private readonly direct: boolean,
  ) {}

  async rows(snapshot: Snapshot, files: AddFile[]): Promise<string> {
    const { sql } = await liveRowsSelect(this.duck, this.tableDir, snapshot, {
      files,
      // Each read of one refresh keeps its own deleted rows: two SELECTs of one statement use both.
      deletedRowsTable: { name: `__deleted_rows_${this.tables++}` },
      readPaths: this.direct ? async (locations) => locations : localFiles,
    });
    return `SELECT ${this.projection.columns.map((c) => sqlIdent(c.name)).join(', ')} FROM (${sql})`;
  }
}

function emptyRows(projection: Projection): string {
  return `SELECT ${projection.columns.map((c) => `CAST(NULL AS ${c.type}) AS ${sqlIdent(c.name)}`).join(', ')} WHERE false`;
}
