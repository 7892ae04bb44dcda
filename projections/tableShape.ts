import { sqlIdent } from '../lake/duckdb.js';
import type { Column, Projection } from './projection.js';

/**
 * How a read model's rows live in its Delta table, whatever the projection kind: which rows a
 * later batch may replace (`mutable`), by which key, and how a batch's rows fold into them. The
 * writer (tableMerge.ts) and the rebuild (rebuildStaging.ts) work from this alone, so every kind
 * gets the same exact-table guarantee from one code path.
 *
 * - state: one row per key, every row mutable (the batch's row is the key's new state);
 * - history: closed rows are final, the key's open row (`to` NULL) is mutable: the batch's first
 *   row of a key closes it;
 * - SQL upsert / combine: one row per key, every row mutable;
 * - facts (rows without validity, SQL append): nothing is ever replaced.
 */
export interface TableShape {
  columns: Column[];
  /** The merge key; empty when rows are only appended. */
  key: string[];
  /** 'all': every row of a key may be replaced; 'open': only its row with `open` NULL; 'none': append only. */
  mutable: 'all' | 'open' | 'none';
  /** The history's `to` column: NULL on a key's current row, set on every closed one. */
  open?: string;
  /**
   * SQL folding a key's current table rows (relation `prior`) with the batch's rows (relation
   * `delta`) into the rows that replace them. Prior rows come before the batch's in time.
   */
  foldBatch(prior: string, delta: string): string;
  /** `foldBatch` reads the prior rows (a history closes its open row, a combine adds to it); false: the batch's rows replace them as they are. */
  foldReadsPrior: boolean;
  /** SQL folding every staged batch output of a rebuild (relation `staged`, in log order by `__seq`) into the final rows. */
  foldRebuild(staged: string): string;
  /** How immutable rows are ordered in their files (a history by time, so point-in-time filters skip row groups). */
  appendOrder: string[];
  /** A batch gives at most one row per key (an upsert): more would leave the result to chance. */
  oneRowPerKeyPerBatch: boolean;
}

export function tableShape(projection: Projection): TableShape {
  const columns = projection.columns;
  switch (projection.kind) {
    case 'state':
      return upsertShape(columns, [projection.key], projection.orderBy);
    case 'rows':
      return projection.validity ? historyShape(columns, projection.validity) : appendShape(columns, []);
    case 'sql': {
      const merge = projection.merge;
      if (merge.kind === 'append') return appendShape(columns, []);
      if (merge.kind === 'upsert') return { ...upsertShape(columns, merge.key, null), oneRowPerKeyPerBatch: true };
      return combineShape(columns, merge.key, merge.columns);
    }
  }
}

const list = (names: string[]) => names.map(sqlIdent).join(', ');

/** The key's current rows (`__batch` 0) before the batch's (`__batch` 1): the prior rows are older. */
const priorThenBatch = (prior: string, delta: string) => `(SELECT *, 0 AS __batch FROM ${prior} UNION ALL BY NAME SELECT *, 1 AS __batch FROM ${delta})`;

/** Facts: rows are added as they are. */
function appendShape(columns: Column[], appendOrder: string[]): TableShape {
  return {
    columns,
    key: [],
    mutable: 'none',
    appendOrder,
    oneRowPerKeyPerBatch: false,
    foldBatch: (_prior, delta) => `SELECT ${list(columns.map((c) => c.name))} FROM ${delta}`,
    foldReadsPrior: false,
    foldRebuild: (staged) => `SELECT ${list(columns.map((c) => c.name))} FROM ${staged}`,
  };
}

/**
 * The batch's row replaces the key's row. A rebuild keeps each key's last staged row: by
 * `orderBy` (the aggregate version of a state projection) or else by log order.
 */
function upsertShape(columns: Column[], key: string[], orderBy: string | null): TableShape {
  const names = list(columns.map((c) => c.name));
  const last = orderBy ? `${sqlIdent(orderBy)} DESC, __seq DESC` : '__seq DESC';
  return {
    columns,
    key,
    mutable: 'all',
    appendOrder: key,
    // A state batch holds one row per key it touched (the evolved row) by construction.
    oneRowPerKeyPerBatch: false,
    foldBatch: (_prior, delta) => `SELECT ${names} FROM ${delta}`,
    foldReadsPrior: false,
    foldRebuild: (staged) => `SELECT ${names} FROM ${staged} QUALIFY row_number() OVER (PARTITION BY ${list(key)} ORDER BY ${last}) = 1`,
  };
}

/**
 * A history: a key's rows ordered by `orderBy`, each valid until the next one's `from`. Only the
 * key's open row and the batch's rows are folded; closed rows never change again.
 */
function historyShape(columns: Column[], validity: { key: string; orderBy: string; from: string; to: string }): TableShape {
  const to = sqlIdent(validity.to);
  const withValidTo = (relation: string, order: string) =>
    `SELECT ${columns.map((c) => (c.name === validity.to ? `lead(${sqlIdent(validity.from)}) OVER (PARTITION BY ${sqlIdent(validity.key)} ORDER BY ${order}) AS ${to}` : sqlIdent(c.name))).join(', ')} FROM ${relation}`;
  return {
    columns,
    key: [validity.key],
    mutable: 'open',
    open: validity.to,
    oneRowPerKeyPerBatch: false,
    appendOrder: [validity.from, validity.key, validity.orderBy],
    foldBatch: (prior, delta) => withValidTo(priorThenBatch(prior, delta), `__batch, ${sqlIdent(validity.orderBy)}`),
    foldReadsPrior: true,
    foldRebuild: (staged) => withValidTo(staged, `${sqlIdent(validity.orderBy)}, __seq`),
  };
}

/** One row per key; listed columns fold partial values, the others take the newest value. */
function combineShape(columns: Column[], key: string[], functions: Record<string, string>): TableShape {
  const keyed = new Set(key);
  const value = (c: Column, order: string) => {
    const name = sqlIdent(c.name);
    const fn = functions[c.name];
    const folded = fn === 'count' || fn === 'sum' ? `sum(${name})` : fn === 'min' ? `min(${name})` : fn === 'max' ? `max(${name})` : `arg_max(${name}, ${order})`;
    return `CAST(${folded} AS ${c.type}) AS ${name}`;
  };
  const select = (relation: string, order: string) =>
    `SELECT ${columns.map((c) => (keyed.has(c.name) ? sqlIdent(c.name) : value(c, order))).join(', ')} FROM ${relation} GROUP BY ${list(key)}`;
  return {
    columns,
    key,
    mutable: 'all',
    appendOrder: key,
    oneRowPerKeyPerBatch: false,
    foldBatch: (prior, delta) => select(priorThenBatch(prior, delta), '__batch'),
    foldReadsPrior: true,
    foldRebuild: (staged) => select(staged, '__seq'),
  };
}
