import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sampleNdjson } from '../../domains/sampleCommands.js';
import type { AddFile } from '../../lake/delta/actions.js';
import { loadSnapshot, readCommit, snapshotFilePaths } from '../../lake/delta/deltaTable.js';
import type { Snapshot } from '../../lake/delta/snapshot.js';
import { Duck, sqlPathList } from '../../lake/duckdb.js';
import { LakeLayout } from '../../lake/layout.js';
import { fileStats } from '../../projections/dataFiles.js';
import { loadConfig } from '../../projections/jobsConfig.js';
import { compact, compactionGroups } from '../../projections/tableMaintenance.js';
import { tableShape } from '../../projections/tableShape.js';
import { eventlake, eventlakeJson, tempDir, writeNdjson } from '../support/cli.js';

/** Every row of a snapshot, as sorted JSON text (a multiset). */
async function rowsOf(duck: Duck, tableDir: string, snapshot: Snapshot): Promise<string[]> {
  const rows = await duck.rows(`SELECT to_json(t)::VARCHAR AS j FROM read_parquet(${sqlPathList(snapshotFilePaths(tableDir, snapshot))}) t`);
  return rows.map((r) => r.j as string).sort();
}

async function lakeWith(job: string, fileRows: { mutable: number; append: number }, commands: number) {
  const dir = tempDir();
  const config = path.join(dir, 'jobs.config.json');
  // No automatic compaction in between: batches of 100 and files of a few rows leave many small files.
  // A first run builds the table in one commit; the batches of the second each MERGE.
  fs.writeFileSync(config, JSON.stringify({ lake: './lake', jobs: [{ name: job, projection: job, batchSize: 100, fileRows }] }));
  const lines = [...sampleNdjson({ count: commands, seed: 11 })];
  for (const [i, part] of [lines.slice(0, 100), lines.slice(100)].entries()) {
    await eventlakeJson(['--config', config, 'ingest', writeNdjson(path.join(dir, `c${i}.ndjson`), part)]);
    const run = await eventlake(['--config', config, 'run']);
    expect(run.code, run.stderr).toBe(0);
  }
  const { jobs } = await loadConfig({ config });
  return { config, job: jobs[0], tableDir: new LakeLayout(path.join(dir, 'lake')).tableDir(job) };
}

describe('compaction (OPTIMIZE)', () => {
  it('merges small key-range files into files holding exactly their rows, dataChange=false, ranges still disjoint', async () => {
    const { config, job, tableDir } = await lakeWith('superchargers', { mutable: 16, append: 1000 }, 1500);
    const before = await loadSnapshot(tableDir);
    const sizes = { mutableRows: 64, appendRows: 1000 }; // every file of at most 16 rows counts as small now
    const groups = compactionGroups(tableShape(job.definition), before, sizes);
    expect(groups.length).toBeGreaterThan(0);
    const grouped = new Set(groups.flatMap((g) => g.files.map((f) => f.path)));
    const view = await eventlakeJson(['--config', config, 'query', 'SELECT * FROM superchargers ORDER BY ALL']);
    const duck = await Duck.open();
    try {
      const after = await compact(duck, tableDir, job, before, groups, sizes);
      expect(await rowsOf(duck, tableDir, after)).toEqual(await rowsOf(duck, tableDir, before));
      for (const [p, add] of before.files) if (!grouped.has(p)) expect(after.files.get(p)).toEqual(add);
      expect(after.files.size).toBeLessThan(before.files.size);
      const commit = await readCommit(tableDir, after.version);
      for (const action of commit) {
        if ('add' in action) expect(action.add.dataChange).toBe(false);
        if ('remove' in action) expect(action.remove.dataChange).toBe(false);
      }
      expectDisjointRanges([...after.files.values()], 'supercharger_serial');
    } finally {
      duck.close();
    }
    await eventlake(['--config', config, 'run']);
    expect(await eventlakeJson(['--config', config, 'query', 'SELECT * FROM superchargers ORDER BY ALL'])).toEqual(view);
  });

  it('merges a history\'s small files of closed rows by time and keeps its open rows apart', async () => {
    // 8 batches: each adds a file of closed rows and one of new orders' open rows, short of COMPACT_AT_FILES.
    const { job, tableDir } = await lakeWith('order_status_history', { mutable: 1000, append: 1000 }, 900);
    const before = await loadSnapshot(tableDir);
    const groups = compactionGroups(tableShape(job.definition), before, job.fileRows);
    const closedOnly = (add: AddFile) => fileStats(add)!.nullCount.valid_to === 0;
    // New orders' open rows go to small files of their own too (keys past every file): a group apart.
    const closed = groups.filter((g) => g.files.every(closedOnly));
    expect(closed).toHaveLength(1);
    expect(groups.every((g) => g.files.every(closedOnly) || !g.files.some(closedOnly))).toBe(true);
    const duck = await Duck.open();
    try {
      const after = await compact(duck, tableDir, job, before, closed, job.fileRows);
      expect(await rowsOf(duck, tableDir, after)).toEqual(await rowsOf(duck, tableDir, before));
      const merged = [...after.files.values()].filter((f) => !before.files.has(f.path));
      expect(merged).toHaveLength(1);
      expect(closedOnly(merged[0])).toBe(true);
      const [{ sorted }] = await duck.rows(
        `SELECT bool_and(valid_from >= prev) AS sorted FROM (SELECT valid_from, lag(valid_from, 1, valid_from) OVER (ORDER BY file_row_number) AS prev FROM read_parquet(${sqlPathList(snapshotFilePaths(tableDir, { ...after, files: new Map([[merged[0].path, merged[0]]]) }))}, file_row_number = true))`,
      );
      expect(sorted).toBe(true);
    } finally {
      duck.close();
    }
  });
});

/** Files of mutable rows cover disjoint key ranges (min/max stats), so a key lives in one file. */
function expectDisjointRanges(files: AddFile[], key: string): void {
  const ranges = files.map((f) => [fileStats(f)!.minValues[key], fileStats(f)!.maxValues[key]] as [string, string]).sort((a, b) => (a[0] < b[0] ? -1 : 1));
  for (let i = 1; i < ranges.length; i++) expect(ranges[i][0] > ranges[i - 1][1], `${ranges[i - 1]} / ${ranges[i]}`).toBe(true);
}
