import type { Duck } from '../lake/duckdb.js';
import { conformingSelect, ENVELOPE_COLUMNS, loadJsonLines, loadNdjson, loadRows, NdjsonLines } from './batchTables.js';
import type { DomainRegistry } from '../domains/registry.js';
import { BatchRecords, type RecordSelection } from './jobSource.js';
import type { Column, Projection, Row, RowsProjection, SqlProjection, StateProjection } from './projection.js';
import { DEFAULT_ROW_CACHE_BYTES } from './memoryBudget.js';
import { RowCachePool, type RowCache } from './rowCache.js';
import { changedRowProblem, rowProblem } from './rowValues.js';
import type { RebuildStaging } from './rebuildStaging.js';
import type { KeyFilter } from './tableKeys.js';
import { canonicalKeyOf, rowKey } from './stateKeys.js';

/**
 * Turns one batch of log records (raw JSON lines, or a pass's shared selection of them; in log
 * order per stream) into the temp table `out`.
 */
export interface BatchApplier {
  /** Returns the records the projection threw on and skipped (policy `skip`). */
  apply(batch: string[] | RecordSelection): Promise<Poisoned[]>;
  /** Stages its rows itself (a state rebuild, stateRebuild.ts) instead of leaving them in `out`. */
  readonly stagesItself?: boolean;
  /**
   * Takes a batch record by record instead (`apply` is this, fed from the selection): a rebuild's
   * pass hands each record, parsed once, to every job that reads it before parsing the next
   * (BatchRecords.feed). `expectedBytes`: the batch's selected lines' size, a guess of its rows'.
   */
  begin?(expectedBytes: number): BatchIntake;
  /**
   * A state job: the rows its last batch loaded into `out`, as evolved in JS (one per key), so a
   * live fold tells its change without reading `out` back (stateRowChange.ts). Undefined for
   * other kinds.
   */
  loadedRows?(): Row[];
}

/**
 * One batch taken a record at a time, in log order; `end` applies what was taken (e.g. loads the
 * rows made) and returns the records the projection threw on and skipped (policy `skip`). Under
 * policy `halt`, `take` throws the PoisonEventError; `end` is then not called.
 */
export interface BatchIntake {
  take(record: unknown, line: string): void;
  end(): Promise<Poisoned[]>;
}

/** `apply` of an applier that takes records one at a time: the selection's records fed to a new intake. */
export async function applyByIntake(begin: (expectedBytes: number) => BatchIntake, selection: RecordSelection): Promise<Poisoned[]> {
  const intake = begin(selection.lines.reduce((sum, line) => sum + line.length, 0));
  if (selection.each) selection.each((record, i) => intake.take(record, selection.lines[i]));
  else selection.records().forEach((record, i) => intake.take(record, selection.lines[i]));
  return intake.end();
}

/** A log record a projection threw on. */
export interface Poisoned {
  record: { sequence: number; partition?: number; eventId?: string; eventType?: string; commandId?: string };
  error: Error;
}

/** Thrown under policy `halt`: the job stops before the poison record, its checkpoint unmoved. */
export class PoisonEventError extends Error {
  constructor(readonly poisoned: Poisoned) {
    super(`projection failed on record ${poisoned.record.sequence} (${poisoned.record.eventType ?? poisoned.record.commandId ?? 'record'}): ${poisoned.error.message}`);
  }
}

export type ErrorPolicy = 'halt' | 'skip';

/** Calls `fn` on a record; a throw is dead-lettered (skip) or stops the job (halt). */
export function guarded<T>(record: unknown, policy: ErrorPolicy, poisoned: Poisoned[], fn: () => T): T | undefined {
  try {
    return fn();
  } catch (error) {
    const entry: Poisoned = { record: record as Poisoned['record'], error: error instanceof Error ? error : new Error(String(error)) };
    if (policy === 'halt') throw new PoisonEventError(entry);
    poisoned.push(entry);
    return undefined;
  }
}

/** The table's current rows of some keys, for an incremental state job to evolve from. */
export type PriorRows = (keys: string[]) => Promise<Row[]>;

/**
 * `cache` holds a state job's rows between batches (its own, within the default budget, unless
 * the caller shares a pass's); `priorRows` answers for the keys it does not hold. `tableKeys`
 * says which keys the table may hold rows of when the pass began (tableKeys.ts): a key outside it
 * that the cache never held has no earlier row, and nothing needs reading back. (A rebuild's
 * state job is stateRebuild.ts.)
 */
export function batchApplier(duck: Duck, projection: Projection, priorRows: PriorRows, tableKeys: KeyFilter, policy: ErrorPolicy, upcast: Upcast, cache: RowCache = new RowCachePool(DEFAULT_ROW_CACHE_BYTES).cache()): BatchApplier {
  let loaded: Row[] = [];
  const applier = kindApplier(duck, projection, priorRows, tableKeys, policy, upcast, cache, (rows) => (loaded = rows));
  return {
    apply: (batch) => applier(Array.isArray(batch) ? new BatchRecords(batch).select(undefined) : batch),
    ...(projection.kind === 'state' ? { loadedRows: () => loaded } : {}),
  };
}

/** The selection's records in today's shape (upcast per job: the parsed records are shared). */
export function recordsOf(upcast: Upcast): Records {
  if (!upcast) return (selection) => selection.records();
  const lift = lifted(upcast);
  return (selection) => selection.records().map(lift);
}

/** One parsed record in today's shape (a copy when upcast: the parsed records are shared by the jobs). */
export function lifted(upcast: Upcast): (record: unknown) => unknown {
  return upcast ? (record) => upcast(record as Parameters<typeof upcast>[0]) : (record) => record;
}

export type Upcast = DomainRegistry['upcast'];
type Apply = (selection: RecordSelection) => Promise<Poisoned[]>;
/** The selection's records in today's shape (upcast per job: the parsed records are shared). */
export type Records = (selection: RecordSelection) => unknown[];

function kindApplier(duck: Duck, projection: Projection, priorRows: PriorRows, tableKeys: KeyFilter, policy: ErrorPolicy, upcast: Upcast, cache: RowCache, onLoaded: (rows: Row[]) => void): Apply {
  const records = recordsOf(upcast);
  switch (projection.kind) {
    case 'sql':
      return sqlApplier(duck, projection, policy, upcast);
    case 'rows': {
      const begin = rowsIntake(projection as RowsProjection<unknown>, policy, upcast, (ndjson) => loadNdjson(duck, 'out', ndjson, projection.columns));
      return (selection) => applyByIntake(begin, selection);
    }
    case 'state':
      return stateApplier(duck, projection as StateProjection<unknown>, priorRows, tableKeys, policy, records, cache, onLoaded);
  }
}

/**
 * SQL works on the whole batch at once: when loading the batch or running the SQL fails, the
 * records that make it fail are found by halving the batch (a few reruns, on the failure path
 * only); they become dead letters or stop the job per its policy, and the rest of the batch is
 * applied.
 */
function sqlApplier(duck: Duck, projection: SqlProjection, policy: ErrorPolicy, upcast: Upcast): Apply {
  const run = async (lines: string[]) => {
    await loadJsonLines(duck, 'events', lines, ENVELOPE_COLUMNS);
    await duck.run(`CREATE OR REPLACE TEMP TABLE out AS ${conformingSelect(projection.columns, projection.sql)}`);
  };
  return async ({ lines }) => {
    const current = upcast ? lines.map((line) => upcastLine(line, upcast)) : lines;
    try {
      await run(current);
      return [];
    } catch (error) {
      const failing = await failingLines(current, run);
      if (failing.size === 0) throw error;
      const poisoned: Poisoned[] = [];
      for (const [index, failure] of failing) guarded(recordOfLine(current[index]), policy, poisoned, () => { throw failure; });
      await run(current.filter((_, i) => !failing.has(i)));
      return poisoned;
    }
  };
}

/** The lines that fail on their own, found by halving: each failing line with its own error. */
async function failingLines(lines: string[], run: (lines: string[]) => Promise<void>, offset = 0): Promise<Map<number, Error>> {
  try {
    await run(lines);
    return new Map();
  } catch (error) {
    if (lines.length <= 1) return lines.length === 1 ? new Map([[offset, error as Error]]) : new Map();
    const half = Math.ceil(lines.length / 2);
    const [first, second] = [await failingLines(lines.slice(0, half), run, offset), await failingLines(lines.slice(half), run, offset + half)];
    return new Map([...first, ...second]);
  }
}

/** A log record's identity for its dead letter, from its line (which may not even parse). */
function recordOfLine(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return { sequence: -1, eventType: 'unparseable log line' };
  }
}

/** A log line in today's shape: re-serialized only when an upcaster changed it. */
function upcastLine(line: string, upcast: NonNullable<Upcast>): string {
  const event = JSON.parse(line);
  const lifted = upcast(event);
  return lifted === event ? line : JSON.stringify(lifted);
}

/**
 * A rebuild's (or first run's) rows job: each batch's rows go straight into the staged table,
 * with no `out` table between (for command_status, a rows job with a row per command, that copy
 * was ~2.5 us of its ~20 us a record outside the fold).
 */
export function stagedRowsApplier(staging: RebuildStaging, projection: RowsProjection<unknown>, policy: ErrorPolicy, upcast: Upcast): BatchApplier {
  const begin = rowsIntake(projection, policy, upcast, (ndjson) => staging.stageNdjson(ndjson));
  return { apply: (batch) => applyByIntake(begin, Array.isArray(batch) ? new BatchRecords(batch).select(undefined) : batch), begin, stagesItself: true };
}

/**
 * The batch's records and rows are not kept while DuckDB loads the rows: a batch's objects that
 * live through an await survive the young generation's collections and are copied (V8's
 * scavenges), and that copying was about a third of a rebuild's CPU (measured: command_status,
 * 200k commands). Nor are they kept while the batch is serialized: each record's rows are
 * written as NDJSON as soon as it is taken. They are made again, the same (a projection is pure),
 * only when the load fails; `load` stores all of a batch's rows or none (one statement).
 */
function rowsIntake(projection: RowsProjection<unknown>, policy: ErrorPolicy, upcast: Upcast, load: (ndjson: Buffer) => Promise<void>): (expectedBytes: number) => BatchIntake {
  const rowsOf = (record: unknown, poisoned: Poisoned[]) => guarded(record, policy, poisoned, () => projection.rows(record)) ?? [];
  const lift = lifted(upcast);
  return (expectedBytes) => {
    const poisoned: Poisoned[] = [];
    const lines: string[] = [];
    // The log lines' size is a fair guess of their rows' (one row a record, about as wide).
    const ndjson = new NdjsonLines(expectedBytes * 1.25);
    return {
      take(record, line) {
        lines.push(line);
        for (const row of rowsOf(lift(record), poisoned)) ndjson.add(row);
      },
      async end() {
        try {
          await load(ndjson.bytes());
        } catch (error) {
          // A row the table cannot store: its record is the poison, the other records' rows go on.
          // (Records that threw were dead-lettered by the first try: not again.)
          const batch = recordsOf(upcast)(new BatchRecords(lines).select(undefined));
          const produced = batch.map((record) => rowsOf(record, []));
          const found = produced.map((rows, i) => (rows.some((row) => rowProblem(row, projection.columns)) ? i : -1)).filter((i) => i >= 0);
          if (found.length === 0) throw error;
          for (const i of found) {
            guarded(batch[i], policy, poisoned, () => assertStorable(produced[i], projection.columns));
            produced[i] = [];
          }
          const retry = new NdjsonLines(0);
          for (const row of produced.flat()) retry.add(row);
          await load(retry.bytes());
        }
        return poisoned;
      },
    };
  };
}

export function assertStorable(rows: Row[], columns: Column[]): void {
  for (const row of rows) {
    const problem = rowProblem(row, columns);
    if (problem) throw new Error(`the projection made a row the table cannot store: ${problem}`);
  }
}

/** assertStorable for a row evolved from `prior` (a storable row, or undefined): its changed values only. */
export function assertStorableChange(row: Row, prior: Row | undefined, columns: Column[]): void {
  const problem = changedRowProblem(row, prior, columns);
  if (problem) throw new Error(`the projection made a row the table cannot store: ${problem}`);
}

/**
 * An incremental run's state job: rows of the keys it touched stay cached between batches (within
 * the pass's row-cache budget); other keys' rows are read back from the table. A key the table
 * did not hold when the pass began (`tableKeys`) and the cache never held (nor evicted) has no
 * row to read: every row the pass folded since went through the cache.
 */
function stateApplier(duck: Duck, projection: StateProjection<unknown>, priorRows: PriorRows, tableKeys: KeyFilter, policy: ErrorPolicy, records: Records, cache: RowCache, onLoaded: (rows: Row[]) => void): Apply {
  const keyOf = canonicalKeyOf(projection);
  return async (selection) => {
    onLoaded([]);
    const batch = records(selection);
    const poisoned: Poisoned[] = [];
    const keys = batch.map((r) => guarded(r, policy, poisoned, () => keyOf(r)) ?? null);
    const missing = [...new Set(keys.filter((k): k is string => k !== null && cache.get(k) === undefined && (tableKeys.mayHold(k) || cache.mayHaveEvicted(k))))];
    if (missing.length > 0) {
      for (const row of await priorRows(missing)) cache.set(rowKey(row, projection.key), row);
    }
    const evolveKey = (key: string, row: Row | undefined, record: unknown, check: boolean) =>
      guarded(record, policy, poisoned, () => {
        const next = projection.evolve(row, record);
        if (check) assertStorable([next], projection.columns);
        return next;
      });
    const touched = new Map<string, Row>();
    batch.forEach((record, i) => {
      const key = keys[i];
      if (key === null) return;
      const row = evolveKey(key, touched.get(key) ?? cache.get(key), record, false);
      if (row) touched.set(key, row);
    });
    try {
      await loadRows(duck, 'out', [...touched.values()], projection.columns);
    } catch (error) {
      // A key whose new row the table cannot store is evolved again from its row before the
      // batch, each record checked: the ones that make it unstorable are the poison.
      const bad = [...touched].filter(([, row]) => rowProblem(row, projection.columns)).map(([key]) => key);
      if (bad.length === 0) throw error;
      const threw = new Set(poisoned.map((p) => p.record));
      for (const key of bad) {
        let row = cache.get(key);
        batch.forEach((record, i) => {
          if (keys[i] === key && !threw.has(record as Poisoned['record'])) row = evolveKey(key, row, record, true) ?? row;
        });
        if (row) touched.set(key, row);
        else touched.delete(key);
      }
      await loadRows(duck, 'out', [...touched.values()], projection.columns);
    }
    onLoaded([...touched.values()]);
    for (const [key, row] of touched) cache.set(key, row);
    // Evicted rows are committed (by an earlier batch, or in `out` by this one): they can be read back.
    cache.evictExcess();
    return poisoned;
  };
}
