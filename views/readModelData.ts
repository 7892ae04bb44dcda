import type { AddFile } from '../lake/delta/actions.js';
import { localFiles } from '../lake/delta/deltaTable.js';
import { dataFilePath, type Snapshot } from '../lake/delta/snapshot.js';
import { sqlIdent, sqlPathList, sqlString, type Duck } from '../lake/duckdb.js';
import { joinLocation } from '../lake/storage/locations.js';
import type { Column, Projection } from '../projections/projection.js';

/**
 * A read model's rows copied into the views database (`read_model_data.<name>`), so that queries
 * read DuckDB's own storage and never a file: the query connection then runs with every file
 * system access off (views/query.ts), which is what makes it unable to write anything anywhere,
 * and a views database moved or copied with its lake answers the same without reading anything.
 *
 * Each row remembers the data file it came from (`_file`, the Delta path) and its position in
 * it (`_row`), so a new table version is applied as its difference: rows of removed files
 * deleted, rows of added files inserted. A batch's commit rewrites few files, so refreshing the
 * views costs what the batch changed, not the size of the table.
 */
export const DATA_SCHEMA = 'read_model_data';

export function dataTable(projection: Projection): string {
  return `${DATA_SCHEMA}.${sqlIdent(projection.name)}`;
}

/** An empty copy of the read model with its bookkeeping columns. */
export async function createDataTable(duck: Duck, projection: Projection): Promise<void> {
  const columns = [...projection.columns.map((c) => `${sqlIdent(c.name)} ${c.type}`), '_file VARCHAR', '_row BIGINT'];
  await duck.run(`CREATE TABLE ${dataTable(projection)} (${columns.join(', ')})`);
}

/**
 * Brings the copy from the files it holds to the snapshot's: deletes the rows of files the
 * snapshot no longer has, inserts those of files it added. `direct`: read the lake's own
 * locations (DuckDB's azure extension) instead of local copies. Returns the new file set.
 */
export async function applySnapshot(duck: Duck, projection: Projection, tableDir: string, snapshot: Snapshot | null, held: Set<string>, direct: boolean): Promise<Set<string>> {
  const files = new Map([...(snapshot?.files.values() ?? [])].map((add) => [add.path, add]));
  const removed = [...held].filter((p) => !files.has(p));
  const added = [...files.values()].filter((add) => !held.has(add.path));
  const table = dataTable(projection);
  if (removed.length > 0) {
    await duck.run(`CREATE OR REPLACE TEMP TABLE __gone AS SELECT unnest(${sqlPathList(removed)}) AS f`);
    await duck.run(`DELETE FROM ${table} WHERE _file IN (SELECT f FROM __gone)`);
  }
  if (added.length > 0) await insertFiles(duck, projection.columns, table, tableDir, added, direct);
  return new Set(files.keys());
}

async function insertFiles(duck: Duck, columns: Column[], table: string, tableDir: string, adds: AddFile[], direct: boolean): Promise<void> {
  const locations = adds.map((add) => joinLocation(tableDir, dataFilePath(add.path)));
  const readable = direct ? locations : await localFiles(locations);
  const mapping = readable.map((local, i) => `(${sqlString(local)}, ${sqlString(adds[i].path)})`).join(', ');
  await duck.run(`CREATE OR REPLACE TEMP TABLE __paths AS SELECT * FROM (VALUES ${mapping}) AS v(local, path)`);
  await duck.run(
    `INSERT INTO ${table}
     SELECT ${columns.map((c) => `t.${sqlIdent(c.name)}`).join(', ')}, p.path, t.file_row_number
     FROM read_parquet(${sqlPathList(readable)}, filename = true, file_row_number = true) AS t JOIN __paths AS p ON p.local = t.filename`,
  );
}
