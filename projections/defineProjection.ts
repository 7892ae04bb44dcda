import type { StateKeyType } from './stateKeys.js';
import type { CombineFunction, Column, ColumnType, MergeRule, ProjectionSource, RowsProjection, SqlProjection, StateProjection } from './projection.js';

/** The JavaScript value of a column type in a row (timestamps and dates as ISO-8601 strings). */
export type ColumnValue<T extends ColumnType> = T extends 'BOOLEAN' ? boolean : T extends 'BIGINT' | 'INTEGER' | 'DOUBLE' ? number : string;

/** The column names of a projection's `columns`. */
export type ColumnName<C extends readonly Column[]> = C[number]['name'];

/**
 * The columns that can key a state projection's rows: those whose type has one text form per
 * value, since `keyOf` gives the key as text (projections/stateKeys.ts says why).
 */
export type KeyColumnName<C extends readonly Column[]> = Extract<C[number], { type: StateKeyType }>['name'];

/** A row of a read model with these columns, as the table holds it: every column, any of them may be null. */
export type RowOf<C extends readonly Column[]> = { [K in C[number] as K['name']]: ColumnValue<K['type']> | null };

/**
 * A row as a projection function gives it: only these columns, each of its type; a column left
 * out is NULL in the table (so `{ ...row, status }` updates a row).
 */
export type RowInput<C extends readonly Column[]> = { [K in C[number] as K['name']]?: ColumnValue<K['type']> | null };

/**
 * A row a function returns, refused if it has a key that is not one of `Names`: the offending key
 * is reported as "not assignable to type 'never'" (rows are open records, so a misspelt column
 * beside correct ones would otherwise pass, and be NULL in the table).
 */
export type OnlyColumns<R, Names extends string> = R & { [K in Exclude<keyof R, Names>]: never };

/** What every projection declares; `columns` types its rows, so a misspelt column does not compile. */
export interface ProjectionSpec<C extends readonly Column[]> {
  /** The read model's name; views refer to it as `read_models.<name>`. */
  name: string;
  /** Bump when the logic changes: a new version means a new checkpoint and a rebuild. */
  version: number;
  description: string;
  /** The output table's columns, in order (declare them first: the functions are typed by them). */
  columns: C;
}

/** Current state per key: one row per key in the table, the latest `evolve` gave. */
export interface StateSpec<I, C extends readonly Column[], R extends RowInput<C> = RowInput<C>> extends ProjectionSpec<C> {
  /** A VARCHAR, BIGINT, INTEGER or DATE column; `keyOf` gives its value as text ("42", "2026-02-01"). */
  key: KeyColumnName<C>;
  /** Column that orders a key's rows (the aggregate version, or the log sequence). */
  orderBy: ColumnName<C>;
  /** The key this record changes, or null to ignore it. */
  keyOf(record: I): string | null;
  /** Pure: the row after `record`; `row` (the one it gave last) is undefined for a new key. */
  evolve(row: RowInput<C> | undefined, record: I): OnlyColumns<R, ColumnName<C>>;
}

/** A history: rows per key valid from `from` until the next row's `from` (`to`, filled by the pipeline). */
export interface HistorySpec<I, C extends readonly Column[], To extends ColumnName<C>, R extends Omit<RowInput<C>, To> = Omit<RowInput<C>, To>> extends ProjectionSpec<C> {
  validity: { key: ColumnName<C>; orderBy: ColumnName<C>; from: ColumnName<C>; to: To };
  /** The rows this record adds, without the `to` column (set when the key's next row closes the period). */
  rows(record: I): OnlyColumns<R, Exclude<ColumnName<C>, To>>[];
}

/** Facts: every row `rows` returns is appended as it is. */
export interface RowsSpec<I, C extends readonly Column[], R extends RowInput<C> = RowInput<C>> extends ProjectionSpec<C> {
  rows(record: I): OnlyColumns<R, ColumnName<C>>[];
}

/** How a SQL projection's batch rows merge into its table, with column names checked. */
export type MergeOf<Name extends string> =
  | { kind: 'append' }
  | { kind: 'upsert'; key: Name[] }
  | { kind: 'combine'; key: Name[]; columns: Partial<Record<Name, CombineFunction>> };

/** DuckDB SQL over a batch: `sql` selects the columns from a table `events`; `merge` folds them into the table. */
export interface SqlSpec<C extends readonly Column[]> extends ProjectionSpec<C> {
  sql: string;
  merge: MergeOf<ColumnName<C>>;
}

/** Which records a projection reads: the log it takes them from and, for events, their types (all when omitted). */
export interface ProjectionInput {
  source: ProjectionSource;
  eventTypes?: readonly string[];
}

/*
 * The builders return the plain runtime definitions of projections/projection.ts, exactly the
 * objects a hand-written definition would be; only their parameters are typed.
 */

export function stateProjection<I, const C extends readonly Column[], R extends RowInput<C>>(input: ProjectionInput, spec: StateSpec<I, C, R>): StateProjection<I> {
  return { kind: 'state', ...runtimeFields(input, spec) };
}

export function historyProjection<I, const C extends readonly Column[], const To extends ColumnName<C>, R extends Omit<RowInput<C>, To>>(input: ProjectionInput, spec: HistorySpec<I, C, To, R>): RowsProjection<I> {
  return { kind: 'rows', ...runtimeFields(input, spec) };
}

export function rowsProjection<I, const C extends readonly Column[], R extends RowInput<C>>(input: ProjectionInput, spec: RowsSpec<I, C, R>): RowsProjection<I> {
  return { kind: 'rows', ...runtimeFields(input, spec) };
}

export function sqlProjection<const C extends readonly Column[]>(input: ProjectionInput, spec: SqlSpec<C>): SqlProjection {
  // A merge's `columns` literal lists only the columns it folds; none is ever undefined.
  return { kind: 'sql', ...runtimeFields(input, spec), merge: spec.merge as MergeRule };
}

/** The runtime shape takes mutable arrays; the specs' are inferred as readonly tuples. */
function runtimeFields<T extends { columns: readonly Column[]; eventTypes?: readonly string[] }>(input: ProjectionInput, spec: T): Omit<T, 'columns' | 'eventTypes'> & { source: ProjectionSource; columns: Column[]; eventTypes?: string[] } {
  const { columns, eventTypes: _ignored, ...rest } = spec;
  return { source: input.source, ...(input.eventTypes ? { eventTypes: [...input.eventTypes] } : {}), ...rest, columns: [...columns] };
}
