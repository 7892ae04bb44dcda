import type { CommandRecord, EventEnvelope } from '../ingest/envelope.js';

/** DuckDB column types a read model may use (flat, so Power BI and Delta readers take them as they are). */
export type ColumnType = 'VARCHAR' | 'BIGINT' | 'INTEGER' | 'DOUBLE' | 'BOOLEAN' | 'DATE' | 'TIMESTAMPTZ';

export interface Column {
  name: string;
  type: ColumnType;
}

/** A read-model row: column name -> JSON value (timestamps as ISO-8601 strings). */
export type Row = Record<string, unknown>;

/** Which log a projection reads: the domain events or the command workflow log. */
export type ProjectionSource = 'events' | 'commands';

interface ProjectionBase {
  /** The read model's name; views refer to it as `read_models.<name>`. */
  name: string;
  /** Bump when the logic changes: a new version means a new checkpoint and a rebuild. */
  version: number;
  description: string;
  source: ProjectionSource;
  /** The output table's columns, in order. */
  columns: Column[];
  /**
   * The event types this projection reads (events source). Other events are skipped before they
   * are parsed, which is most of a run's cost; omit to receive every record.
   */
  eventTypes?: string[];
}

/**
 * Current state per key, evolved in TypeScript. The table holds exactly one row per key, the
 * current one: each batch's commit replaces the rows of the keys it touched.
 */
export interface StateProjection<I = EventEnvelope> extends ProjectionBase {
  kind: 'state';
  key: string;
  /** Column that orders a key's rows (the aggregate version, or the log sequence). */
  orderBy: string;
  /** The key this record changes, or null to ignore it. */
  keyOf(record: I): string | null;
  /** Pure: the row after `record`; `state` is undefined for a new key. */
  evolve(state: Row | undefined, record: I): Row;
}

/**
 * A history's validity intervals: a row of `key` holds from `from` until the `from` of the key's
 * next row by `orderBy`. `to` is a nullable TIMESTAMPTZ column that `rows` leaves out: the commit
 * that adds a key's next row sets `to` on the row it closes, so in the table every closed row has
 * its `to` and only the current row of a key has NULL.
 */
export interface Validity {
  key: string;
  orderBy: string;
  from: string;
  to: string;
}

/** Rows per record: facts appended as they are, or a history with validity intervals. */
export interface RowsProjection<I = EventEnvelope> extends ProjectionBase {
  kind: 'rows';
  rows(record: I): Row[];
  validity?: Validity;
}

/** How a per-batch partial value of a `combine` column folds into the table's value. */
export type CombineFunction = 'sum' | 'count' | 'min' | 'max';

/**
 * How the rows a SQL projection selects from one batch merge into its table, so that the table
 * itself is the read model after every commit (no view has to fold batches):
 * - `append`: facts; every batch row is added as it is.
 * - `upsert`: a batch row replaces the table's row with the same `key` (a batch has one per key).
 * - `combine`: one row per `key`; each listed column folds the batch's partial value into the
 *   table's (`count` partials add up like `sum`); columns not listed take the batch's value.
 */
export type MergeRule =
  | { kind: 'append' }
  | { kind: 'upsert'; key: string[] }
  | { kind: 'combine'; key: string[]; columns: Record<string, CombineFunction> };

/**
 * DuckDB SQL over a batch: `sql` selects the output columns from a table `events` holding the
 * batch's envelopes (data and metadata as JSON); `merge` says how those rows enter the table.
 */
export interface SqlProjection extends ProjectionBase {
  kind: 'sql';
  sql: string;
  merge: MergeRule;
}

export type Projection =
  | StateProjection<EventEnvelope>
  | StateProjection<CommandRecord>
  | RowsProjection<EventEnvelope>
  | RowsProjection<CommandRecord>
  | SqlProjection;
