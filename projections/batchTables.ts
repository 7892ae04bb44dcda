import fs from 'node:fs/promises';
import { sqlIdent, sqlString, type Duck } from '../lake/duckdb.js';
import { SEALED_COLUMNS } from '../lake/log/sealedSegments.js';
import { processTempPath } from '../lake/processTemp.js';
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

/**
 * Loads JS rows into a temp table (as JSON lines). The rows are serialized before the first
 * await, so neither they nor their JSON strings live through the load (a batch's objects that do
 * are copied by V8's young-generation collections: most of a rebuild's GC).
 */
export function loadRows(duck: Duck, table: string, rows: Record<string, unknown>[], columns: Column[]): Promise<void> {
  return loadNdjson(duck, table, ndjsonOf(rows), columns);
}

/**
 * Runs `statement` on a SELECT of the rows (the given columns, in order), read by DuckDB's JSON
 * reader from a temp file: e.g. an INSERT straight into the table that keeps them, with no temp
 * table between (a rebuild's staging: one copy of every row less). Serialized before any await,
 * as loadRows.
 */
export function withRowsSelect(rows: Record<string, unknown>[], columns: Column[], statement: (select: string) => Promise<void>): Promise<void> {
  return withNdjsonSelect(ndjsonOf(rows), columns, statement);
}

/** Rows as NDJSON bytes (see NdjsonLines). */
export function ndjsonOf(rows: Record<string, unknown>[]): Buffer {
  const lines = new NdjsonLines(rows.length * 512);
  for (const row of rows) lines.add(row);
  return lines.bytes();
}

/**
 * NDJSON bytes built a row at a time, each line written into one growing buffer as it is made,
 * so a row need not outlive its line. Concatenating the lines into one string and encoding that
 * took twice as long (measured on command_status's rows: ~5.4 against ~2.7 us a row): V8 builds
 * a rope of the pieces and flattens it for the encode.
 */
export class NdjsonLines {
  private buffer: Buffer;
  private at = 0;

  /** `expectedBytes`: a guess of the total; a good one saves growing (copying) the buffer. */
  constructor(expectedBytes: number) {
    this.buffer = Buffer.allocUnsafe(Math.max(4096, Math.ceil(expectedBytes)));
  }

  add(row: Record<string, unknown>): void {
    const line = JSON.stringify(row);
    // At most 3 UTF-8 bytes per UTF-16 unit (a surrogate pair's two units make 4), plus the line end.
    const room = line.length * 3 + 1;
    if (this.at + room > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.at + room));
      this.buffer.copy(grown, 0, 0, this.at);
      this.buffer = grown;
    }
    this.at += this.buffer.write(line, this.at);
    this.buffer[this.at++] = NEWLINE;
  }

  bytes(): Buffer {
    return this.buffer.subarray(0, this.at);
  }
}

const NEWLINE = 0x0a;

/** Loads NDJSON bytes of rows with these columns into a temp table. */
export function loadNdjson(duck: Duck, table: string, ndjson: Buffer, columns: Column[]): Promise<void> {
  return withNdjsonSelect(ndjson, columns, (select) => duck.run(`CREATE OR REPLACE TEMP TABLE ${sqlIdent(table)} AS ${select}`));
}

/** withRowsSelect for rows already serialized (NdjsonLines). */
export async function withNdjsonSelect(ndjson: Buffer, columns: Column[], statement: (select: string) => Promise<void>): Promise<void> {
  if (ndjson.length === 0) return statement(emptySelect(columns));
  const file = processTempPath('rows', 'ndjson');
  await fs.writeFile(file, ndjson);
  try {
    const spec = columns.map((c) => `${sqlString(c.name)}: ${sqlString(c.type)}`).join(', ');
    await statement(`SELECT * FROM read_json(${sqlString(file)}, format = 'newline_delimited', columns = {${spec}})`);
  } finally {
    await fs.rm(file, { force: true });
  }
}

/** A zero-row SELECT with exactly these column names and types. */
export function emptySelect(columns: Column[]): string {
  return `SELECT ${columns.map((c) => `CAST(NULL AS ${c.type}) AS ${sqlIdent(c.name)}`).join(', ')} WHERE false`;
}

/** Casts a query's output to the declared columns, in order, so every data file has one schema. */
export function conformingSelect(columns: Column[], from: string): string {
  return `SELECT ${columns.map((c) => `CAST(${sqlIdent(c.name)} AS ${c.type}) AS ${sqlIdent(c.name)}`).join(', ')} FROM (${from})`;
}
