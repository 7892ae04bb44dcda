import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Domain } from '../domains/domain.js';
import { loadSnapshot as loadTableSnapshot, localFiles, NoVersionAtTimeError, type AsOf } from '../lake/delta/deltaTable.js';
import { dataFilePath } from '../lake/delta/snapshot.js';
import { Duck, sqlIdent } from '../lake/duckdb.js';
import type { LakeLayout } from '../lake/layout.js';
import { isRemote, joinLocation } from '../lake/storage/locations.js';
import type { EventlakeConfig } from '../projections/jobsConfig.js';
import type { Column, Projection } from '../projections/projection.js';
import { isBaseFile } from '../projections/tableMaintenance.js';
import { readLakeThroughAzureExtension } from './azureExtension.js';
import { readModelSelect, type TableFiles } from './readModelSelect.js';

/** sql/ at the package root: this file runs from dist/views/, or from views/ under vitest. */
export const SQL_DIR = [new URL('../../sql/', import.meta.url), new URL('../sql/', import.meta.url)]
  .map((url) => fileURLToPath(url))
  .find((dir) => existsSync(path.join(dir, 'superchargers.sql')))!;

/**
 * Builds the views database: a DuckDB file in the lake with one `read_models.<projection>` view
 * per job over the Parquet files of its table's latest Delta snapshot, then the domains' SQL.
 * It is built aside and renamed into place, so an open reader keeps a whole old version and a
 * new reader gets a whole new one.
 */
export async function buildViews(config: EventlakeConfig, layout: LakeLayout): Promise<string> {
  await fs.mkdir(layout.localRoot, { recursive: true });
  const target = layout.viewsDatabase;
  const tmp = `${target}.${process.pid}.tmp`;
  await removeDatabase(tmp);
  const duck = await Duck.open(tmp);
  try {
    await createViews(duck, config, layout);
  } finally {
    duck.close();
  }
  await fs.rename(tmp, target);
  await removeDatabase(tmp);
  return target;
}

/** Which snapshot of a job's table the views read: the latest, unless time travel says otherwise. */
export type SnapshotChoice = (jobName: string) => AsOf;

/**
 * SQL every domain's views may use. `utc_timestamp` turns a stored TIMESTAMPTZ into the UTC
 * TIMESTAMP analysts see by arithmetic (timezone('UTC', t) measured ~10x slower per row, the
 * largest cost of a full scan); `utc_instant` turns an analyst's UTC TIMESTAMP into the stored
 * type, so a filter on a `read_models_tz` column reaches the Parquet scan and its row-group stats.
 */
export const SHARED_SQL = `
CREATE SCHEMA read_models;
CREATE SCHEMA read_models_tz;
CREATE MACRO utc_timestamp(t) AS make_timestamp(epoch_us(t));
CREATE MACRO utc_instant(ts) AS timezone('UTC', CAST(ts AS TIMESTAMP));
`;

/**
 * Creates the read-model views and the domains' views in `duck` (a file or an in-memory database):
 * per projection `read_models_tz.<name>` (columns as stored) and `read_models.<name>` (timestamps
 * as UTC TIMESTAMP), then the domains' SQL.
 */
export async function createViews(duck: Duck, config: EventlakeConfig, layout: LakeLayout, at: SnapshotChoice = () => ({})): Promise<void> {
  const direct = readsLakeDirectly(config, layout);
  if (direct) await readLakeThroughAzureExtension(duck, config.lakeSpec);
  await duck.runScript(SHARED_SQL);
  for (const job of config.jobs) await createReadModel(duck, job.definition, await committedFiles(layout.tableDir(job.output), at(job.name), direct));
  // A read model no job writes is an empty view, so the domain's SQL still creates every view.
  const configured = new Set(config.jobs.map((j) => j.definition.name));
  for (const projection of config.registry.domains.flatMap((d) => d.projections)) {
    if (!configured.has(projection.name)) await createReadModel(duck, projection, { base: null, newer: [] });
  }
  for (const domain of config.registry.domains) if (domain.sqlFile) await duck.runScript(await domainSql(domain));
}

async function createReadModel(duck: Duck, projection: Projection, files: TableFiles): Promise<void> {
  const name = sqlIdent(projection.name);
  await duck.run(`CREATE VIEW read_models_tz.${name} AS ${readModelSelect(projection, files)}`);
  await duck.run(`CREATE VIEW read_models.${name} AS SELECT ${projection.columns.map(analystColumn).join(', ')} FROM read_models_tz.${name}`);
}

/** True when the views read the lake in ADLS through DuckDB's azure extension rather than local copies. */
export function readsLakeDirectly(config: EventlakeConfig, layout: LakeLayout): boolean {
  return config.views.remote === 'azure' && isRemote(layout.root);
}

async function committedFiles(tableDir: string, at: AsOf, direct: boolean): Promise<TableFiles> {
  let snapshot;
  try {
    snapshot = await loadTableSnapshot(tableDir, at);
  } catch (error) {
    // A time before the table's first commit: the read model was empty then.
    if (error instanceof NoVersionAtTimeError) return { base: null, newer: [] };
    throw error;
  }
  const adds = [...snapshot.files.values()];
  const locations = (files: typeof adds) => files.map((add) => joinLocation(tableDir, dataFilePath(add.path)));
  const local = async (files: typeof adds) => (direct ? locations(files) : localFiles(locations(files)));
  // Compaction leaves one base at most; should a snapshot hold several, none is trusted as one.
  const bases = adds.filter(isBaseFile);
  const base = bases.length === 1 ? bases[0] : undefined;
  return { base: base ? (await local([base]))[0] : null, newer: (await local(adds.filter((add) => add !== base))).sort() };
}

export function analystColumn(column: Column): string {
  const name = sqlIdent(column.name);
  return column.type === 'TIMESTAMPTZ' ? `utc_timestamp(${name}) AS ${name}` : name;
}

/** A domain's view SQL: `sqlFile` as a URL or absolute path (a relative one names a file in eventlake's sql/). */
export async function domainSql(domain: Domain): Promise<string> {
  const { sqlFile } = domain;
  const file = sqlFile instanceof URL ? fileURLToPath(sqlFile) : path.isAbsolute(sqlFile!) ? sqlFile! : path.join(SQL_DIR, sqlFile!);
  return fs.readFile(file, 'utf8');
}

async function removeDatabase(file: string): Promise<void> {
  await fs.rm(file, { force: true });
  await fs.rm(`${file}.wal`, { force: true });
}
