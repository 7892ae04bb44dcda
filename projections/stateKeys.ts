import type { ColumnType, Row, StateProjection } from './projection.js';

/**
 * A state projection's key is text in JavaScript (`keyOf` gives it; the row cache, the table-key
 * filter and the deferred replay look rows up by it) and a value of the key column's type in the
 * table. A row read back from the table must be found under the same text as `keyOf`'s, so a key
 * column's type must have one text form per value, and `keyOf`'s text is brought to it: the form
 * DuckDB's `CAST(value AS VARCHAR)` and `String()` of the row's JSON value both give.
 *
 * DOUBLE, TIMESTAMPTZ and BOOLEAN are refused: one value has several texts ("1", "1.0", "1e0";
 * "2026-01-01T00:00:00Z" and "2026-01-01 00:00:00+00"), so a row read back would start its key
 * anew and lose its state.
 */
/** The key column types a state projection may have (the typed API's `KeyColumnName`). */
export type StateKeyType = 'VARCHAR' | 'BIGINT' | 'INTEGER' | 'DATE';
type Canonical = (text: string) => string | null;

const CANONICAL: Partial<Record<ColumnType, Canonical>> = {
  VARCHAR: (text) => text,
  BIGINT: integerText,
  INTEGER: integerText,
  DATE: dateText,
} satisfies Record<StateKeyType, Canonical>;

export const STATE_KEY_TYPES = Object.keys(CANONICAL) as StateKeyType[];

/** Why this state projection's key column cannot key its rows, or null. */
export function stateKeyProblem(projection: StateProjection<unknown>): string | null {
  const column = projection.columns.find((c) => c.name === projection.key);
  if (!column) return `projection ${projection.name}: its key "${projection.key}" is not one of its columns (${projection.columns.map((c) => c.name).join(', ')})`;
  if (CANONICAL[column.type]) return null;
  return `projection ${projection.name}: its key column "${column.name}" is ${column.type}; a state projection's key column must be ${STATE_KEY_TYPES.join(', ')} (keyOf gives the key as text, and a ${column.type} value has more than one)`;
}

/**
 * `projection.keyOf` giving the key in its column's text form ("007" -> "7" for an integer key);
 * throws, naming the projection, on a text the column cannot hold (the record is then poison).
 */
export function canonicalKeyOf<I>(projection: StateProjection<I>): (record: I) => string | null {
  const type = projection.columns.find((c) => c.name === projection.key)?.type;
  const canonical = type ? CANONICAL[type] : undefined;
  if (!canonical || type === 'VARCHAR') return (record) => projection.keyOf(record);
  return (record) => {
    const text = projection.keyOf(record);
    if (text === null) return null;
    const key = canonical(String(text));
    if (key === null) throw new Error(`projection ${projection.name}: keyOf gave ${JSON.stringify(text)}, which its ${type} key column "${projection.key}" cannot hold`);
    return key;
  };
}

/** The key of a row read back from the table (its JSON value: a string, or a number for an integer column). */
export function rowKey(row: Row, keyColumn: string): string {
  return String(row[keyColumn]);
}

function integerText(text: string): string | null {
  return /^[+-]?\d+$/.test(text) ? BigInt(text).toString() : null;
}

function dateText(text: string): string | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return null;
  const date = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(text) ? text : null;
}
