import type { Domain } from '../domains/domain.js';
import type { Event } from '../domains/events.js';
import type { CommandRecord, EventEnvelope } from '../ingest/envelope.js';
import { Duck } from '../lake/duckdb.js';
import { conformingSelect, ENVELOPE_COLUMNS, loadJsonLines } from '../projections/batchTables.js';
import type { Column, MergeRule, Projection, Row, SqlProjection, StateProjection, RowsProjection } from '../projections/projection.js';
import { isoTimestamp } from '../views/isoTimestamps.js';
import { logEnvelopes, type GivenEvent } from './givenEvents.js';

/**
 * The rows a projection's table holds after these records, computed as its contract in
 * projections/projection.ts says, without a lake: a state table has one row per key (the last
 * `evolve` gave), a history one row per period with `to` set on every row the key's next row
 * closes, facts every row in order, and a SQL projection its `sql` run in DuckDB over the batch
 * and merged by its `merge` rule. Values come as `query --json` gives them: numbers as numbers,
 * timestamps as ISO-8601 UTC, a column a function left out as null.
 *
 * A SQL projection is run twice, over all records as one batch and over one batch per record; the
 * pipeline splits the log into batches as it pleases, so a merge rule that gives different rows
 * (an `append` of aggregates, an average under `combine`) is reported as an error.
 */
export async function projectionRows<E extends Event = Event>(projection: Projection, records: readonly GivenEvent<E>[] | readonly EventEnvelope[] | readonly CommandRecord[]): Promise<Row[]> {
  const read = asLogRecords(projection, records).filter((r) => !projection.eventTypes || projection.eventTypes.includes((r as EventEnvelope).eventType));
  switch (projection.kind) {
    case 'state':
      return tableRows(projection.columns, stateRows(projection as StateProjection<unknown>, read));
    case 'rows':
      return tableRows(projection.columns, (projection as RowsProjection<unknown>).validity ? historyRows(projection as RowsProjection<unknown>, read) : read.flatMap((r) => (projection as RowsProjection<unknown>).rows(r)));
    case 'sql':
      return sqlRows(projection, read as EventEnvelope[]);
  }
}

/**
 * Every read model of a domain after these events (its projections of the command log stay
 * empty): the input `viewRows` takes, to check views from events.
 */
export async function readModelsAfter<E extends Event = Event>(domain: Domain, events: readonly GivenEvent<E>[]): Promise<Record<string, Row[]>> {
  const envelopes = logEnvelopes(events);
  const models: Record<string, Row[]> = {};
  for (const projection of domain.projections) models[projection.name] = projection.source === 'events' ? await projectionRows(projection, envelopes) : [];
  return models;
}

/** Given events become the log's envelopes; envelopes and command records are taken as they are. */
function asLogRecords(projection: Projection, records: readonly unknown[]): readonly unknown[] {
  const given = records.length > 0 && projection.source === 'events' && !('eventId' in (records[0] as object));
  return given ? logEnvelopes(records as GivenEvent[]) : records;
}

function stateRows(projection: StateProjection<unknown>, records: readonly unknown[]): Row[] {
  const rows = new Map<string, Row>();
  for (const record of records) {
    const key = projection.keyOf(record);
    if (key === null) continue;
    rows.set(key, fullRow(projection.columns, projection.evolve(rows.get(key), record)));
  }
  return [...rows.entries()].sort(([a], [b]) => compare(a, b)).map(([, row]) => row);
}

function historyRows(projection: RowsProjection<unknown>, records: readonly unknown[]): Row[] {
  const validity = projection.validity!;
  const byKey = new Map<string, Row[]>();
  for (const row of records.flatMap((r) => projection.rows(r))) {
    const key = String(row[validity.key]);
    byKey.set(key, [...(byKey.get(key) ?? []), row]);
  }
  return [...byKey.entries()]
    .sort(([a], [b]) => compare(a, b))
    .flatMap(([, rows]) => {
      const ordered = [...rows].sort((a, b) => compare(a[validity.orderBy], b[validity.orderBy]));
      return ordered.map((row, i) => ({ ...row, [validity.to]: i + 1 < ordered.length ? ordered[i + 1][validity.from] : null }));
    });
}

async function sqlRows(projection: SqlProjection, events: EventEnvelope[]): Promise<Row[]> {
  const duck = await Duck.open();
  try {
    const batch = async (records: EventEnvelope[]) => {
      await loadJsonLines(duck, 'events', records.map((r) => JSON.stringify(r)), ENVELOPE_COLUMNS);
      return tableRows(projection.columns, await duck.rows(conformingSelect(projection.columns, projection.sql)));
    };
    const whole = merged(projection.merge, projection.columns, [await batch(events)]);
    const perRecord: Row[][] = [];
    for (const event of events) perRecord.push(await batch([event]));
    const split = merged(projection.merge, projection.columns, perRecord);
    // Facts come in the SQL's own order, which no rule fixes: compare them as a multiset.
    const same = (a: Row[], b: Row[]) => JSON.stringify(a.map((r) => JSON.stringify(r)).sort()) === JSON.stringify(b.map((r) => JSON.stringify(r)).sort());
    if (!same(whole, split)) {
      throw new Error(
        `projection ${projection.name}: merge "${projection.merge.kind}" gives different rows when the events arrive in several batches ` +
          `(the pipeline batches as it pleases): one batch gave ${JSON.stringify(whole)}, one batch per event ${JSON.stringify(split)}`,
      );
    }
    return whole;
  } finally {
    duck.close();
  }
}

/** Folds batches' rows into a table by the merge rule, as the contract in projections/projection.ts states it. */
function merged(rule: MergeRule, columns: Column[], batches: Row[][]): Row[] {
  if (rule.kind === 'append') return batches.flat();
  const table = new Map<string, Row>();
  const keyOf = (row: Row) => JSON.stringify(rule.key.map((k) => row[k]));
  for (const rows of batches) {
    for (const row of rows) {
      const key = keyOf(row);
      const before = table.get(key);
      table.set(key, rule.kind === 'upsert' || !before ? row : combined(rule.columns, before, row));
    }
  }
  const sortKey = (row: Row) => rule.key.map((k) => row[k]);
  return tableRows(columns, [...table.values()].sort((a, b) => compareLists(sortKey(a), sortKey(b))));
}

function combined(functions: Record<string, string>, before: Row, batch: Row): Row {
  const row = { ...batch };
  for (const [column, fn] of Object.entries(functions)) {
    const [a, b] = [before[column], batch[column]] as (number | null)[];
    if (a === null || a === undefined) row[column] = b;
    else if (b === null || b === undefined) row[column] = a;
    else row[column] = fn === 'min' ? Math.min(a, b) : fn === 'max' ? Math.max(a, b) : a + b;
  }
  return row;
}

/** Every declared column, in order; absent ones null; values in their JSON form. */
function tableRows(columns: Column[], rows: Row[]): Row[] {
  return rows.map((row) => fullRow(columns, row));
}

function fullRow(columns: Column[], row: Row): Row {
  return Object.fromEntries(columns.map((c) => [c.name, jsonValue(c.type, row[c.name])]));
}

function jsonValue(type: Column['type'], value: unknown): unknown {
  if (value === undefined || value === null) return null;
  if (type === 'BIGINT' || type === 'INTEGER' || type === 'DOUBLE') return typeof value === 'string' || typeof value === 'bigint' ? Number(value) : value;
  if (type === 'TIMESTAMPTZ') {
    const iso = isoTimestamp(value);
    return typeof iso === 'string' && !Number.isNaN(Date.parse(iso)) ? new Date(iso).toISOString() : iso;
  }
  return value;
}

function compare(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

function compareLists(a: unknown[], b: unknown[]): number {
  for (let i = 0; i < a.length; i++) {
    const order = compare(a[i], b[i]);
    if (order !== 0) return order;
  }
  return 0;
}
