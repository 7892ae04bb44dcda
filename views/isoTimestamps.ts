/** DuckDB's text for a timestamp: `2026-01-01 08:00:00[.123456][+00[:00]]`. */
const DUCKDB_TIMESTAMP = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d+))?(?:([+-]\d\d)(?::?(\d\d))?)?$/;

/** True for the column types whose values are instants (with or without a stored zone). */
export function isTimestampType(type: string): boolean {
  return /^TIMESTAMP(_S|_MS|_NS| WITH TIME ZONE)?$/.test(type);
}

/**
 * A DuckDB timestamp as ISO-8601 UTC with `Z`, as JavaScript's toISOString writes it (and as the
 * log's timestamps are): milliseconds always shown, finer digits kept when there are any (a JS
 * Date would cut them). The session time zone is UTC (lake/duckdb.ts), so a TIMESTAMPTZ comes as
 * +00; a TIMESTAMP without zone is UTC by eventlake's convention. Other values are unchanged.
 */
export function isoTimestamp(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const match = DUCKDB_TIMESTAMP.exec(value);
  if (!match) return value;
  const [, date, time, fraction = '', offsetHours, offsetMinutes] = match;
  const utc = offsetHours === undefined || (Number(offsetHours) === 0 && Number(offsetMinutes ?? 0) === 0);
  if (utc) return `${date}T${time}.${fraction.padEnd(3, '0')}Z`;
  const instant = new Date(`${date}T${time}.${fraction || '0'}${offsetHours}:${offsetMinutes ?? '00'}`);
  return Number.isNaN(instant.getTime()) ? value : instant.toISOString();
}

/** Rows with every timestamp column's values as ISO-8601 UTC (`--json`, the test harness). */
export function withIsoTimestamps<R extends Record<string, unknown>>(columns: { name: string; type: string }[], rows: R[]): R[] {
  const timestamps = columns.filter((c) => isTimestampType(c.type)).map((c) => c.name);
  if (timestamps.length === 0) return rows;
  return rows.map((row) => {
    const copy: Record<string, unknown> = { ...row };
    for (const name of timestamps) copy[name] = isoTimestamp(copy[name]);
    return copy as R;
  });
}
