/**
 * Data files written straight from an in-memory relation (a rebuild's final table, one file's
 * worth) hold the same rows, in the same order, with the same Delta stats, as those written
 * through the `__write` copy.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Duck, sqlString } from '../../lake/duckdb.js';
import { fileStats, writeDataFiles } from '../../projections/dataFiles.js';
import type { Column } from '../../projections/projection.js';
import { tempDir } from '../support/cli.js';

const columns: Column[] = [
  { name: 'id', type: 'VARCHAR' },
  { name: 'n', type: 'BIGINT' },
  { name: 'at', type: 'TIMESTAMPTZ' },
  { name: 'note', type: 'VARCHAR' },
];

describe('writing a relation as data files', () => {
  let dir: string;
  let duck: Duck;
  beforeEach(async () => {
    dir = tempDir();
    duck = await Duck.open();
    // 1,000 rows in no order; `note` NULL on every third, `at` spread over days.
    await duck.run(`CREATE TEMP TABLE rows_in AS
      SELECT printf('k%04d', (i * 7919) % 1000) AS id, ((i * 7919) % 1000)::BIGINT AS n,
        TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_seconds((i * 7919) % 1000 * 3600) AS at,
        CASE WHEN i % 3 = 0 THEN NULL ELSE 'note ' || i END AS note
      FROM range(1000) AS r(i)`);
  });
  afterEach(() => {
    duck.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const write = async (folder: string, relation: string, maxRows: number, inMemory: boolean) => {
    const tableDir = path.join(dir, folder);
    const adds = await writeDataFiles(duck, tableDir, columns, { relation, orderBy: ['id'], maxRows, inMemory });
    const files = await Promise.all(adds.map((add) => duck.rows(`SELECT id, n, note FROM read_parquet(${sqlString(path.join(tableDir, add.path))}, file_row_number = true) ORDER BY file_row_number`)));
    return { stats: adds.map((add) => fileStats(add)), files };
  };

  for (const [label, relation] of [['a table', 'rows_in'], ['a filtered SELECT', '(SELECT * FROM rows_in WHERE n >= 100)']] as const) {
    it(`${label}: one file, written straight from it, equals the copied path's (rows in order, stats)`, async () => {
      const copied = await write('copied', relation, 10_000, false);
      const straight = await write('straight', relation, 10_000, true);
      expect(straight.files).toHaveLength(1);
      expect(straight).toEqual(copied);
      const ids = straight.files[0].map((r) => r.id as string);
      expect(ids).toEqual([...ids].sort());
      expect(straight.stats[0]).toMatchObject({ numRecords: ids.length, minValues: { id: ids[0] }, maxValues: { id: ids.at(-1) } });
      expect(straight.stats[0]!.nullCount.note).toBe(straight.files[0].filter((r) => r.note === null).length);
    });
  }

  it('more rows than a file holds: cut into files in order, as before', async () => {
    const copied = await write('copied', 'rows_in', 300, false);
    const straight = await write('straight', 'rows_in', 300, true);
    expect(straight.files).toHaveLength(4);
    expect(straight).toEqual(copied);
  });

  it('through the `__write` copy: its CREATE answers the row count, so no count(*) statement follows', async () => {
    const statements: string[] = [];
    for (const method of ['run', 'rows'] as const) {
      const original = duck[method].bind(duck);
      vi.spyOn(duck, method).mockImplementation(((sql: string) => (statements.push(sql.replace(/\s+/g, ' ')), original(sql))) as never);
    }
    const { stats } = await write('counted', 'rows_in', 300, false);
    expect(stats.map((s) => s!.numRecords)).toEqual([250, 250, 250, 250]);
    expect(statements.filter((sql) => /count\(\*\) FROM __write$/i.test(sql.trim()))).toEqual([]);
    // The copy, one stats scan, a COPY per file, the drop (then the test's own four reads back).
    expect(statements.filter((sql) => !sql.includes('file_row_number'))).toHaveLength(1 + 1 + 4 + 1);
  });

  it('through the `__write` copy, no rows: no file', async () => {
    expect(await writeDataFiles(duck, path.join(dir, 'none'), columns, { relation: '(SELECT * FROM rows_in WHERE false)', maxRows: 10 })).toEqual([]);
  });

  it('no rows: no file', async () => {
    expect(await writeDataFiles(duck, path.join(dir, 'none'), columns, { relation: '(SELECT * FROM rows_in WHERE false)', maxRows: 10, inMemory: true })).toEqual([]);
  });
});
