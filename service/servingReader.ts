import type { Duck } from '../lake/duckdb.js';
import { runQuery, type QueryResult } from '../views/query.js';
import { openServing, type ServingBase, type ServingState } from '../views/servingCatalog.js';
import { ServingDelta, StepLog, type RowStep } from '../views/servingDelta.js';
import { QueryFailure } from './queryProtocol.js';

/** One opened base: its locked-down DuckDB instance and the delta its table functions read. */
interface Opened {
  base: ServingBase;
  duck: Duck;
  delta: ServingDelta;
}

/**
 * A query process's view of the read models: a base (a views database file, read-only) with the
 * delta of rows changed since laid over it (views/servingCatalog.ts). The service sends a new
 * base now and then and every live commit's row change in between; a change is visible to the
 * next query as soon as its message is applied, with no file opened.
 *
 * Each query runs on a connection of its own, closed after it: whatever a statement leaves in
 * its session (a temp view shadowing a read model, a search_path) ends with it and never reaches
 * the next query.
 */
export class ServingReader {
  private current: Opened | null = null;
  private pending: { base: ServingBase; delta: ServingDelta; merged: boolean; opening: Promise<Opened> } | null = null;
  private running = 0;
  private retired: Opened[] = [];
  /** The steps since the delta last given whole: a merged base may come without rows (servingDelta.ts, StepLog). */
  private readonly steps = new StepLog();

  constructor(
    /** DuckDB settings fixed before the lock (memory_limit, no temp directory). */
    private readonly settings: Record<string, string>,
    /** Told once a base is open and the ones before it are closed. */
    private readonly onOpened: (baseId: number) => void,
  ) {}

  /** A new base to serve from; the current one keeps answering until it is open. */
  adopt(state: ServingState): void {
    const delta = this.deltaOf(state);
    const opening = openServing(state.base, () => delta, this.settings).then((duck) => {
      const opened: Opened = { base: state.base, duck, delta };
      if (this.pending?.opening !== opening) {
        duck.close(); // a later base arrived meanwhile
        return opened;
      }
      if (this.current) this.retired.push(this.current);
      this.current = opened;
      this.pending = null;
      this.closeRetired();
      return opened;
    });
    opening.catch(() => undefined); // the query that waits on it reports the failure
    this.pending = { base: state.base, delta, merged: state.merged, opening };
  }

  /** The delta as sent, or, for a merged base sent without rows, the steps logged that it does not hold. */
  private deltaOf(state: ServingState): ServingDelta {
    if (state.delta === null) return this.steps.over(new Map(state.versions));
    this.steps.restart();
    return ServingDelta.from(state.delta);
  }

  /** A live commit's row change, for the base in use and the one being opened. */
  step(step: RowStep): void {
    this.steps.add(step);
    this.current?.delta.apply(step);
    this.pending?.delta.apply(step);
  }

  /** Runs one read-only statement on a connection of its own; `interrupt()`s it once `timeoutMs` has passed. */
  async query(sql: string, limit: number, timeoutMs: number): Promise<QueryResult & { truncated?: boolean }> {
    const opened = await this.open();
    this.running += 1;
    const session = await opened.duck.connect();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      session.connection.interrupt();
    }, timeoutMs);
    try {
      return await runQuery(session, sql, { limit });
    } catch (error) {
      if (timedOut) throw new QueryFailure('timeout', 'the query ran out of time');
      throw error;
    } finally {
      clearTimeout(timer);
      session.close();
      this.running -= 1;
      this.closeRetired();
    }
  }

  /**
   * The base to answer from: the current one (also while a merged base opens: it answers the
   * same), else the one being opened. A base replaced by a newer one while it opened is closed
   * unused, so wait for the newest.
   */
  private async open(): Promise<Opened> {
    for (;;) {
      // A base read anew from the tables holds rows the current one lacks (a job's first run).
      if (this.current && (!this.pending || this.pending.merged)) return this.current;
      const pending = this.pending;
      if (!pending) throw new QueryFailure('not_ready', 'the views are not built yet; try again in a moment');
      await pending.opening;
    }
  }

  /** Closes the bases no query uses any more, then says which one is open. */
  private closeRetired(): void {
    if (this.running > 0 || !this.current) return;
    for (const old of this.retired.splice(0)) old.duck.close();
    this.onOpened(this.current.base.id);
  }
}
