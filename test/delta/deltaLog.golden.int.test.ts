import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Duck, sqlIdent, sqlPathList, sqlString } from '../../lake/duckdb.js';
import {
  commitVersion,
  describeTable,
  listLog,
  loadSnapshot,
  readCommit,
  snapshotFilePaths,
  writeCheckpoint,
  type AsOf,
} from '../../lake/delta/deltaTable.js';
import { dataFilePath, replay } from '../../lake/delta/snapshot.js';
import { commitInfo, createTable, removeOf, removeScratchDirs, scratchDir, writeIds } from './scratchTable.js';

/**
 * Tables written by Apache Spark + Delta Lake (delta-io/delta golden tables), checked against
 * EXPECTED.md in the fixtures folder. The fixtures are read in place, never copied or modified.
 */

const repoRoot = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));
const goldenDir = path.resolve(repoRoot, '..', 'shared', 'fixtures', 'delta-golden');
const haveGolden = existsSync(goldenDir);
if (!haveGolden) console.log(`Delta golden fixtures not found at ${goldenDir}; skipping the golden table tests.`);

const table = (name: string) => path.join(goldenDir, name);

let duck: Duck;
beforeAll(async () => {
  if (haveGolden) duck = await Duck.open();
});
afterAll(async () => {
  duck?.close();
  await removeScratchDirs();
});

/** The rows of the snapshot, read with DuckDB from exactly the snapshot's files. */
async function snapshotRows(name: string, at: AsOf = {}): Promise<Record<string, unknown>[]> {
  const snapshot = await loadSnapshot(table(name), at);
  return duck.rows(`SELECT * FROM read_parquet(${sqlPathList(snapshotFilePaths(table(name), snapshot))})`);
}

/** (col1 x, col2 'data-<batch>-x') for x in 0..count-1: how the snapshot-data tables were written. */
function batch(batchNo: number, count: number): string[] {
  return Array.from({ length: count }, (_, x) => `${x}|data-${batchNo}-${x}`);
}

async function colPairs(name: string): Promise<string[]> {
  return (await snapshotRows(name)).map((r) => `${r.col1}|${r.col2}`).sort();
}

function ids(...ranges: [number, number][]): number[] {
  return ranges.flatMap(([from, to]) => Array.from({ length: to - from + 1 }, (_, i) => from + i)).sort((a, b) => a - b);
}

async function idsOf(name: string, at: AsOf = {}): Promise<number[]> {
  return (await snapshotRows(name, at)).map((r) => Number(r.id)).sort((a, b) => a - b);
}

describe.skipIf(!haveGolden)('Delta golden tables (written by Spark) read as EXPECTED.md says', () => {
  it('snapshot-data0: version 0, rows (x, data-0-x) for x in 0..9', async () => {
    expect((await loadSnapshot(table('snapshot-data0'))).version).toBe(0);
    expect(await colPairs('snapshot-data0')).toEqual(batch(0, 10).sort());
  });

  it('snapshot-data1: version 1, an append: data-0-* and data-1-*', async () => {
    expect((await loadSnapshot(table('snapshot-data1'))).version).toBe(1);
    expect(await colPairs('snapshot-data1')).toEqual([...batch(0, 10), ...batch(1, 10)].sort());
  });

  it('snapshot-data2: version 2, the overwrite removed the earlier files: data-2-* only', async () => {
    expect((await loadSnapshot(table('snapshot-data2'))).version).toBe(2);
    expect(await colPairs('snapshot-data2')).toEqual(batch(2, 10).sort());
  });

  it('snapshot-data3: version 3, data-2-* (10) and data-3-* (20)', async () => {
    expect((await loadSnapshot(table('snapshot-data3'))).version).toBe(3);
    expect(await colPairs('snapshot-data3')).toEqual([...batch(2, 10), ...batch(3, 20)].sort());
  });

  it('snapshot-data2-deleted: version 4, the DELETE leaves data-3-* only (20)', async () => {
    expect((await loadSnapshot(table('snapshot-data2-deleted'))).version).toBe(4);
    expect(await colPairs('snapshot-data2-deleted')).toEqual(batch(3, 20).sort());
  });

  it('snapshot-repartitioned: version 5, data-3-* in exactly 2 data files', async () => {
    const snapshot = await loadSnapshot(table('snapshot-repartitioned'));
    expect(snapshot.version).toBe(5);
    expect(snapshot.files.size).toBe(2);
    expect([...snapshot.files.values()].every((add) => add.dataChange === false)).toBe(true);
    expect(await colPairs('snapshot-repartitioned')).toEqual(batch(3, 20).sort());
  });

  it('snapshot-vacuumed: version 5, data-3-*, and every data file left in the folder is in the snapshot', async () => {
    const snapshot = await loadSnapshot(table('snapshot-vacuumed'));
    expect(snapshot.version).toBe(5);
    expect(await colPairs('snapshot-vacuumed')).toEqual(batch(3, 20).sort());
    const inFolder = (await readdir(table('snapshot-vacuumed'))).filter((n) => !n.startsWith('.') && !n.startsWith('_'));
    const inSnapshot = new Set([...snapshot.files.keys()].map(dataFilePath));
    expect(inFolder.length).toBeGreaterThan(0);
    for (const file of inFolder) expect(inSnapshot, file).toContain(file);
  });

  it('checkpoint: version 14 from the checkpoint at 10 plus commits 11..14, file list exactly ["15"]', async () => {
    const log = await listLog(table('checkpoint'));
    expect(log.checkpoints.map((c) => c.version)).toEqual([10]);
    const snapshot = await loadSnapshot(table('checkpoint'));
    expect(snapshot.version).toBe(14);
    expect([...snapshot.files.keys()]).toEqual(['15']);
    // Version 10 comes from the checkpoint alone (the paths are fake, so no rows are read).
    expect([...(await loadSnapshot(table('checkpoint'), { version: 10 })).files.keys()]).toEqual(['11']);
  });

  it('basic-with-inserts-deletes-checkpoint: version 13, ids 0..4, 10..14, 20..24, 30..34, 40..44, 50..65', async () => {
    expect((await loadSnapshot(table('basic-with-inserts-deletes-checkpoint'))).version).toBe(13);
    const expected = ids([0, 4], [10, 14], [20, 24], [30, 34], [40, 44], [50, 65]);
    expect(expected).toHaveLength(41);
    expect(await idsOf('basic-with-inserts-deletes-checkpoint')).toEqual(expected);
    const described = await describeTable(table('basic-with-inserts-deletes-checkpoint'));
    expect(described.rows).toBe(41); // from the stats Spark recorded, checkpointed ones included
    expect(described.schema).toEqual([{ name: 'id', type: 'long' }]);
  });

  it('the checkpointed tables give the same snapshot from their checkpoint as from replaying every JSON commit', async () => {
    for (const name of ['checkpoint', 'basic-with-inserts-deletes-checkpoint']) {
      const fromCheckpoint = await loadSnapshot(table(name));
      const commits = [];
      for (let version = 0; version <= fromCheckpoint.version; version++) {
        commits.push({ version, actions: await readCommit(table(name), version) });
      }
      const fromJson = replay(commits);
      expect([...fromCheckpoint.files.keys()].sort(), name).toEqual([...fromJson.files.keys()].sort());
      expect(fromCheckpoint.metadata, name).toEqual(fromJson.metadata);
      expect(fromCheckpoint.protocol, name).toEqual(fromJson.protocol);
      expect(fromCheckpoint.commitTimestamp, name).toBe(fromJson.commitTimestamp);
    }
  });

  it('time-travel-start-start20-start40: versions 0 / 1 / 2 hold ids 0..9 / 0..19 / 0..29', async () => {
    const name = 'time-travel-start-start20-start40';
    expect(await idsOf(name, { version: 0 })).toEqual(ids([0, 9]));
    expect(await idsOf(name, { version: 1 })).toEqual(ids([0, 19]));
    expect(await idsOf(name, { version: 2 })).toEqual(ids([0, 29]));
    expect((await loadSnapshot(table(name))).version).toBe(2);
  });

  it('time-travel-start-start20-start40 by timestamp uses the commitInfo times (file mtimes were not kept)', async () => {
    const name = 'time-travel-start-start20-start40';
    // commitInfo.timestamp of versions 0, 1, 2: 1603724019870, 1603724021190, 1603724022561
    expect((await loadSnapshot(table(name), { timestamp: 1603724021190 })).version).toBe(1);
    expect((await loadSnapshot(table(name), { timestamp: 1603724022560 })).version).toBe(1);
    await expect(loadSnapshot(table(name), { timestamp: 1603724019869 })).rejects.toThrow(/has no version at/);
  });

  it('a checkpoint eventlake writes uses the names, types and Parquet layout of the Spark checkpoint', async () => {
    const spark = path.join(table('basic-with-inserts-deletes-checkpoint'), '_delta_log', '00000000000000000010.checkpoint.parquet');
    const ours = await checkpointOfOwnTable();
    for (const column of ['txn', 'add', 'remove', 'metaData', 'protocol']) {
      const sparkFields = await structFields(spark, column);
      for (const [field, type] of await structFields(ours, column)) {
        expect(sparkFields.get(field), `${column}.${field}`).toBe(type);
      }
    }
    const sparkLeaves = new Set(await parquetLayout(spark));
    for (const leaf of await parquetLayout(ours)) expect(sparkLeaves, leaf).toContain(leaf);
  });
});

async function checkpointOfOwnTable(): Promise<string> {
  const dir = await scratchDir();
  const a = await writeIds(duck, dir, 'a.parquet', 0, 3);
  const b = await writeIds(duck, dir, 'b.parquet', 3, 6);
  await commitVersion(dir, 0, [commitInfo(Date.now()), ...createTable(), { add: a }, { txn: { appId: 'p', version: 1, lastUpdated: 1 } }]);
  await commitVersion(dir, 1, [commitInfo(Date.now()), removeOf(a, Date.now()), { add: b }]);
  return (await writeCheckpoint(dir, await loadSnapshot(dir))).path;
}

/** field -> DuckDB type of the fields of one struct column of a checkpoint. */
async function structFields(file: string, column: string): Promise<Map<string, string>> {
  const rows = await duck.rows(`DESCRIBE SELECT ${sqlIdent(column)}.* FROM read_parquet(${sqlString(file)})`);
  return new Map(rows.map((r) => [String(r.column_name), String(r.column_type)]));
}

/**
 * Each Parquet schema element as name/physical type/repetition/annotation. DuckDB annotates plain
 * integers as INT_32/INT_64 where parquet-mr (Spark) leaves them bare; both mean a signed int of
 * that width, so those annotations are dropped before comparing.
 */
async function parquetLayout(file: string): Promise<string[]> {
  const rows = await duck.rows(
    `SELECT name, type, repetition_type, converted_type FROM parquet_schema(${sqlString(file)})
     WHERE name NOT IN ('duckdb_schema', 'spark_schema')`,
  );
  const annotation = (c: unknown) => (c === 'INT_32' || c === 'INT_64' ? null : c);
  return rows.map((r) => `${r.name}/${r.type}/${r.repetition_type}/${annotation(r.converted_type)}`);
}

