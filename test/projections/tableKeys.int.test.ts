import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddFile } from '../../lake/delta/actions.js';
import type { Snapshot } from '../../lake/delta/snapshot.js';
import { Duck } from '../../lake/duckdb.js';
import { keysReadBehind, loadTableKeys, NO_KEYS } from '../../projections/tableKeys.js';
import { tempDir } from '../support/cli.js';

describe("a table's keys read into a filter", () => {
  const dir = tempDir();
  let duck: Duck;
  const add = (file: string, rows: number): AddFile => ({ path: file, size: 1, modificationTime: 0, dataChange: true, partitionValues: {}, stats: JSON.stringify({ numRecords: rows }) });
  const snapshotOf = (...files: AddFile[]) => ({ version: 1, files: new Map(files.map((f) => [f.path, f])) }) as unknown as Snapshot;

  beforeAll(async () => {
    duck = await Duck.open();
    // Two files of 5,000 keys each, their key ranges overlapping (min/max stats could rule out neither).
    for (const [file, parity] of [['a.parquet', 0], ['b.parquet', 1]] as const) {
      await duck.run(`COPY (SELECT 'key-' || (i * 2 + ${parity}) AS id, i AS n FROM range(5000) t(i)) TO '${path.join(dir, file)}' (FORMAT parquet)`);
    }
  });
  afterAll(() => duck.close());

  it('says "maybe" for every key any file holds, and "no" for nearly every other key', async () => {
    const keys = await loadTableKeys(duck, dir, snapshotOf(add('a.parquet', 5000), add('b.parquet', 5000)), 'id');
    for (let i = 0; i < 10_000; i++) expect(keys.mayHold(`key-${i}`)).toBe(true);
    let maybe = 0;
    for (let i = 10_000; i < 20_000; i++) if (keys.mayHold(`key-${i}`)) maybe += 1;
    // ~1 in a million false positives by its sizing; a filter that said "maybe" to everything would fail here.
    expect(maybe).toBeLessThan(300);
  });

  it("a BIGINT or DATE key column's values are held in the text keyOf gives them in (stateKeys.ts)", async () => {
    const file = path.join(dir, 'typed.parquet');
    await duck.run(`COPY (SELECT CAST(i * 1000 AS BIGINT) AS n, DATE '2026-02-01' + CAST(i AS INTEGER) AS day FROM range(100) t(i)) TO '${file}' (FORMAT parquet)`);
    const numbers = await loadTableKeys(duck, dir, snapshotOf(add('typed.parquet', 100)), 'n');
    const days = await loadTableKeys(duck, dir, snapshotOf(add('typed.parquet', 100)), 'day');
    for (let i = 0; i < 100; i++) {
      expect(numbers.mayHold(String(i * 1000)), `n ${i * 1000}`).toBe(true);
      expect(days.mayHold(new Date(Date.UTC(2026, 1, 1 + i)).toISOString().slice(0, 10)), `day ${i}`).toBe(true);
    }
  });

  it('says "no" for every key of a large batch of new keys: a single "maybe" makes the batch read the table', async () => {
    const keys = await loadTableKeys(duck, dir, snapshotOf(add('a.parquet', 5000), add('b.parquet', 5000)), 'id');
    let maybe = 0;
    for (let i = 10_000; i < 110_000; i++) if (keys.mayHold(`key-${i}`)) maybe += 1;
    // ~0.1 expected of 100,000 (at 1% false positives, ~1,000 of them would each have cost a read).
    expect(maybe).toBeLessThanOrEqual(2);
  });

  it('an empty table holds no key; a filter still being read, or that could not be read, says "maybe"', async () => {
    expect(await loadTableKeys(duck, dir, snapshotOf(), 'id')).toBe(NO_KEYS);
    let finish!: () => void;
    const pending = keysReadBehind(new Promise((resolve) => (finish = () => resolve(NO_KEYS))), 't');
    expect(pending.mayHold('key-unknown')).toBe(true);
    finish();
    await new Promise((resolve) => setImmediate(resolve));
    expect(pending.mayHold('key-unknown')).toBe(false);
    const missing = loadTableKeys(duck, dir, snapshotOf(add('gone.parquet', 10)), 'id');
    const failed = keysReadBehind(missing, 't');
    await expect(missing).rejects.toThrow();
    expect(failed.mayHold('key-unknown')).toBe(true);
  });
});
