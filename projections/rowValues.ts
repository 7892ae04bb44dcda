import type { Column, Row } from './projection.js';

/**
 * Whether a read-model row can be stored as it is: what DuckDB and Parquet refuse or would
 * change (a leap second, 30 February, a lone UTF-16 surrogate, a number JSON cannot carry or
 * the column cannot hold). Checked only after a batch failed to load, to find the records that
 * made it fail: the happy path pays nothing.
 */
export function rowProblem(row: Row, columns: Column[]): string | null {
  for (const column of columns) {
    const problem = valueProblem(column, row[column.name]);
    if (problem) return `column ${column.name}: ${problem}`;
  }
  return null;
}

/**
 * rowProblem for a row evolved from `prior`, a row already found storable: each value is checked
 * on its own, so only the values that differ from prior's can be the problem. A state rebuild
 * checks every evolved row (the record, not a later load, is the poison); checking the changed
 * values only took the per-record check from every column (a regex and a Date per timestamp) to
 * the one or two an event changes. `evolve` is pure: it never changes `prior` in place.
 */
export function changedRowProblem(row: Row, prior: Row | undefined, columns: Column[]): string | null {
  if (prior === undefined || prior === row) return rowProblem(row, columns);
  for (const column of columns) {
    const value = row[column.name];
    if (value === prior[column.name]) continue;
    const problem = valueProblem(column, value);
    if (problem) return `column ${column.name}: ${problem}`;
  }
  return null;
}

function valueProblem(column: Column, value: unknown): string | null {
  if (value === null || value === undefined) return null;
  switch (column.type) {
    case 'VARCHAR':
      return typeof value === 'string' && LONE_SURROGATE.test(value) ? `${JSON.stringify(value)} holds a lone UTF-16 surrogate, which UTF-8 cannot encode` : null;
    case 'BIGINT':
      return typeof value === 'number' && !Number.isSafeInteger(value) ? `${value} is not an integer that survives a round trip` : null;
    case 'INTEGER':
      return typeof value === 'number' && !(Number.isInteger(value) && Math.abs(value) <= 2 ** 31 - 1) ? `${value} is not a 32-bit integer` : null;
    case 'DOUBLE':
      return typeof value === 'number' && !Number.isFinite(value) ? `${value} cannot be stored (JSON and Parquet statistics hold finite numbers only)` : null;
    case 'DATE':
      return typeof value === 'string' && !isCalendarDate(value) ? `${JSON.stringify(value)} is not a calendar date (YYYY-MM-DD)` : null;
    case 'TIMESTAMPTZ':
      return typeof value === 'string' && !isInstant(value) ? `${JSON.stringify(value)} is not a valid ISO-8601 instant (leap seconds and impossible dates are refused)` : null;
    default:
      return null;
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})/;
const TIME = /^[T ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}(:?\d{2})?)?$/i;

function isCalendarDate(text: string): boolean {
  const match = DATE.exec(text);
  if (!match || match[0].length !== text.length) return false;
  return validDay(Number(match[1]), Number(match[2]), Number(match[3]));
}

function isInstant(text: string): boolean {
  const date = DATE.exec(text);
  if (!date || !validDay(Number(date[1]), Number(date[2]), Number(date[3]))) return false;
  const time = TIME.exec(text.slice(date[0].length));
  return time !== null && Number(time[1]) < 24 && Number(time[2]) < 60 && Number(time[3]) < 60;
}

function validDay(year: number, month: number, day: number): boolean {
  return month >= 1 && month <= 12 && day >= 1 && day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
}
