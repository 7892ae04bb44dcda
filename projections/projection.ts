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
 * Current state per key, evolved in TypeScript. Each batch writes the new state of the keys it
 * touched; the view keeps the row with the highest `orderBy` per key.
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
 * next row by `orderBy` (NULL while current). `to` is a nullable TIMESTAMPTZ column that `rows`
 * leaves out: a full compaction fills it into the table's base file, and the read model's view
 * derives it for the rows committed since, so readers never pay for a window over the whole history.
 */
export interface Validity {
  key: string;
  orderBy: string;
  from: string;
  to: string;
}

/** Rows appended per record, e.g. history with validity intervals. */
export interface RowsProjection<I = EventEnvelope> extends ProjectionBase {
  kind: 'rows';
  rows(record: I): Row[];
  validity?: Validity;
}

/**
 * DuckDB SQL over a batch: `sql` selects the output columns from a table `events` holding the
 * batch's envelopes (data and metadata as JSON). Rows are appended; `view` in sql/ folds batches.
 */
export interface SqlProjection extends ProjectionBase {
  kind: 'sql';
  sql: string;
}

export type Projection =
  | StateProjection<EventEnvelope>
  | StateProjection<CommandRecord>
  | RowsProjection<EventEnvelope>
  | RowsProjection<CommandRecord>
  | SqlProjection;
