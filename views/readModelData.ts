import type { AddFile } from '../lake/delta/actions.js';
import { localFiles } from '../lake/delta/deltaTable.js';
import { dataFilePath, type Snapshot } from '../lake/delta/snapshot.js';
import { sqlIdent, sqlPathList, type Duck } from '../lake/duckdb.js';
import { joinLocation } from '../lake/storage/locations.js';
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
 * inserted. A copy-on-write batch rewrites whole files for a few changed rows, and compaction
 * rewrites files without changing any, so the difference is what really changed: refreshing costs
 * reading the touched files, and writing only the changed rows.
 */
export const DATA_SCHEMA = 'read_model_data';

export function dataTable(projection: Projection): string {
  return `${DATA_SCHEMA}.${sqlIdent(projection.name)}`;
}

/** An empty copy of the read model. */
export async function createDataTable(duck: Duck, projection: Projection): Promise<void> {
  await duck.run(`CREATE TABLE ${dataTable(projection)} (${projection.columns.map((c) => `${sqlIdent(c.name)} ${c.type}`).join(', ')})`);
}

/**
 * Brings the copy from the files it holds (`held`: Delta paths; null when it holds nothing known,
 * e.g. a new database) to the snapshot's. `direct`: read the lake's own locations (DuckDB's azure
 * extension) instead of local copies. Returns the files it now holds.
 */
export async function applySnapshot(duck: Duck, projection: Projection, tableDir: string, snapshot: Snapshot | null, held: Set<string> | null, direct: boolean): Promise<Set<string>> {
  const files = new Map([...(snapshot?.files.values() ?? [])].map((add) => [add.path, add]));
  const table = dataTable(projection);
  const read = (adds: AddFile[]) => readFiles(projection, tableDir, adds, direct);
  if (held === null) {
    await duck.run(`DELETE FROM ${table}`);
    if (files.size > 0) await duck.run(`INSERT INTO ${table} ${await read([...files.values()])}`);
    return new Set(files.keys());
  }
  const removed = [...held].filter((p) => !files.has(p));
  const added = [...files.values()].filter((add) => !held.has(add.path));
  if (removed.length === 0 && added.length === 0) return held;
  // Facts may repeat a row, and deleting by value would take every copy: their files are only
  // ever removed whole (rebuild, rollback) or merged by compaction, which the difference empties.
  const removedRows = removed.length === 0 ? emptyRows(projection) : await readRemoved(projection, tableDir, removed, direct);
  const addedRows = added.length === 0 ? emptyRows(projection) : await read(added);
  await duck.run(`CREATE OR REPLACE TEMP TABLE __gone AS ${removedRows} EXCEPT ALL ${addedRows}`);
  await duck.run(`CREATE OR REPLACE TEMP TABLE __new AS ${addedRows} EXCEPT ALL ${removedRows}`);
  const gone = Number(await duck.scalar('SELECT count(*) FROM __gone'));
  if (gone > 0 && tableShape(projection).mutable === 'none') {
    await duck.run(`DELETE FROM ${table}`);
    await duck.run(`INSERT INTO ${table} ${await read([...files.values()])}`);
  } else {
    if (gone > 0) await duck.run(`DELETE FROM ${table} AS t USING __gone AS g WHERE ${projection.columns.map((c) => `t.${sqlIdent(c.name)} IS NOT DISTINCT FROM g.${sqlIdent(c.name)}`).join(' AND ')}`);
    await duck.run(`INSERT INTO ${table} SELECT * FROM __new`);
  }
  await duck.run('DROP TABLE __gone');
  await duck.run('DROP TABLE __new');
  return new Set(files.keys());
}

/** The rows of files the snapshot removed: gone from the lake after vacuum, so say which and why. */
async function readRemoved(projection: Projection, tableDir: string, paths: string[], direct: boolean): Promise<string> {
  const adds = paths.map((path): AddFile => ({ path, partitionValues: {}, size: 0, modificationTime: 0, dataChange: true }));
  return readFiles(projection, tableDir, adds, direct);
}

/** A SELECT of the files' rows, the read model's columns in order. */
async function readFiles(projection: Projection, tableDir: string, adds: AddFile[], direct: boolean): Promise<string> {
  const locations = adds.map((add) => joinLocation(tableDir, dataFilePath(add.path)));
  const readable = direct ? locations : await localFiles(locations);
  return `SELECT ${projection.columns.map((c) => sqlIdent(c.name)).join(', ')} FROM read_parquet(${sqlPathList(readable)})`;
}

function emptyRows(projection: Projection): string {
  return `SELECT ${projection.columns.map((c) => `CAST(NULL AS ${c.type}) AS ${sqlIdent(c.name)}`).join(', ')} WHERE false`;
}

