import fs from 'node:fs';
import { Duck, sqlPathList } from '../lake/duckdb.js';
import type { LakeLayout } from '../lake/layout.js';

export interface QueryResult {
  columns: { name: string; type: string }[];
  rows: Record<string, unknown>[];
}

/**
 * Opens the views database for analysts' SQL, locked down by DuckDB itself rather than by
 * inspecting the SQL: the file is opened read-only (no writes), external access is off except for
 * the lake's tables folder (no reading or writing other files, no ATTACH, no extension installs),
 * and the configuration is locked so the query cannot turn any of that back on.
 */
export async function openReadOnlyViews(layout: LakeLayout): Promise<Duck> {
  if (!fs.existsSync(layout.viewsDatabase)) {
    throw new Error(`no views database at ${layout.viewsDatabase}: run \`eventlake run\` on this lake first`);
  }
  const duck = await Duck.open(layout.viewsDatabase, { access_mode: 'READ_ONLY' });
  await duck.run('SET autoinstall_known_extensions = false');
  await duck.run('SET autoload_known_extensions = false');
  await duck.run(`SET allowed_directories = ${sqlPathList([`${layout.tablesDir}/`])}`);
  await duck.run('SET enable_external_access = false');
  await duck.run('SET lock_configuration = true');
  return duck;
}

const READING_STATEMENTS = new Set(['SELECT', 'EXPLAIN']);

export class QueryRefusedError extends Error {}

/** Runs one read-only statement; numbers come back as JS numbers where they fit. */
export async function runQuery(duck: Duck, sql: string): Promise<QueryResult> {
  const kind = await duck.statementKind(sql);
  if (!READING_STATEMENTS.has(kind)) throw new QueryRefusedError(`only read-only queries are allowed here (SELECT, EXPLAIN); this is a ${kind} statement`);
  const { columns, rows } = await duck.table(sql);
  const numeric = columns.filter((c) => /^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|DECIMAL.*)$/.test(c.type)).map((c) => c.name);
  for (const row of rows) {
    for (const name of numeric) if (typeof row[name] === 'string') row[name] = Number(row[name]);
  }
  return { columns, rows };
}

export async function queryViews(layout: LakeLayout, sql: string): Promise<QueryResult> {
  const duck = await openReadOnlyViews(layout);
  try {
    return await runQuery(duck, sql);
  } finally {
    duck.close();
  }
}
