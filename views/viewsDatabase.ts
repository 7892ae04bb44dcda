import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Domain } from '../domains/domain.js';
import { loadSnapshot as loadTableSnapshot, NoVersionAtTimeError, snapshotLocalFiles, type AsOf } from '../lake/delta/deltaTable.js';
import { Duck, sqlIdent, sqlPathList } from '../lake/duckdb.js';
import type { LakeLayout } from '../lake/layout.js';
import { emptySelect } from '../projections/batchTables.js';
import type { EventlakeConfig } from '../projections/jobsConfig.js';
import type { Column, Projection } from '../projections/projection.js';

/** sql/ at the package root (this file runs from dist/views/). */
export const SQL_DIR = fileURLToPath(new URL('../../sql/', import.meta.url));

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

/** Creates the read-model views and the domains' views in `duck` (a file or an in-memory database). */
export async function createViews(duck: Duck, config: EventlakeConfig, layout: LakeLayout, at: SnapshotChoice = () => ({})): Promise<void> {
  await duck.run('CREATE SCHEMA read_models');
  for (const job of config.jobs) {
    const files = await committedFiles(layout.tableDir(job.output), at(job.name));
    await duck.run(`CREATE VIEW read_models.${sqlIdent(job.definition.name)} AS ${readModelSelect(job.definition, files)}`);
  }
  // A read model no job writes is an empty view, so the domain's SQL still creates every view.
  const configured = new Set(config.jobs.map((j) => j.definition.name));
  for (const projection of config.registry.domains.flatMap((d) => d.projections)) {
    if (!configured.has(projection.name)) await duck.run(`CREATE VIEW read_models.${sqlIdent(projection.name)} AS ${readModelSelect(projection, [])}`);
  }
  for (const domain of config.registry.domains) if (domain.sqlFile) await duck.runScript(await domainSql(domain));
}

async function committedFiles(tableDir: string, at: AsOf): Promise<string[]> {
  let snapshot;
  try {
    snapshot = await loadTableSnapshot(tableDir, at);
  } catch (error) {
    // A time before the table's first commit: the read model was empty then.
    if (error instanceof NoVersionAtTimeError) return [];
    throw error;
  }
  return (await snapshotLocalFiles(tableDir, snapshot)).sort();
}

/** Timestamps as UTC TIMESTAMP (analysts write TIMESTAMP literals); state tables one row per key. */
function readModelSelect(projection: Projection, files: string[]): string {
  const select = projection.columns.map(analystColumn).join(', ');
  if (files.length === 0) return `SELECT ${select} FROM (${emptySelect(projection.columns)})`;
  const from = `read_parquet(${sqlPathList(files)})`;
  if (projection.kind !== 'state') return `SELECT ${select} FROM ${from}`;
  const latest = `QUALIFY row_number() OVER (PARTITION BY ${sqlIdent(projection.key)} ORDER BY ${sqlIdent(projection.orderBy)} DESC) = 1`;
  return `SELECT ${select} FROM ${from} ${latest}`;
}

function analystColumn(column: Column): string {
  const name = sqlIdent(column.name);
  return column.type === 'TIMESTAMPTZ' ? `timezone('UTC', ${name}) AS ${name}` : name;
}

async function domainSql(domain: Domain): Promise<string> {
  const file = path.isAbsolute(domain.sqlFile!) ? domain.sqlFile! : path.join(SQL_DIR, domain.sqlFile!);
  return fs.readFile(file, 'utf8');
}

async function removeDatabase(file: string): Promise<void> {
  await fs.rm(file, { force: true });
  await fs.rm(`${file}.wal`, { force: true });
}
