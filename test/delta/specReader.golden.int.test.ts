import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../support/cli.js';
import { DeltaTableReader } from '../support/deltaReader/deltaTableReader.js';
import { findDataChangeViolations } from '../support/deltaReader/dataChangeCheck.js';

/**
 * The test-only Delta reader (test/support/deltaReader, written from PROTOCOL.md) on tables that
 * Apache Spark wrote, read in place: what it returns must be what each fixture folder's
 * EXPECTED.md says. This is what lets the exact-tables acceptance test trust the reader.
 */
const fixtures = path.resolve(REPO, '..', 'shared', 'fixtures');
const golden = path.join(fixtures, 'delta-golden');
const goldenDv = path.join(fixtures, 'delta-golden-dv');
for (const dir of [golden, goldenDv]) {
  if (!existsSync(dir)) console.log(`Delta golden fixtures not found at ${dir}; skipping the test reader's golden table tests there.`);
}

const reader = (dir: string, name: string) => new DeltaTableReader(path.join(dir, name));
const sorted = <T>(values: T[]) => [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
/** (col1 x, col2 'data-<batch>-x') for x in 0..count-1: how the snapshot-data tables were written. */
const batch = (batchNo: number, count: number) => range(0, count - 1).map((x) => `${x}|data-${batchNo}-${x}`);
const pairs = async (name: string) => sorted((await reader(golden, name).rows()).map((r) => `${r.col1}|${r.col2}`));

describe.skipIf(!existsSync(golden))('the test reader on Spark-written golden tables (delta-golden/EXPECTED.md)', () => {
  it('snapshot-data0..3: appends, an overwrite, typed columns', async () => {
    expect((await reader(golden, 'snapshot-data0').snapshot()).version).toBe(0);
    expect(await pairs('snapshot-data0')).toEqual(sorted(batch(0, 10)));
    expect(await pairs('snapshot-data1')).toEqual(sorted([...batch(0, 10), ...batch(1, 10)]));
    expect(await pairs('snapshot-data2')).toEqual(sorted(batch(2, 10)));
    expect(await pairs('snapshot-data3')).toEqual(sorted([...batch(2, 10), ...batch(3, 20)]));
    const [row] = await reader(golden, 'snapshot-data0').rows();
    expect(typeof row.col1).toBe('number');
    expect(typeof row.col2).toBe('string');
  });

  it('snapshot-data2-deleted: version 4 keeps data-3-* only', async () => {
    const table = reader(golden, 'snapshot-data2-deleted');
    expect((await table.snapshot()).version).toBe(4);
    expect(await pairs('snapshot-data2-deleted')).toEqual(sorted(batch(3, 20)));
  });

  it('snapshot-repartitioned: version 5 in exactly 2 files, and its dataChange=false rewrite keeps the rows', async () => {
    const table = reader(golden, 'snapshot-repartitioned');
    const snapshot = await table.snapshot();
    expect(snapshot.version).toBe(5);
    expect(snapshot.files).toHaveLength(2);
    expect(await pairs('snapshot-repartitioned')).toEqual(sorted(batch(3, 20)));
    const report = await findDataChangeViolations(table);
    expect(report.checkedVersions).toEqual([5]);
    expect(report.violations).toEqual([]);
  });

  it('snapshot-vacuumed: version 5, and every data file left in the folder is in the snapshot', async () => {
    const snapshot = await reader(golden, 'snapshot-vacuumed').snapshot();
    expect(snapshot.version).toBe(5);
    expect(await pairs('snapshot-vacuumed')).toEqual(sorted(batch(3, 20)));
    const inFolder = readdirSync(path.join(golden, 'snapshot-vacuumed')).filter((n) => n.endsWith('.parquet') && !n.startsWith('.'));
    expect(sorted(snapshot.files.map((f) => f.path))).toEqual(sorted(inFolder));
  });

  it('checkpoint: version 14 from the checkpoint at 10 plus commits 11..14; version 10 from the checkpoint alone', async () => {
    const table = reader(golden, 'checkpoint');
    const latest = await table.snapshot();
    expect(latest.version).toBe(14);
    expect(latest.files.map((f) => f.path)).toEqual(['15']);
    expect((await table.snapshot(10)).files.map((f) => f.path)).toEqual(['11']);
    expect((await table.versions()).at(-1)).toBe(14);
  });

  it('basic-with-inserts-deletes-checkpoint: version 13 holds the 41 ids EXPECTED.md lists', async () => {
    const table = reader(golden, 'basic-with-inserts-deletes-checkpoint');
    expect((await table.snapshot()).version).toBe(13);
    const ids = [...range(0, 4), ...range(10, 14), ...range(20, 24), ...range(30, 34), ...range(40, 44), ...range(50, 65)];
    expect(ids).toHaveLength(41);
    expect((await table.rows()).map((r) => r.id).sort((a, b) => Number(a) - Number(b))).toEqual(ids);
  });

  it('a checkpoint stands for the JSON commits it replaces (same files, txns, metaData, protocol)', async () => {
    for (const name of ['checkpoint', 'basic-with-inserts-deletes-checkpoint']) {
      const table = reader(golden, name);
      const viaCheckpoint = await table.snapshot();
      const viaJson = await table.snapshot(undefined, { jsonOnly: true });
      expect(sorted(viaCheckpoint.files.map((f) => f.path)), name).toEqual(sorted(viaJson.files.map((f) => f.path)));
      expect(viaCheckpoint.metaData.schemaString, name).toBe(viaJson.metaData.schemaString);
      expect(viaCheckpoint.protocol, name).toEqual(viaJson.protocol);
      expect(viaCheckpoint.txns, name).toEqual(viaJson.txns);
    }
  });

  it('time-travel-start-start20-start40: versions 0 / 1 / 2 hold ids 0..9 / 0..19 / 0..29', async () => {
    const table = reader(golden, 'time-travel-start-start20-start40');
    for (const [version, last] of [[0, 9], [1, 19], [2, 29]]) {
      expect((await table.rows(version)).map((r) => r.id).sort((a, b) => Number(a) - Number(b)), `v${version}`).toEqual(range(0, last));
    }
    await expect(table.snapshot(3)).rejects.toThrow(/version 3 does not exist/);
  });
});

describe.skipIf(!existsSync(goldenDv))('the test reader on Spark-written tables with deletion vectors (delta-golden-dv/EXPECTED.md)', () => {
  it('table-without-dv-small: value 0..9', async () => {
    expect((await reader(goldenDv, 'table-without-dv-small').rows()).map((r) => r.value)).toEqual(range(0, 9));
  });

  it('table-with-dv-small: version 1 is the same data file with rows 0 and 9 deleted by a deletion vector', async () => {
    const table = reader(goldenDv, 'table-with-dv-small');
    expect((await table.rows(0)).map((r) => r.value)).toEqual(range(0, 9));
    const snapshot = await table.snapshot();
    expect(snapshot.version).toBe(1);
    expect(snapshot.files[0].deletionVector).toMatchObject({ storageType: 'u', cardinality: 2 });
    expect((await table.rows()).map((r) => r.value)).toEqual(range(1, 8));
  });

  it('with-short-dv: 7 rows, id 3..9, with their values, timestamp and rand', async () => {
    const rows = await reader(goldenDv, 'with-short-dv').rows();
    expect(rows.map((r) => r.id)).toEqual(range(3, 9));
    expect(rows.map((r) => r.value)).toEqual(range(3, 9).map(String));
    for (const row of rows) expect(row.timestamp).toBe('2023-05-31T18:58:33.633Z');
    expect(rows.map((r) => r.rand)).toEqual([0.7918174793484931, 0.9281049271981882, 0.27796520310701633, 0.15263801464228832, 0.1981143710215575, 0.3069439236599195, 0.5175919190815845]);
  });
});
