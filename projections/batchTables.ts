import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sqlIdent, sqlString, type Duck } from '../lake/duckdb.js';
import { SEALED_COLUMNS } from '../lake/log/sealedSegments.js';
import type { Column } from './projection.js';

/** The envelope's columns as a SQL projection sees them in its `events` table (the sealed log's too). */
export const ENVELOPE_COLUMNS = SEALED_COLUMNS as Column[];

/**
 * Loads JSON lines into a DuckDB temp table with the given columns. DuckDB's own JSON reader
 * parses in parallel, which beat row-by-row appends from JS when measured for this project.
 */
export async function loadJsonLines(duck: Duck, table: string, lines: string[], columns: Column[]): Promise<void> {
  const file = path.join(os.tmpdir(), `eventlake-${process.pid}-${randomUUID()}.ndjson`);
  await fs.writeFile(file, lines.length > 0 ? `${lines.join('\n')}\n` : '');
  try {
    const spec = columns.map((c) => `${sqlString(c.name)}: ${sqlString(c.type)}`).join(', ');
    const select = lines.length > 0 ? `SELECT * FROM read_json(${sqlString(file)}, format = 'newline_delimited', columns = {${spec}})` : emptySelect(columns);
    await duck.run(`CREATE OR REPLACE TEMP TABLE ${sqlIdent(table)} AS ${select}`);
  } finally {
    await fs.rm(file, { force: true });
  }
}

/** Loads JS rows into a temp table (as JSON lines). */
export function loadRows(duck: Duck, table: string, rows: Record<string, unknown>[], columns: Column[]): Promise<void> {
  return loadJsonLines(duck, table, rows.map((r) => JSON.stringify(r)), columns);
}

/** A zero-row SELECT with exactly these column names and types. */
export function emptySelect(columns: Column[]): string {
  return `SELECT ${columns.map((c) => `CAST(NULL AS ${c.type}) AS ${sqlIdent(c.name)}`).join(', ')} WHERE false`;
}

/** Casts a query's output to the declared columns, in order, so every data file has one schema. */
export function conformingSelect(columns: Column[], from: string): string {
  return `SELECT ${columns.map((c) => `CAST(${sqlIdent(c.name)} AS ${c.type}) AS ${sqlIdent(c.name)}`).join(', ')} FROM (${from})`;
}
