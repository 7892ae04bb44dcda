import { sqlIdent, sqlPathList } from '../lake/duckdb.js';
import { emptySelect } from '../projections/batchTables.js';
import type { Column, Projection, StateProjection, Validity } from '../projections/projection.js';
import { latestPerKey } from '../projections/tableMaintenance.js';

/** A snapshot's data files as local paths: its base file (see BASE_FILE_TAG), if any, and the rest. */
export interface TableFiles {
  base: string | null;
  newer: string[];
}

/**
 * The SELECT behind `read_models_tz.<projection>`: the read model's rows with columns as stored
 * (timestamps TIMESTAMPTZ, so filters reach the Parquet scan), one row per key for state and
 * `valid_to` for a history. A base file is already folded, so only the rows committed after it
 * pay for a window function; with no newer files the view is a plain scan of the base.
 */
export function readModelSelect(projection: Projection, files: TableFiles): string {
  if (!files.base && files.newer.length === 0) return emptySelect(projection.columns);
  if (projection.kind === 'state') return latestRows(projection, files);
  if (projection.kind === 'rows' && projection.validity) return validityRows(projection.columns, projection.validity, files);
  return `SELECT ${columnList(projection.columns)} FROM ${parquet(allFiles(files))}`;
}

function latestRows(projection: StateProjection<unknown>, { base, newer }: TableFiles): string {
  const columns = columnList(projection.columns);
  const latestNewer = `SELECT ${columns} FROM ${parquet(newer)} ${latestPerKey(projection.key, projection.orderBy)}`;
  if (!base) return latestNewer;
  if (newer.length === 0) return `SELECT ${columns} FROM ${parquet([base])}`;
  // Newer rows are later versions than the base's row of the same key (the base folds a prefix).
  const key = sqlIdent(projection.key);
  const baseKept = `SELECT ${columns} FROM ${parquet([base])} AS b WHERE NOT EXISTS (SELECT 1 FROM ${parquet(newer)} AS n WHERE n.${key} = b.${key})`;
  return `${baseKept} UNION ALL ${latestNewer}`;
}

/**
 * A base row's stored `valid_to` is final once set (its successor was folded with it). The base's
 * open rows of keys with newer rows, and the newer rows themselves, get `valid_to` from a window
 * over just those rows; newer files' own `valid_to` is never read (files from before the column).
 */
function validityRows(columns: Column[], validity: Validity, { base, newer }: TableFiles): string {
  const key = sqlIdent(validity.key);
  const to = sqlIdent(validity.to);
  const others = columnList(columns.filter((c) => c.name !== validity.to));
  const withLead = columns
    .map((c) => (c.name === validity.to ? `lead(${sqlIdent(validity.from)}) OVER (PARTITION BY ${key} ORDER BY ${sqlIdent(validity.orderBy)}) AS ${to}` : sqlIdent(c.name)))
    .join(', ');
  if (!base) return `SELECT ${withLead} FROM ${parquet(newer)}`;
  const all = columnList(columns);
  if (newer.length === 0) return `SELECT ${all} FROM ${parquet([base])}`;
  const hasNewer = `EXISTS (SELECT 1 FROM ${parquet(newer)} AS n WHERE n.${key} = b.${key})`;
  const settled = `SELECT ${all} FROM ${parquet([base])} AS b WHERE ${to} IS NOT NULL OR NOT ${hasNewer}`;
  const reopened = `SELECT ${others} FROM ${parquet([base])} AS b WHERE ${to} IS NULL AND ${hasNewer} UNION ALL SELECT ${others} FROM ${parquet(newer)}`;
  return `${settled} UNION ALL SELECT ${withLead} FROM (${reopened})`;
}

function allFiles({ base, newer }: TableFiles): string[] {
  return base ? [base, ...newer] : newer;
}

function parquet(files: string[]): string {
  return `read_parquet(${sqlPathList(files)})`;
}

function columnList(columns: Column[]): string {
  return columns.map((c) => sqlIdent(c.name)).join(', ');
}
