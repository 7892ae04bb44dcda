import fs from 'node:fs/promises';
import type { Duck } from '../lake/duckdb.js';
import type { LakeLayout } from '../lake/layout.js';
import type { EventlakeConfig } from '../projections/jobsConfig.js';
import { openReadOnlyViews, runQuery, type QueryResult } from '../views/query.js';
import { QueryFailure } from './queryProtocol.js';

/**
 * A query process's read-only connection to the views database. The live loop replaces that file
 * (built aside, renamed into place) whenever read models change, and an open connection keeps
 * reading the old file, so each query first checks the file's identity (inode, mtime, size) and
 * reopens when it changed.
 */
export class ViewsReader {
  private duck: Duck | null = null;
  private identity: string | null = null;

  constructor(
    private readonly layout: LakeLayout,
    /** Tells whether the views read the lake through DuckDB's azure extension. */
    private readonly config: EventlakeConfig,
    /** DuckDB settings fixed when the views are opened (memory_limit). */
    private readonly settings: Record<string, string>,
  ) {}

  /** Runs one read-only statement; `interrupt()`s it once `timeoutMs` has passed. */
  async query(sql: string, limit: number, timeoutMs: number): Promise<QueryResult & { truncated?: boolean }> {
    const duck = await this.current();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      duck.connection.interrupt();
    }, timeoutMs);
    try {
      return await runQuery(duck, sql, { limit });
    } catch (error) {
      if (timedOut) throw new QueryFailure('timeout', 'the query ran out of time');
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Opens the views now if they are built, so the first query does not wait for it. */
  async warmUp(): Promise<void> {
    try {
      await this.current();
    } catch (error) {
      if (!(error instanceof QueryFailure && error.kind === 'not_ready')) throw error;
    }
  }

  close(): void {
    this.duck?.close();
    this.duck = null;
  }

  private async current(): Promise<Duck> {
    let identity: string;
    try {
      const stat = await fs.stat(this.layout.viewsDatabase);
      identity = `${stat.ino}:${stat.mtimeMs}:${stat.size}`;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new QueryFailure('not_ready', 'the views database is not built yet; try again in a moment');
      throw error;
    }
    if (this.duck && identity === this.identity) return this.duck;
    this.close();
    this.duck = await openReadOnlyViews(this.layout, this.config, this.settings);
    this.identity = identity;
    return this.duck;
  }
}
