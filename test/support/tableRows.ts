import { loadSnapshot, snapshotFilePaths } from '../../lake/delta/deltaTable.js';
import { Duck, sqlPathList } from '../../lake/duckdb.js';
import type { LakeLayout } from '../../lake/layout.js';
import type { Job } from '../../projections/jobRunner.js';

/** Every row of each job's table at its latest snapshot, in one order: two runs' tables compared whole. */
export async function latestTableRows(layout: LakeLayout, jobs: readonly Job[]): Promise<Record<string, unknown[]>> {
  const duck = await Duck.open();
  try {
    const all: Record<string, unknown[]> = {};
    for (const job of jobs) {
      const tableDir = layout.tableDir(job.output);
      all[job.name] = await duck.rows(`SELECT * FROM read_parquet(${sqlPathList(snapshotFilePaths(tableDir, await loadSnapshot(tableDir)))}) ORDER BY ALL`);
    }
    return all;
  } finally {
    duck.close();
  }
}
