import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Duck } from '../../lake/duckdb.js';
import { describeTable, liveRowsSelect, loadSnapshot, readDeletionVector, type AsOf } from '../../lake/delta/deltaTable.js';

/**
 * Tables with deletion vectors written by Spark + Delta Lake (from delta-io/delta-kernel-rs test
 * data), read in place through our snapshot reader and the DuckDB live-rows SELECT, and checked
 * against EXPECTED.md in the fixtures folder.
 */

const repoRoot = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));
const goldenDir = path.resolve(repoRoot, '..', 'shared', 'fixtures', 'delta-golden-dv');
const haveGolden = existsSync(goldenDir);
if (!haveGolden) console.log(`Delta golden fixtures with deletion vectors not found at ${goldenDir}; skipping those tests.`);

const table = (name: string) => path.join(goldenDir, name);

let duck: Duck;
beforeAll(async () => {
  if (haveGolden) duck = await Duck.open();
});
afterAll(() => duck?.close());

async function liveRows(name: string, orderBy: string, at: AsOf = {}, extra = ''): Promise<Record<string, unknown>[]> {
  const snapshot = await loadSnapshot(table(name), at);
  const { sql } = await liveRowsSelect(duck, table(name), snapshot);
  return duck.rows(`SELECT *${extra} FROM (${sql}) ORDER BY ${orderBy}`);
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe.skipIf(!haveGolden)('Spark tables with deletion vectors read as EXPECTED.md says', () => {
  it('table-without-dv-small: version 0, value 0..9, and no deletion vectors', async () => {
    const snapshot = await loadSnapshot(table('table-without-dv-small'));
    expect(snapshot.version).toBe(0);
    expect([...snapshot.files.values()].some((add) => add.deletionVector)).toBe(false);
    const { sql } = await liveRowsSelect(duck, table('table-without-dv-small'), snapshot);
    expect(sql).toMatch(/^SELECT \* FROM read_parquet\(\[[^\]]*\]\)$/); // no DV, no extra work
    expect((await liveRows('table-without-dv-small', 'value')).map((r) => Number(r.value))).toEqual(range(0, 9));
  });

  it('table-with-dv-small: version 1, value 1..8: rows 0 and 9 of the one data file deleted by a DV', async () => {
    const snapshot = await loadSnapshot(table('table-with-dv-small'));
    expect(snapshot.version).toBe(1);
    expect(snapshot.protocol).toEqual({ minReaderVersion: 3, minWriterVersion: 7, readerFeatures: ['deletionVectors'], writerFeatures: ['deletionVectors'] });
    const [add] = [...snapshot.files.values()];
    expect(snapshot.files.size).toBe(1);
    expect(Array.from(await readDeletionVector(table('table-with-dv-small'), add.deletionVector!))).toEqual([0, 9]);
    expect((await liveRows('table-with-dv-small', 'value')).map((r) => Number(r.value))).toEqual(range(1, 8));
    expect((await describeTable(table('table-with-dv-small'))).rows).toBe(8);
  });

  it('table-with-dv-small at version 0 (time travel, before the DELETE): value 0..9', async () => {
    expect((await liveRows('table-with-dv-small', 'value', { version: 0 })).map((r) => Number(r.value))).toEqual(range(0, 9));
    expect((await describeTable(table('table-with-dv-small'), { version: 0 })).rows).toBe(10);
  });

  it('table-with-dv-small keeps the data file without a DV as a tombstone, the same path live with its DV', async () => {
    const snapshot = await loadSnapshot(table('table-with-dv-small'));
    const [live] = [...snapshot.files.values()];
    const tombstones = [...snapshot.tombstones.values()];
    expect(tombstones).toHaveLength(1);
    expect(tombstones[0].path).toBe(live.path);
    expect(tombstones[0].deletionVector).toBeUndefined();
    expect(live.deletionVector?.storageType).toBe('u');
  });

  it('with-short-dv: version 0, 7 rows id 3..9 with their values, timestamp and rand', async () => {
    const snapshot = await loadSnapshot(table('with-short-dv'));
    expect(snapshot.version).toBe(0);
    // Spark's Parquet timestamps carry no zone (INT96); DuckDB reads them as UTC wall-clock times.
    const rows = await liveRows('with-short-dv', 'id', {}, ', epoch_ms("timestamp") AS ms');
    expect(rows.map((r) => Number(r.id))).toEqual(range(3, 9));
    expect(rows.map((r) => r.value)).toEqual(range(3, 9).map(String));
    for (const row of rows) expect(Number(row.ms)).toBe(Date.parse('2023-05-31T18:58:33.633Z'));
    expect(rows.map((r) => Number(r.rand))).toEqual([
      0.7918174793484931, 0.9281049271981882, 0.27796520310701633, 0.15263801464228832, 0.1981143710215575, 0.3069439236599195,
      0.5175919190815845,
    ]);
    expect((await describeTable(table('with-short-dv'))).rows).toBe(7);
  });
});
