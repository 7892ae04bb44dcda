import fs from 'node:fs';
import { Duck } from '../lake/duckdb.js';
import type { LakeLayout } from '../lake/layout.js';
import type { EventlakeConfig } from '../projections/jobsConfig.js';
import { createViewsAt, type SnapshotChoice } from './viewsDatabase.js';

export interface QueryResult {
  columns: { name: string; type: string }[];
  rows: Record<string, unknown>[];
}

/**
 * Opens the views database for analysts' SQL, unable to write by construction rather than by
 * inspecting the SQL: the file is opened read-only (DuckDB refuses any change to it), and every
 * file system access is off (the read models' rows are in the database itself, see
 * readModelData.ts), so no statement, whatever wraps it, can write, read or attach a file or
 * install an extension; the configuration is locked so a query cannot turn that back on.
 * `settings` are DuckDB settings fixed before the lock (the service's query processes cap
 * `memory_limit` and turn off spilling to a temp directory).
 */
export async function openReadOnlyViews(layout: LakeLayout, _config?: EventlakeConfig, settings: Record<string, string> = {}): Promise<Duck> {
  if (!fs.existsSync(layout.viewsDatabase)) {
    throw new Error(`no views database at ${layout.viewsDatabase}: run \`eventlake run\` on this lake first`);
  }
  let duck: Duck;
  try {
    duck = await Duck.open(layout.viewsDatabase, { ...settings, access_mode: 'READ_ONLY' });
  } catch (error) {
    throw explainOpenError(layout.viewsDatabase, error as Error);
  }
  try {
    await lockDown(duck);
    return duck;
  } catch (error) {
    duck.close();
    throw error;
  }
}

/** No file system access from here on, and no setting a query could change back. */
export async function lockDown(duck: Duck): Promise<void> {
  await duck.run('SET enable_external_access = false');
  await duck.run('SET lock_configuration = true');
}

/** DuckDB's lock conflict names no culprit: a client holding the file read-write is the usual one. */
function explainOpenError(file: string, error: Error): Error {
  if (!/Could not set lock/i.test(error.message)) return error;
  return new Error(
    `cannot open the views database ${file}: another process holds it open read-write (${error.message.split('\n')[0]}). ` +
      'Outside DuckDB clients must open it read-only (duckdb -readonly, or ATTACH ... (READ_ONLY)); eventlake replaces the file when read models change.',
  );
}

/**
 * Time travel: the same views over the tables as they were at a commit version or time, built in
 * an in-memory database, then locked down like the views file. The database is this query's own,
 * so whatever a statement could do to it reaches no one else.
 */
export async function openViewsAt(config: EventlakeConfig, layout: LakeLayout, at: SnapshotChoice): Promise<Duck> {
  const duck = await Duck.open(':memory:');
  try {
    await createViewsAt(duck, config, layout, at);
    await lockDown(duck);
    return duck;
  } catch (error) {
    duck.close();
    throw error;
  }
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
