import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Domain } from '../domains/domain.js';
import { loadSnapshot as loadTableSnapshot, NoVersionAtTimeError, vacuumedFiles, type AsOf } from '../lake/delta/deltaTable.js';
import type { Snapshot } from '../lake/delta/snapshot.js';
import { Duck, sqlIdent, sqlPathList, sqlString } from '../lake/duckdb.js';
import type { LakeLayout } from '../lake/layout.js';
import { acquireLock, LockHeldError, type Lock } from '../lake/lock.js';
import { logger } from '../lake/logger.js';
import { isRemote } from '../lake/storage/locations.js';
import { definitionHash } from '../projections/definitionHash.js';
import type { EventlakeConfig } from '../projections/jobsConfig.js';
import type { Column, Projection } from '../projections/projection.js';
import { readLakeThroughAzureExtension } from './azureExtension.js';
import { applySnapshot, createDataTable, DATA_SCHEMA, dataTable, fileKeys } from './readModelData.js';

/** sql/ at the package root: this file runs from dist/views/, or from views/ under vitest. */
export const SQL_DIR = [new URL('../../sql/', import.meta.url), new URL('../sql/', import.meta.url)]
  .map((url) => fileURLToPath(url))
  .find((dir) => existsSync(path.join(dir, 'superchargers.sql')))!;

/** Bumped when the layout of the views database changes: an older file is then built anew. */
const VIEWS_FORMAT = 2;

/** A read model whose table could not be read: its rows in the views stay as last refreshed. */
export interface StaleReadModel {
  job: string;
  error: string;
}

/**
 * Brings the views database up to the tables' latest snapshots. The database holds each read
 * model's rows (readModelData.ts), the `read_models` views over them and the domains' views. It
 * is refreshed in a copy that is renamed into place, so an open reader keeps a whole old version
 * and a new reader gets a whole new one. A copy is refreshed by the difference since its last
 * refresh; a database of an older format or another config is built anew. A table that cannot
 * be read keeps its previous rows and is reported, so one broken table hides no other.
 */
export async function buildViews(config: EventlakeConfig, layout: LakeLayout): Promise<StaleReadModel[]> {
  return (await refreshViews(config, layout)).stale;
}

/** A views database as built: the read models it could not refresh, and the table version each read model shows. */
export interface BuiltViews {
  stale: StaleReadModel[];
  versions: Map<string, number>;
}

/**
 * `buildViews`, keeping the new file under a second name as well (a hard link, `keepAs`): the
 * service's serving views read that file as their base while `views.duckdb` may be replaced.
 */
export async function buildViewsBase(config: EventlakeConfig, layout: LakeLayout, keepAs: string): Promise<BuiltViews> {
  return refreshViews(config, layout, keepAs);
}

async function refreshViews(config: EventlakeConfig, layout: LakeLayout, keepAs?: string): Promise<BuiltViews> {
  return replaceViews(layout, keepAs, async (tmp) => {
    const fingerprint = await viewsFingerprint(config);
    const duck = await openCopy(layout.viewsDatabase, tmp, fingerprint);
    try {
      if (!(await hasViews(duck))) await createViews(duck, config, fingerprint);
      const stale = await refreshReadModels(duck, config, layout, () => ({}));
      const versions = await heldVersions(duck);
      await duck.run('CHECKPOINT');
      for (const s of stale) logger.warn({ job: s.job, error: s.error }, 'read model not refreshed in the views: its table could not be read');
      return { stale, versions };
    } finally {
      duck.close();
    }
  });
}

/**
 * Writes a new views database in a temp file (`build`), then puts it in place by rename (and
 * links it as `keepAs` first), holding the views lock so two refreshes never race.
 */
export async function replaceViews<T>(layout: LakeLayout, keepAs: string | undefined, build: (tmp: string) => Promise<T>): Promise<T> {
  await fs.mkdir(layout.localRoot, { recursive: true });
  const lock = await waitForLock(layout);
  try {
    const target = layout.viewsDatabase;
    const tmp = `${target}.${process.pid}.tmp`;
    await removeDatabase(tmp);
    const result = await build(tmp);
    if (keepAs) {
      await removeDatabase(keepAs);
      await fs.link(tmp, keepAs);
    }
    await fs.rename(tmp, target);
    await removeDatabase(tmp);
    return result;
  } finally {
    await lock.release();
  }
}

/** The table version each read model shows (jobs' read models; -1 for a table not yet created). */
export async function heldVersions(duck: Duck): Promise<Map<string, number>> {
  const rows = await duck.rows('SELECT name, table_version FROM eventlake.read_models');
  return new Map(rows.map((r) => [r.name as string, Number(r.table_version)]));
}

/** Which snapshot of a job's table the views read: the latest, unless time travel says otherwise. */
export type SnapshotChoice = (jobName: string) => AsOf;

/**
 * Time travel: the same views, in an in-memory database, over the tables as they were. Errors are
 * not swallowed here: a table that cannot be read as asked makes the query fail, saying why.
 */
export async function createViewsAt(duck: Duck, config: EventlakeConfig, layout: LakeLayout, at: SnapshotChoice): Promise<void> {
  await createViews(duck, config, await viewsFingerprint(config));
  const stale = await refreshReadModels(duck, config, layout, at);
  if (stale.length > 0) throw new Error(stale.map((s) => `${s.job}: ${s.error}`).join('; '));
}

/** The views database as it was (its copy, to refresh), or a new empty one when it cannot be reused. */
async function openCopy(target: string, tmp: string, fingerprint: string): Promise<Duck> {
  // A database with a write-ahead log was not closed cleanly: build it anew rather than trust it.
  if (existsSync(target) && !existsSync(`${target}.wal`)) {
    await fs.copyFile(target, tmp, fs.constants.COPYFILE_FICLONE);
    const duck = await Duck.open(tmp);
    if (await isReusable(duck, fingerprint)) return duck;
    duck.close();
    await removeDatabase(tmp);
  }
  return Duck.open(tmp);
}

async function isReusable(duck: Duck, fingerprint: string): Promise<boolean> {
  try {
    const rows = await duck.rows(`SELECT value FROM eventlake.views_meta WHERE key = 'fingerprint'`);
    return rows[0]?.value === fingerprint;
  } catch {
    return false; // an older layout without the bookkeeping schema
  }
}

async function hasViews(duck: Duck): Promise<boolean> {
  return Number(await duck.scalar(`SELECT count(*) FROM duckdb_schemas() WHERE schema_name = 'eventlake'`)) > 0;
}

/**
 * What the views database was built from: its format, the jobs and their projections, and the
 * domains' SQL. Any change builds it anew (views and tables), a refresh only moves rows.
 */
async function viewsFingerprint(config: EventlakeConfig): Promise<string> {
  const parts = [String(VIEWS_FORMAT)];
  for (const projection of readModels(config)) parts.push(`${projection.name}:${definitionHash(projection)}`);
  for (const job of config.jobs) parts.push(`${job.name}>${job.output}:${job.definition.name}`);
  for (const domain of config.registry.domains) if (domain.sqlFile) parts.push(await domainSql(domain));
  return createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 32);
}

/**
 * SQL every domain's views may use. `utc_timestamp` turns a stored TIMESTAMPTZ into the UTC
 * TIMESTAMP analysts see by arithmetic (timezone('UTC', t) measured ~10x slower per row, the
 * largest cost of a full scan); `utc_instant` turns an analyst's UTC TIMESTAMP into the stored type.
 */
export const SHARED_SQL = `
CREATE SCHEMA eventlake;
CREATE TABLE eventlake.views_meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE eventlake.read_models (name VARCHAR PRIMARY KEY, job VARCHAR, table_id VARCHAR, table_version BIGINT, files VARCHAR[], error VARCHAR);
CREATE SCHEMA ${DATA_SCHEMA};
CREATE SCHEMA read_models;
CREATE SCHEMA read_models_tz;
CREATE MACRO utc_timestamp(t) AS make_timestamp(epoch_us(t));
CREATE MACRO utc_instant(ts) AS timezone('UTC', CAST(ts AS TIMESTAMP));
`;

/**
 * Creates the bookkeeping, one empty data table per read model with `read_models_tz.<name>`
 * (columns as stored) and `read_models.<name>` (timestamps as UTC TIMESTAMP) over it, then the
 * domains' SQL. A read model no job writes stays empty, so every domain view still exists.
 */
async function createViews(duck: Duck, config: EventlakeConfig, fingerprint: string): Promise<void> {
  await duck.runScript(SHARED_SQL);
  await duck.run(`INSERT INTO eventlake.views_meta VALUES ('format', '${VIEWS_FORMAT}'), ('fingerprint', ${sqlString(fingerprint)})`);
  for (const projection of readModels(config)) {
    await createDataTable(duck, projection);
    const name = sqlIdent(projection.name);
    await duck.run(`CREATE VIEW read_models_tz.${name} AS SELECT ${projection.columns.map((c) => sqlIdent(c.name)).join(', ')} FROM ${dataTable(projection)}`);
    await duck.run(`CREATE VIEW read_models.${name} AS SELECT ${projection.columns.map(analystColumn).join(', ')} FROM read_models_tz.${name}`);
  }
  for (const domain of config.registry.domains) if (domain.sqlFile) await duck.runScript(await domainSql(domain));
}

/** Every projection of the configured domains, each once. */
export function readModels(config: EventlakeConfig): Projection[] {
  return config.registry.domains.flatMap((d) => d.projections);
}

/** Moves each job's rows to the snapshot `at` chooses; returns the jobs whose table could not be read. */
async function refreshReadModels(duck: Duck, config: EventlakeConfig, layout: LakeLayout, at: SnapshotChoice): Promise<StaleReadModel[]> {
  const direct = readsLakeDirectly(config, layout);
  if (direct) await readLakeThroughAzureExtension(duck, config.lakeSpec);
  const stale: StaleReadModel[] = [];
  for (const job of config.jobs) {
    const projection = job.definition;
    const [held] = await duck.rows(`SELECT table_id, table_version, files FROM eventlake.read_models WHERE name = ${sqlString(projection.name)}`);
    const record = (id: unknown, version: unknown, files: string[], error: string | null) =>
      duck.run(`INSERT OR REPLACE INTO eventlake.read_models VALUES (${sqlString(projection.name)}, ${sqlString(job.name)}, ${id ? sqlString(String(id)) : 'NULL'}, ${Number(version ?? -1)}, ${sqlPathList(files)}::VARCHAR[], ${error === null ? 'NULL' : sqlString(error)})`);
    // One transaction per read model: a table that fails halfway leaves its rows as they were.
    await duck.run('BEGIN TRANSACTION');
    try {
      const snapshot = await snapshotAt(layout.tableDir(job.output), at(job.name));
      const id = snapshot?.metadata?.id ?? null;
      // The same table (a table made anew restarts its versions) at the same version: nothing moved.
      const sameTable = held && held.table_id === id;
      if (sameTable && Number(held.table_version) === (snapshot?.version ?? -1)) {
        await duck.run('COMMIT');
        continue;
      }
      const heldVersion = sameTable ? { version: Number(held.table_version), files: new Set((held.files as string[] | undefined) ?? []) } : null;
      await applySnapshot(duck, projection, layout.tableDir(job.output), snapshot, heldVersion, direct);
      await record(id, snapshot?.version, [...fileKeys(snapshot)], null);
      await duck.run('COMMIT');
    } catch (error) {
      await duck.run('ROLLBACK');
      const message = (error as Error).message;
      stale.push({ job: job.name, error: message });
      await record(held?.table_id, held?.table_version, (held?.files as string[] | undefined) ?? [], message);
    }
  }
  return stale;
}

/** The table's snapshot, or null when there is none (no commits yet, or a time before the first). */
async function snapshotAt(tableDir: string, at: AsOf): Promise<Snapshot | null> {
  try {
    const snapshot = await loadTableSnapshot(tableDir, at);
    if (snapshot.version < 0) return null;
    // An older version whose files vacuum deleted: say so (the reader would only say "No files found").
    const gone = at.version !== undefined || at.timestamp !== undefined ? await vacuumedFiles(tableDir, snapshot) : [];
    if (gone.length > 0) {
      throw new Error(`version ${snapshot.version} of ${tableDir} cannot be read: ${gone.length} of its files were vacuumed (first: ${gone[0]}); time travel reaches back as far as vacuum's retention (vacuumRetentionHours)`);
    }
    return snapshot;
  } catch (error) {
    if (error instanceof NoVersionAtTimeError) return null;
    throw error;
  }
}

/** True when the views read the lake in ADLS through DuckDB's azure extension rather than local copies. */
export function readsLakeDirectly(config: EventlakeConfig, layout: LakeLayout): boolean {
  return config.views.remote === 'azure' && isRemote(layout.root);
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

/** One refresh at a time per lake: two would each copy the same old file and the last rename would win. */
async function waitForLock(layout: LakeLayout): Promise<Lock> {
  for (let waited = 0; ; waited += 50) {
    try {
      return await acquireLock(layout.lockFile('views'), 'refresh of the views database');
    } catch (error) {
      if (!(error instanceof LockHeldError) || waited > 120_000) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

async function removeDatabase(file: string): Promise<void> {
  await fs.rm(file, { force: true });
  await fs.rm(`${file}.wal`, { force: true });
}
