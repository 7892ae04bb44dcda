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
export function loadJsonLines(duck: Duck, table: string, lines: string[], columns: Column[]): Promise<void> {
  // Only the bytes live through the awaits, not the lines (see loadRows).
  return loadNdjson(duck, table, Buffer.from(lines.length > 0 ? `${lines.join('\n')}\n` : ''), columns);
}

async function loadNdjson(duck: Duck, table: string, ndjson: Buffer, columns: Column[]): Promise<void> {
  const file = path.join(os.tmpdir(), `eventlake-${process.pid}-${randomUUID()}.ndjson`);
  await fs.writeFile(file, ndjson);
  try {
    const spec = columns.map((c) => `${sqlString(c.name)}: ${sqlString(c.type)}`).join(', ');
    const select = ndjson.length > 0 ? `SELECT * FROM read_json(${sqlString(file)}, format = 'newline_delimited', columns = {${spec}})` : emptySelect(columns);
    await duck.run(`CREATE OR REPLACE TEMP TABLE ${sqlIdent(table)} AS ${select}`);
  } finally {
    await fs.rm(file, { force: true });
  }
}

/**
 * Loads JS rows into a temp table (as JSON lines). The rows are serialized before the first
 * await, so neither they nor their JSON strings live through the load (a batch's objects that do
 * are copied by V8's young-generation collections: most of a rebuild's GC).
 */
export function loadRows(duck: Duck, table: string, rows: Record<string, unknown>[], columns: Column[]): Promise<void> {
  let text = '';
  for (const row of rows) text += `${JSON.stringify(row)}\n`;
  return loadNdjson(duck, table, Buffer.from(text), columns);
}

/** A zero-row SELECT with exactly these column names and types. */
export function emptySelect(columns: Column[]): string {
  return `SELECT ${columns.map((c) => `CAST(NULL AS ${c.type}) AS ${sqlIdent(c.name)}`).join(', ')} WHERE false`;
}

/** Casts a query's output to the declared columns, in order, so every data file has one schema. */
export function conformingSelect(columns: Column[], from: string): string {
  return `SELECT ${columns.map((c) => `CAST(${sqlIdent(c.name)} AS ${c.type}) AS ${sqlIdent(c.name)}`).join(', ')} FROM (${from})`;
}
