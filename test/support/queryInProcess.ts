import { LakeLayout } from '../../lake/layout.js';
import { loadConfig } from '../../projections/jobsConfig.js';
import { withIsoTimestamps } from '../../views/isoTimestamps.js';
import { openReadOnlyViews, openViewsAt, runQuery } from '../../views/query.js';
import { REPO } from './cli.js';

export interface QueryOptions {
  /** `--config`: default the repository's jobs.config.json, as for the CLI the tests spawn there */
  config?: string;
  /** `--lake` */
  lake?: string;
  /** `--table-version job=version`, repeated */
  tableVersions?: string[];
}

export interface InProcessViews {
  query<T = any>(sql: string): Promise<T[]>;
  close(): void;
}

/**
 * The views `eventlake [--lake DIR] [--config FILE] query SQL --json [--table-version job=version
 * ...]` reads, opened once in this process for many questions, each answered as that command
 * prints it. For tests that ask a lake many questions and are not about the CLI process: a spawn
 * costs a node start, the domains' import and a DuckDB open, and time travel builds every view
 * over the tables anew (1-4 s each on a shared 2-core machine). Such a test keeps at least one real
 * `eventlake query` spawn, so the CLI's own path stays covered.
 */
export async function openViewsInProcess(options: QueryOptions = {}): Promise<InProcessViews> {
  const config = await loadConfig({ config: options.config, lake: options.lake, cwd: REPO });
  const layout = new LakeLayout(config.lakeDir, config.stateDir ?? undefined);
  const versions = new Map((options.tableVersions ?? []).map((pair) => [pair.split('=')[0], Number(pair.split('=')[1])] as const));
  const duck = versions.size === 0
    ? await openReadOnlyViews(layout, config)
    : await openViewsAt(config, layout, (job) => (versions.has(job) ? { version: versions.get(job) } : {}));
  return {
    query: async <T>(sql: string) => {
      const result = await runQuery(duck, sql);
      return withIsoTimestamps(result.columns, result.rows) as T[];
    },
    close: () => duck.close(),
  };
}

/** One question (see openViewsInProcess). */
export async function queryInProcess<T = any>(sql: string, options: QueryOptions = {}): Promise<T[]> {
  const views = await openViewsInProcess(options);
  try {
    return await views.query<T>(sql);
  } finally {
    views.close();
  }
}
