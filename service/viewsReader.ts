import fs from 'node:fs/promises';
import type { Duck } from '../lake/duckdb.js';
import type { LakeLayout } from '../lake/layout.js';
import type { EventlakeConfig } from '../projections/jobsConfig.js';
import { openReadOnlyViews, runQuery, type QueryResult } from '../views/query.js';

export class ViewsNotReadyError extends Error {}

export class QueryTimeoutError extends Error {}

/**
 * The service's read-only connection to the views database. The live loop replaces that file
 * (built aside, renamed into place) whenever read models change, and an open connection keeps
 * reading the old file, so each query first checks the file's identity (inode, mtime, size) and
 * reopens when it changed.
 *
 * Queries take turns on the one connection: that keeps memory bounded, and it is what makes the
 * timeout safe, since `interrupt()` stops whatever the connection runs, which is then always the
 * query whose time ran out.
 */
export class ViewsReader {
  private duck: Duck | null = null;
  private identity: string | null = null;
  private turn: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly layout: LakeLayout,
    private readonly timeoutMs: number,
    /** Tells whether the views read the lake through DuckDB's azure extension. */
    private readonly config?: EventlakeConfig,
  ) {}

  query(sql: string, limit: number): Promise<QueryResult & { truncated?: boolean }> {
    const run = this.turn.then(() => this.runNow(sql, limit));
    this.turn = run.catch(() => undefined);
    return run;
  }

  /** Closes the connection once queries in progress are done. */
  async close(): Promise<void> {
    await this.turn;
    this.duck?.close();
    this.duck = null;
  }

  private async runNow(sql: string, limit: number): Promise<QueryResult & { truncated?: boolean }> {
    const duck = await this.current();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      duck.connection.interrupt();
    }, this.timeoutMs);
    try {
      return await runQuery(duck, sql, { limit });
    } catch (error) {
      if (timedOut) throw new QueryTimeoutError(`the query ran longer than ${this.timeoutMs} ms and was stopped; narrow it (filters, LIMIT) or use \`eventlake query\``);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  private async current(): Promise<Duck> {
    let identity: string;
    try {
      const stat = await fs.stat(this.layout.viewsDatabase);
      identity = `${stat.ino}:${stat.mtimeMs}:${stat.size}`;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new ViewsNotReadyError('the views database is not built yet; try again in a moment');
      throw error;
    }
    if (this.duck && identity === this.identity) return this.duck;
    this.duck?.close();
    this.duck = null;
    this.duck = await openReadOnlyViews(this.layout, this.config);
    this.identity = identity;
    return this.duck;
  }
}
