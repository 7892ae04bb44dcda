import fs from 'node:fs';
import { Duck, sqlPathList } from '../lake/duckdb.js';
import type { LakeLayout } from '../lake/layout.js';
import { isRemote, locate } from '../lake/storage/locations.js';
import type { EventlakeConfig } from '../projections/jobsConfig.js';
import { readLakeThroughAzureExtension } from './azureExtension.js';
import { createViews, readsLakeDirectly, type SnapshotChoice } from './viewsDatabase.js';

export interface QueryResult {
  columns: { name: string; type: string }[];
  rows: Record<string, unknown>[];
}

/**
 * Opens the views database for analysts' SQL, locked down by DuckDB itself rather than by
 * inspecting the SQL: the file is opened read-only (no writes), external access is off except for
 * the lake's tables folder (no reading or writing other files, no ATTACH, no extension installs),
 * and the configuration is locked so the query cannot turn any of that back on. `settings` are
 * DuckDB settings fixed before the lock (the service's query processes cap `memory_limit`).
 */
export async function openReadOnlyViews(layout: LakeLayout, config?: EventlakeConfig, settings: Record<string, string> = {}): Promise<Duck> {
  if (!fs.existsSync(layout.viewsDatabase)) {
    throw new Error(`no views database at ${layout.viewsDatabase}: run \`eventlake run\` on this lake first`);
  }
  const duck = await Duck.open(layout.viewsDatabase, { ...settings, access_mode: 'READ_ONLY' });
  try {
    const direct = config !== undefined && readsLakeDirectly(config, layout);
    if (direct) await readLakeThroughAzureExtension(duck, config.lakeSpec);
    await lockDown(duck, layout, direct);
    return duck;
  } catch (error) {
    duck.close();
    throw error;
  }
}

/**
 * Time travel: the same views over the tables as they were at a commit version or time, built in
 * an in-memory database and then locked down like the views file.
 */
export async function openViewsAt(config: EventlakeConfig, layout: LakeLayout, at: SnapshotChoice): Promise<Duck> {
  const duck = await Duck.open(':memory:');
  try {
    await createViews(duck, config, layout, at);
    await lockDown(duck, layout, readsLakeDirectly(config, layout));
    return duck;
  } catch (error) {
    duck.close();
    throw error;
  }
}

async function lockDown(duck: Duck, layout: LakeLayout, direct: boolean): Promise<void> {
  await duck.run('SET autoinstall_known_extensions = false');
  await duck.run('SET autoload_known_extensions = false');
  await duck.run(`SET allowed_directories = ${sqlPathList([`${direct ? layout.tablesDir : readableRoot(layout)}/`])}`);
  await duck.run('SET enable_external_access = false');
  await duck.run('SET lock_configuration = true');
}

/** The only folder analysts' SQL may read: the lake's tables, or their local cache for a remote lake. */
function readableRoot(layout: LakeLayout): string {
  if (!isRemote(layout.root)) return layout.tablesDir;
  const cache = locate(layout.root).storage.cacheRoot;
  if (!cache) throw new Error(`the storage of ${layout.root} keeps no local cache for the views`);
  return cache;
}

const READING_STATEMENTS = new Set(['SELECT', 'EXPLAIN']);

export class QueryRefusedError extends Error {}

/**
 * Runs one read-only statement; numbers come back as JS numbers where they fit. With `limit`, the
 * result is streamed and only that many rows are read (`truncated` tells whether there were more).
 */
export async function runQuery(duck: Duck, sql: string, options: { limit?: number } = {}): Promise<QueryResult & { truncated?: boolean }> {
  const kind = await duck.statementKind(sql);
  if (!READING_STATEMENTS.has(kind)) throw new QueryRefusedError(`only read-only queries are allowed here (SELECT, EXPLAIN); this is a ${kind} statement`);
  const { columns, rows, truncated }: QueryResult & { truncated?: boolean } = options.limit === undefined ? await duck.table(sql) : await firstRows(duck, sql, options.limit);
  const numeric = columns.filter((c) => /^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|DECIMAL.*)$/.test(c.type)).map((c) => c.name);
  for (const row of rows) {
    for (const name of numeric) if (typeof row[name] === 'string') row[name] = Number(row[name]);
  }
  return truncated === undefined ? { columns, rows } : { columns, rows, truncated };
}

async function firstRows(duck: Duck, sql: string, limit: number): Promise<QueryResult & { truncated: boolean }> {
  const reader = await duck.connection.streamAndReadUntil(sql, limit + 1);
  const types = reader.columnTypes().map((t) => t.toString());
  const columns = reader.columnNames().map((name, i) => ({ name, type: types[i] }));
  const rows = reader.getRowObjectsJson() as Record<string, unknown>[];
  return { columns, rows: rows.slice(0, limit), truncated: rows.length > limit };
}

export async function queryViews(layout: LakeLayout, sql: string, timeTravel?: { config: EventlakeConfig; at: SnapshotChoice }, config?: EventlakeConfig): Promise<QueryResult> {
  const duck = timeTravel ? await openViewsAt(timeTravel.config, layout, timeTravel.at) : await openReadOnlyViews(layout, config);
  try {
    return await runQuery(duck, sql);
  } finally {
    duck.close();
  }
}
