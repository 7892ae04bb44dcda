import fs from 'node:fs/promises';
import { Duck, sqlIdent, sqlString } from '../lake/duckdb.js';
import type { EventlakeConfig } from '../projections/jobsConfig.js';
import type { Projection } from '../projections/projection.js';
import { tableShape } from '../projections/tableShape.js';
import { lockDown } from './query.js';
import type { DeltaState, ServingDelta } from './servingDelta.js';
import { analystColumn, domainSql, readModels } from './viewsDatabase.js';
import { DATA_SCHEMA } from './readModelData.js';

/**
 * The serving views: what `serve`'s query processes read. A read model is its rows in a base
 * (a views database, attached read-only as `base`) with the rows changed since then laid over
 * them: the base rows of replaced keys hidden, the rows added since shown. The changed rows are
 * held in the query process's memory and reach DuckDB through two table functions, so following
 * a commit costs the process no file and no new database:
 *
 *   eventlake_delta_hidden(read_model) -> key   JSON objects of the keys whose replaceable base row is hidden
 *   eventlake_delta_rows(read_model)   -> row   JSON objects of the rows added since the base
 *
 * The views over them live in a catalog file of their own (outside DuckDB clients never open it:
 * they read `views.duckdb`, which has no such functions), built once per service start and
 * opened read-only like everything else a query touches.
 */
export const HIDDEN_FUNCTION = 'eventlake_delta_hidden';
export const ROWS_FUNCTION = 'eventlake_delta_rows';
/** `eventlake_delta_versions('')` -> row: JSON {name, table_version} of each read model the delta holds. */
export const VERSIONS_FUNCTION = 'eventlake_delta_versions';

/** Where a serving instance reads from: the catalog of views and the base holding the rows. */
export interface ServingFiles {
  catalog: string;
  base: string;
}

/** A base the query processes read: a views database file kept under its own name, and the catalog over it. */
export interface ServingBase extends ServingFiles {
  id: number;
}

/** What a query process needs to serve: the base, and the delta over it. */
export interface ServingState {
  base: ServingBase;
  /** Each read model's table version in the base. */
  versions: [string, number][];
  /**
   * The rows changed since the base; null for a merged base sent to a query process that holds
   * every step the base does not (views/servingDelta.ts, `StepLog`): it lays them over the base
   * itself.
   */
  delta: DeltaState | null;
  /**
   * The base holds the previous base's rows with its delta merged (true), so the previous one
   * still answers the same meanwhile; false when the tables were read anew (a resync): queries
   * then wait for this base, which holds rows the previous one lacks.
   */
  merged: boolean;
}

/**
 * Writes the catalog: the same schemas, macros and domain views as the views database, with
 * `read_model_data.<name>` as base-plus-delta views instead of tables. `base` is any views
 * database of this config (the views are bound against it, then it is detached).
 */
export async function createServingCatalog(file: string, base: string, config: EventlakeConfig): Promise<void> {
  await fs.rm(file, { force: true });
  await fs.rm(`${file}.wal`, { force: true });
  const duck = await Duck.open(file);
  try {
    await duck.run(`ATTACH ${sqlString(base)} AS base (READ_ONLY)`);
    registerDeltaFunctions(duck, () => null);
    await duck.runScript(CATALOG_SQL);
    for (const projection of readModels(config)) {
      const name = sqlIdent(projection.name);
      await duck.run(`CREATE VIEW ${DATA_SCHEMA}.${name} AS ${servedRows(projection)}`);
      await duck.run(`CREATE VIEW read_models_tz.${name} AS SELECT ${projection.columns.map((c) => sqlIdent(c.name)).join(', ')} FROM ${DATA_SCHEMA}.${name}`);
      await duck.run(`CREATE VIEW read_models.${name} AS SELECT ${projection.columns.map(analystColumn).join(', ')} FROM read_models_tz.${name}`);
    }
    await duck.run(
      `CREATE VIEW eventlake.read_models AS SELECT b.name, b.job, b.table_id, coalesce(v.table_version, b.table_version) AS table_version, b.error
       FROM base.eventlake.read_models AS b
       LEFT JOIN (SELECT unnest(json_transform(row, '{"name":"VARCHAR","table_version":"BIGINT"}')) FROM ${VERSIONS_FUNCTION}('')) AS v USING (name)`,
    );
    for (const domain of config.registry.domains) if (domain.sqlFile) await duck.runScript(await domainSql(domain));
    await duck.run('DETACH base');
    await duck.run('CHECKPOINT');
  } finally {
    duck.close();
  }
}

const CATALOG_SQL = `
CREATE SCHEMA eventlake;
CREATE SCHEMA ${DATA_SCHEMA};
CREATE SCHEMA read_models;
CREATE SCHEMA read_models_tz;
CREATE MACRO utc_timestamp(t) AS make_timestamp(epoch_us(t));
CREATE MACRO utc_instant(ts) AS timezone('UTC', CAST(ts AS TIMESTAMP));
`;

/** One read model's rows: the base's, less the hidden replaceable rows, plus the delta's rows. */
function servedRows(projection: Projection): string {
  const shape = tableShape(projection);
  const name = sqlIdent(projection.name);
  const columns = projection.columns.map((c) => `b.${sqlIdent(c.name)}`).join(', ');
  let base = `SELECT ${columns} FROM base.${DATA_SCHEMA}.${name} AS b`;
  if (shape.key.length > 0) base += ` ANTI JOIN (${hiddenKeys(projection)}) AS h ON ${hiddenMatch(projection, 'b', 'h')}`;
  return `${base} UNION ALL ${addedRows(projection)}`;
}

/** The delta's hidden keys of a read model, as typed key columns. */
export function hiddenKeys(projection: Projection): string {
  return `SELECT unnest(json_transform(key, ${typeSpec(projection, tableShape(projection).key)})) FROM ${HIDDEN_FUNCTION}(${sqlString(projection.name)})`;
}

/** The delta's added rows of a read model, as typed columns in the table's order. */
export function addedRows(projection: Projection): string {
  return `SELECT unnest(json_transform(row, ${typeSpec(projection, projection.columns.map((c) => c.name))})) FROM ${ROWS_FUNCTION}(${sqlString(projection.name)})`;
}

/**
 * A base row (alias `row`) hidden by a key (alias `key`): the same key, and for a history only its
 * open row (closed rows are final and always shown).
 */
export function hiddenMatch(projection: Projection, row: string, key: string): string {
  const shape = tableShape(projection);
  const match = shape.key.map((k) => `${row}.${sqlIdent(k)} IS NOT DISTINCT FROM ${key}.${sqlIdent(k)}`);
  if (shape.mutable === 'open' && shape.open) match.push(`${row}.${sqlIdent(shape.open)} IS NULL`);
  return match.join(' AND ');
}

/** json_transform's structure for these columns: {"name": "TYPE", ...} in this order. */
function typeSpec(projection: Projection, names: string[]): string {
  return sqlString(JSON.stringify(Object.fromEntries(names.map((n) => [n, projection.columns.find((c) => c.name === n)!.type]))));
}

/** Registers the delta functions over whatever delta `current()` returns (null: none yet, so empty). */
export function registerDeltaFunctions(duck: Duck, current: () => ServingDelta | null): void {
  duck.registerStringTableFunction(HIDDEN_FUNCTION, 'key', (readModel) => [...(current()?.model(readModel)?.hidden ?? [])]);
  duck.registerStringTableFunction(ROWS_FUNCTION, 'row', (readModel) => current()?.model(readModel)?.rows() ?? []);
  duck.registerStringTableFunction(VERSIONS_FUNCTION, 'row', () => [...(current()?.versions() ?? [])].map(([name, version]) => JSON.stringify({ name, table_version: version })));
}

/**
 * A serving instance for one base: the catalog and the base opened read-only, the delta functions
 * over `delta`, then locked down like the views database (no file access, configuration
 * locked), so no statement can write anything anywhere. A query runs on a connection of its own
 * (`Duck.connect`), so nothing it leaves in its session (a temp view named like a read model, a
 * search_path) reaches the next query. `settings` are fixed before the lock (memory_limit).
 */
export async function openServing(files: ServingFiles, delta: () => ServingDelta | null, settings: Record<string, string> = {}): Promise<Duck> {
  const duck = await Duck.open(files.catalog, { ...settings, access_mode: 'READ_ONLY' });
  try {
    await duck.run(`ATTACH ${sqlString(files.base)} AS base (READ_ONLY)`);
    // Every connection of the instance, not just this one, must read timestamps in UTC.
    await duck.run("SET GLOBAL TimeZone = 'UTC'");
    registerDeltaFunctions(duck, delta);
    await lockDown(duck);
    return duck;
  } catch (error) {
    duck.close();
    throw error;
  }
}
