import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isRemote, joinLocation, locate } from '../lake/storage/locations.js';
import type { AddFile } from '../lake/delta/actions.js';
import { sqlIdent, sqlString, type Duck } from '../lake/duckdb.js';
import type { Column } from './projection.js';

// Columns whose min/max go into the Delta stats (strings are left out: they would need the
// protocol's truncation rules, and file skipping on them buys little here).
const STATS_TYPES = new Set(['BIGINT', 'INTEGER', 'DOUBLE', 'DATE', 'TIMESTAMPTZ']);

/**
 * Writes the temp table `out` as one Parquet data file in the table folder (through DuckDB, the
 * fast path), fsyncs it, and describes it as a Delta `add` with stats. Returns null for no rows.
 * The file is invisible to readers until a commit adds it.
 */
export function dataFileWriter(duck: Duck, tableDir: string, columns: Column[]): () => Promise<AddFile | null> {
  return () => writeDataFile(duck, tableDir, columns);
}

async function writeDataFile(duck: Duck, tableDir: string, columns: Column[]): Promise<AddFile | null> {
  const stats = await statsOf(duck, columns);
  if (stats.numRecords === 0) return null;
  const name = `part-00000-${randomUUID()}-c000.snappy.parquet`;
  const { storage, path: target } = locate(joinLocation(tableDir, name));
  // Locally DuckDB writes the file in place; for a remote lake it writes a temp file to upload.
  const local = isRemote(tableDir) ? path.join(os.tmpdir(), `eventlake-${name}`) : await storage.localPath(target);
  await fs.mkdir(path.dirname(local), { recursive: true });
  try {
    await duck.run(`COPY out TO ${sqlString(local)} (FORMAT parquet, COMPRESSION snappy)`);
    const { size } = await fs.stat(local);
    // Durable before any commit names it (upload fsyncs locally, flushes on ADLS).
    await storage.upload(local, target);
    return { path: name, partitionValues: {}, size, modificationTime: Date.now(), dataChange: true, stats: JSON.stringify(stats) };
  } finally {
    if (isRemote(tableDir)) await fs.rm(local, { force: true });
  }
}

interface FileStats {
  numRecords: number;
  minValues: Record<string, unknown>;
  maxValues: Record<string, unknown>;
  nullCount: Record<string, number>;
}

async function statsOf(duck: Duck, columns: Column[]): Promise<FileStats> {
  const parts = ['count(*) AS n'];
  columns.forEach((c, i) => {
    parts.push(`count(*) - count(${sqlIdent(c.name)}) AS null_${i}`);
    if (STATS_TYPES.has(c.type)) parts.push(`${statValue(c, 'min')} AS min_${i}`, `${statValue(c, 'max')} AS max_${i}`);
  });
  const [row] = await duck.rows(`SELECT ${parts.join(', ')} FROM out`);
  const stats: FileStats = { numRecords: Number(row.n), minValues: {}, maxValues: {}, nullCount: {} };
  columns.forEach((c, i) => {
    stats.nullCount[c.name] = Number(row[`null_${i}`]);
    if (!STATS_TYPES.has(c.type) || row[`min_${i}`] === null) return;
    stats.minValues[c.name] = jsonStat(c, row[`min_${i}`]);
    stats.maxValues[c.name] = jsonStat(c, row[`max_${i}`]);
  });
  return stats;
}

/**
 * Timestamps in stats are ISO-8601 UTC with milliseconds, as Spark writes them. Formatted after
 * aggregating: formatting every value first was most of the stats query (9 of 10 ms per 12,500 rows).
 */
function statValue(c: Column, aggregate: 'min' | 'max'): string {
  const value = `${aggregate}(${sqlIdent(c.name)})`;
  return c.type === 'TIMESTAMPTZ' ? `strftime(${value}, '%Y-%m-%dT%H:%M:%S.%gZ')` : c.type === 'DATE' ? `strftime(${value}, '%Y-%m-%d')` : value;
}

function jsonStat(c: Column, value: unknown): unknown {
  return c.type === 'BIGINT' || c.type === 'INTEGER' || c.type === 'DOUBLE' ? Number(value) : value;
}
