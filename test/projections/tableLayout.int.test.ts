import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AddFile } from '../../lake/delta/actions.js';
import { loadSnapshot, readCommit } from '../../lake/delta/deltaTable.js';
import { dataFilePath } from '../../lake/delta/snapshot.js';
import { Duck, sqlString } from '../../lake/duckdb.js';
import { LakeLayout } from '../../lake/layout.js';
import { fileStats } from '../../projections/dataFiles.js';
import { eventlakeJson, tempDir, writeNdjson } from '../support/cli.js';

const serial = (n: number) => `SC-${String(n).padStart(6, '0')}`;
const register = (n: number) => ({
  command_id: `reg-${n}`,
  command_name: 'RegisterSupercharger',
  received: new Date(Date.UTC(2026, 0, 1, 0, n)).toISOString(),
  command: { supercharger_serial: serial(n), location_name: 'Oslo', supercharger_type: 'V4', lat: 59.9, long: 10.7 },
});
const changeStatus = (n: number, minute: number) => ({
  command_id: `chg-${n}-${minute}`,
  command_name: 'ChangeSuperchargerStatus',
  received: new Date(Date.UTC(2026, 0, 2, 0, minute)).toISOString(),
  command: { supercharger_serial: serial(n), status: 'inuse' },
});

/**
 * The copy-on-write layout of a state table (projections/tableMerge.ts): files of mutable rows
 * cover disjoint key ranges (min/max stats), so a key lives in one file and a batch rewrites only
 * the files of the keys it touches; keys past every file's range (ids that grow with time) go to
 * a new file instead of rewriting the last one.
 */
describe('the key-range layout of a copy-on-write table', () => {
  const dir = tempDir('table-layout-');
  const config = path.join(dir, 'jobs.config.json');
  fs.writeFileSync(config, JSON.stringify({ lake: './lake', domains: ['superchargers'], jobs: [{ name: 'superchargers', projection: 'superchargers', fileRows: { mutable: 8, append: 1000 } }] }));
  const tableDir = new LakeLayout(path.join(dir, 'lake')).tableDir('superchargers');
  let step = 0;

  async function ingestAndRun(commands: object[]): Promise<{ removed: AddFile[]; added: AddFile[] }> {
    await eventlakeJson(['--config', config, 'ingest', writeNdjson(path.join(dir, `c${step++}.ndjson`), commands), '--json']);
    const before = await loadSnapshot(tableDir);
    await eventlakeJson(['--config', config, 'run', 'superchargers', '--json']);
    const after = await loadSnapshot(tableDir);
    expect(after.version).toBe(before.version + 1);
    const actions = await readCommit(tableDir, after.version);
    return {
      removed: actions.flatMap((a) => ('remove' in a ? [before.files.get(a.remove.path)!] : [])),
      added: actions.flatMap((a) => ('add' in a ? [a.add] : [])),
    };
  }

  const range = (add: AddFile) => [fileStats(add)!.minValues.supercharger_serial, fileStats(add)!.maxValues.supercharger_serial] as [string, string];

  it('new keys past every range go to a new file: no file is rewritten', async () => {
    await ingestAndRun(Array.from({ length: 40 }, (_, i) => register(i + 1)));
    const before = await loadSnapshot(tableDir);
    expect(before.files.size).toBe(5);
    const { removed, added } = await ingestAndRun([41, 42, 43].map(register));
    expect(removed).toEqual([]);
    expect(added.map(range)).toEqual([[serial(41), serial(43)]]);
  }, 120_000);

  it('an update rewrites only the file whose range holds its key', async () => {
    const snapshot = await loadSnapshot(tableDir);
    const home = [...snapshot.files.values()].filter((f) => range(f)[0] <= serial(19) && serial(19) <= range(f)[1]);
    expect(home).toHaveLength(1);
    const { removed, added } = await ingestAndRun([changeStatus(19, 1)]);
    expect(removed.map((f) => f.path)).toEqual([home[0].path]);
    expect(added.map(range)).toEqual([range(home[0])]);
  }, 120_000);

  it('every key is in exactly one file, the one whose range holds it; ranges stay disjoint', async () => {
    await ingestAndRun([changeStatus(2, 2), changeStatus(42, 3), register(44), changeStatus(30, 4)]);
    const files = [...(await loadSnapshot(tableDir)).files.values()];
    const ranges = files.map(range).sort((a, b) => (a[0] < b[0] ? -1 : 1));
    for (let i = 1; i < ranges.length; i++) expect(ranges[i][0] > ranges[i - 1][1], `${ranges[i - 1]} / ${ranges[i]}`).toBe(true);
    const duck = await Duck.open();
    try {
      for (const file of files) {
        const [low, high] = range(file);
        const rows = await duck.rows(`SELECT supercharger_serial AS k FROM read_parquet(${sqlString(path.join(tableDir, dataFilePath(file.path)))})`);
        for (const { k } of rows) expect(low <= (k as string) && (k as string) <= high).toBe(true);
      }
      const all = await duck.rows(`SELECT supercharger_serial AS k, count(*) AS n FROM read_parquet(${sqlString(path.join(tableDir, '*.parquet'))}, filename = true) WHERE filename IN (${files.map((f) => sqlString(path.join(tableDir, dataFilePath(f.path)))).join(', ')}) GROUP BY ALL ORDER BY k`);
      expect(all.map((r) => r.k)).toEqual(Array.from({ length: 44 }, (_, i) => serial(i + 1)));
      expect(all.every((r) => Number(r.n) === 1)).toBe(true);
    } finally {
      duck.close();
    }
  }, 120_000);
});
