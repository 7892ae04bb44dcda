import { randomUUID } from 'node:crypto';
import { readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Duck } from '../../lake/duckdb.js';
import { sparkSchemaString, type Action, type AddFile } from '../../lake/delta/actions.js';
import {
  commitVersion,
  DELETION_VECTOR_CONFIGURATION,
  DELETION_VECTOR_PROTOCOL,
  deletionVectorLocation,
  describeTable,
  liveRowsSelect,
  loadSnapshot,
  markRowsDeleted,
  readCommit,
  readDeletionVector,
  ROW_FILE_COLUMN,
  ROW_INDEX_COLUMN,
  vacuum,
  writeCheckpoint,
  writeDeletionVectors,
  type AsOf,
} from '../../lake/delta/deltaTable.js';
import { inlineDeletionVector } from '../../lake/delta/deletionVector.js';
import { replay, type Snapshot } from '../../lake/delta/snapshot.js';
import { commitInfo, createTable, ID_COLUMNS, scratchDir, useScratchDuck, writeIds } from './scratchTable.js';

/** A table with deletion vectors written by our own writer functions, read back through every path. */

const scratch = useScratchDuck();

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;
const NOW = Date.now();
const OLD = new Date(NOW - 10 * DAY);

function createDvTable(): Action[] {
  return [
    { protocol: { ...DELETION_VECTOR_PROTOCOL } },
    {
      metaData: {
        id: randomUUID(),
        format: { provider: 'parquet', options: {} },
        schemaString: sparkSchemaString(ID_COLUMNS),
        partitionColumns: [],
        configuration: { ...DELETION_VECTOR_CONFIGURATION },
        createdTime: NOW,
      },
    },
  ];
}

async function liveIds(table: string, at: AsOf = {}): Promise<number[]> {
  const snapshot = await loadSnapshot(table, at);
  const { sql } = await liveRowsSelect(scratch.duck, table, snapshot);
  return (await scratch.duck.rows(`SELECT id FROM (${sql}) ORDER BY id`)).map((r) => Number(r.id));
}

const ids = (from: number, to: number, except: number[] = []) =>
  Array.from({ length: to - from }, (_, i) => from + i).filter((id) => !except.includes(id));

async function commitDeletion(table: string, version: number, snapshot: Snapshot, deletions: { file: AddFile; rows: number[] }[], at: number, more: Action[] = []) {
  const actions = await markRowsDeleted(table, snapshot, deletions, { now: at });
  await commitVersion(table, version, [commitInfo(at, 'DELETE'), ...actions, ...more]);
  return actions;
}

const live = async (table: string, name: string) => (await loadSnapshot(table)).files.get(name)!;

async function tableFiles(table: string): Promise<string[]> {
  return (await readdir(table)).filter((n) => !n.startsWith('_')).sort();
}

describe('a table with deletion vectors written by eventlake', () => {
  it('reads its live rows at every version, from JSON commits and from a checkpoint, and vacuums only what no version needs', async () => {
    const table = await scratchDir();
    const a = await writeIds(scratch.duck, table, 'a.parquet', 0, 100);
    const b = await writeIds(scratch.duck, table, 'b.parquet', 100, 200);
    await commitVersion(table, 0, [commitInfo(NOW - 4 * DAY), ...createDvTable(), { add: a }, { add: b }]);

    // v1: rows 0, 1, 2 and 50 of a.
    const v1 = await commitDeletion(table, 1, await loadSnapshot(table), [{ file: a, rows: [0, 1, 2, 50] }], NOW - 3 * DAY);
    expect(v1.map((action) => Object.keys(action)[0])).toEqual(['remove', 'add']);
    const a1 = await live(table, 'a.parquet');
    expect(a1.deletionVector).toMatchObject({ storageType: 'u', cardinality: 4, offset: 1 });
    expect(JSON.parse(a1.stats!)).toMatchObject({ numRecords: 100, tightBounds: false });

    // v2: two more rows of a (one already deleted), every row of b (so b is only removed), a new file c.
    const c = await writeIds(scratch.duck, table, 'c.parquet', 200, 210);
    const v2 = await commitDeletion(table, 2, await loadSnapshot(table), [{ file: a1, rows: [3, 50, 99] }, { file: b, rows: ids(0, 100) }], NOW - 2 * DAY, [{ add: c }]);
    expect(v2.filter((action) => 'remove' in action)).toHaveLength(2);
    expect(v2.filter((action) => 'add' in action)).toHaveLength(1);
    const a2 = await live(table, 'a.parquet');
    expect(Array.from(await readDeletionVector(table, a2.deletionVector!))).toEqual([0, 1, 2, 3, 50, 99]);

    // v3, after a checkpoint at v2: one more row of a, on top of the checkpointed DV.
    await writeCheckpoint(table, await loadSnapshot(table));
    await commitDeletion(table, 3, await loadSnapshot(table), [{ file: a2, rows: [10] }], NOW - HOUR);

    const expected = {
      0: ids(0, 200),
      1: ids(0, 200, [0, 1, 2, 50]),
      2: [...ids(0, 100, [0, 1, 2, 3, 50, 99]), ...ids(200, 210)],
      3: [...ids(0, 100, [0, 1, 2, 3, 10, 50, 99]), ...ids(200, 210)],
    };
    for (const [version, rows] of Object.entries(expected)) {
      expect(await liveIds(table, { version: Number(version) }), `version ${version}`).toEqual(rows);
      expect((await describeTable(table, { version: Number(version) })).rows, `version ${version}`).toBe(rows.length);
    }
    expect(await liveIds(table, { timestamp: NOW - 3 * DAY + 1 })).toEqual(expected[1]);

    // The checkpoint at v2 gives the same files and tombstones (DVs included) as the JSON commits.
    const fromJson = replay(await Promise.all([0, 1, 2, 3].map(async (version) => ({ version, actions: await readCommit(table, version) }))));
    const fromCheckpoint = await loadSnapshot(table);
    expect([...fromCheckpoint.files.values()].sort(byPath)).toEqual([...fromJson.files.values()].sort(byPath));
    expect([...fromCheckpoint.tombstones.keys()].sort()).toEqual([...fromJson.tombstones.keys()].sort());

    // A DV file for a commit that never happened: an orphan.
    await writeDeletionVectors(table, [[5]]);
    for (const name of await tableFiles(table)) await utimes(path.join(table, name), OLD, OLD);
    const dvFile = (file: AddFile) => path.basename(deletionVectorLocation(table, file.deletionVector!)!);
    const a3 = await live(table, 'a.parquet');
    const beforeVacuum = await tableFiles(table);
    expect(beforeVacuum).toHaveLength(3 + 4); // a, b, c; the DV files of v1, v2, v3 and the orphan

    const deleted = await vacuum(table, { retentionMs: DAY, now: NOW });

    // b was removed and the v1 DV replaced two days ago; the v2 DV was replaced an hour ago (a
    // reader of v2 may still need it); the v3 DV is live; the orphan is referenced by nothing.
    const orphan = beforeVacuum.filter((n) => n.startsWith('deletion_vector_') && ![dvFile(a1), dvFile(a2), dvFile(a3)].includes(n));
    expect(deleted.sort()).toEqual(['b.parquet', dvFile(a1), ...orphan].sort());
    expect(await tableFiles(table)).toEqual(['a.parquet', 'c.parquet', dvFile(a2), dvFile(a3)].sort());
    expect(await liveIds(table)).toEqual(expected[3]);
    expect(await liveIds(table, { version: 2 })).toEqual(expected[2]);
  });

  it('a merge finds superseded rows by their row address and deletes exactly those', async () => {
    const table = await scratchDir();
    const a = await writeIds(scratch.duck, table, 'a.parquet', 0, 1000);
    const b = await writeIds(scratch.duck, table, 'b.parquet', 1000, 2000);
    await commitVersion(table, 0, [commitInfo(NOW), ...createDvTable(), { add: a }, { add: b }]);
    const snapshot = await loadSnapshot(table);
    const rows = await liveRowsSelect(scratch.duck, table, snapshot, { withRowAddress: true });
    const superseded = await scratch.duck.rows(
      `SELECT "${ROW_FILE_COLUMN}" AS file, "${ROW_INDEX_COLUMN}" AS row FROM (${rows.sql}) WHERE id % 7 = 0 OR id IN (999, 1000)`,
    );
    const byFile = new Map<string, number[]>();
    for (const r of superseded) byFile.set(String(r.file), [...(byFile.get(String(r.file)) ?? []), Number(r.row)]);
    const deletions = [...byFile].map(([readPath, rowIndexes]) => ({ file: rows.files.get(readPath)!, rows: rowIndexes }));
    await commitDeletion(table, 1, snapshot, deletions, NOW);

    const gone = (id: number) => id % 7 === 0 || id === 999 || id === 1000;
    expect(await liveIds(table)).toEqual(ids(0, 2000).filter((id) => !gone(id)));
    // Row addresses of a table with DVs are those of the data files, deleted rows skipped.
    const after = await liveRowsSelect(scratch.duck, table, await loadSnapshot(table), { withRowAddress: true });
    const addresses = await scratch.duck.rows(`SELECT id, "${ROW_INDEX_COLUMN}" AS row FROM (${after.sql}) WHERE id IN (1, 1002)`);
    expect(addresses.map((r) => [Number(r.id), Number(r.row)]).sort()).toEqual([
      [1, 1],
      [1002, 2],
    ]);
  });

  it('reads DVs stored inline, at an absolute path and under a random prefix', async () => {
    const table = await scratchDir();
    const a = await writeIds(scratch.duck, table, 'a.parquet', 0, 40);
    const b = await writeIds(scratch.duck, table, 'b.parquet', 40, 80);
    const inline = inlineDeletionVector([3, 4, 7, 11, 18, 29]);
    const [stored] = await writeDeletionVectors(table, [[0, 39]]);
    const absolute = { ...stored, storageType: 'p', pathOrInlineDv: pathToFileURL(deletionVectorLocation(table, stored)!).href };
    const c = await writeIds(scratch.duck, table, 'c.parquet', 80, 90);
    const [prefixed] = await writeDeletionVectors(table, [[9]], { prefix: 'x7' });
    expect(prefixed.pathOrInlineDv).toMatch(/^x7.{20}$/);
    expect(deletionVectorLocation(table, prefixed)).toMatch(/\/x7\/deletion_vector_[0-9a-f-]{36}\.bin$/);
    await commitVersion(table, 0, [
      commitInfo(NOW),
      ...createDvTable(),
      { add: { ...a, deletionVector: inline } },
      { add: { ...b, deletionVector: absolute } },
      { add: { ...c, deletionVector: prefixed } },
    ]);
    expect(await liveIds(table)).toEqual([...ids(0, 40, [3, 4, 7, 11, 18, 29]), ...ids(41, 79), ...ids(80, 89)]);
    expect((await describeTable(table)).rows).toBe(90 - 6 - 2 - 1);
  });

  it('refuses the inline example of PROTOCOL.md clearly: its bytes are an old big-endian layout that Spark does not read either', async () => {
    const example = { storageType: 'i', pathOrInlineDv: 'wi5b=000010000siXQKl0rr91000f55c8Xg0@@D72lkbi5=-{L', sizeInBytes: 40, cardinality: 6 };
    await expect(readDeletionVector('/t', example)).rejects.toThrow(
      'deletion vector inline in the log of /t: bad magic number 3503503716 (expected 1681511377, the portable RoaringBitmap format)',
    );
  });

  it('an empty snapshot reads as no rows with the table columns', async () => {
    const table = await scratchDir();
    const a = await writeIds(scratch.duck, table, 'a.parquet', 0, 3);
    await commitVersion(table, 0, [commitInfo(NOW), ...createDvTable(), { add: a }]);
    await commitDeletion(table, 1, await loadSnapshot(table), [{ file: a, rows: [0, 1, 2] }], NOW);
    const snapshot = await loadSnapshot(table);
    expect(snapshot.files.size).toBe(0);
    const { sql } = await liveRowsSelect(scratch.duck, table, snapshot, { withRowAddress: true });
    const described = await scratch.duck.rows(`DESCRIBE ${sql}`);
    expect(described.map((c) => `${c.column_name} ${c.column_type}`)).toEqual(['id BIGINT', 'label VARCHAR', `${ROW_FILE_COLUMN} VARCHAR`, `${ROW_INDEX_COLUMN} BIGINT`]);
    expect(await scratch.duck.rows(sql)).toEqual([]);
  });

  it('refuses a table with a column that would hide one of DuckDB\'s virtual columns', async () => {
    const table = await scratchDir();
    const columns = [{ name: 'file_row_number', type: 'BIGINT' }];
    await commitVersion(table, 0, [commitInfo(NOW), ...createTable(columns)]);
    await expect(liveRowsSelect(scratch.duck, table, await loadSnapshot(table))).rejects.toThrow(/has a column named file_row_number, which hides DuckDB's virtual column/);
  });

  it('keeps the deleted rows in a persistent table when asked, so a view saved in a database file can use them', async () => {
    const table = await scratchDir();
    const a = await writeIds(scratch.duck, table, 'a.parquet', 0, 10);
    await commitVersion(table, 0, [commitInfo(NOW), ...createDvTable(), { add: a }]);
    await commitDeletion(table, 1, await loadSnapshot(table), [{ file: a, rows: [4] }], NOW);
    const file = path.join(await scratchDir(), 'views.duckdb');
    const views = await Duck.open(file);
    try {
      await views.run('CREATE SCHEMA read_models');
      const rows = await liveRowsSelect(views, table, await loadSnapshot(table), { deletedRowsTable: { schema: 'read_models', name: 't_deleted', temporary: false } });
      expect(rows.deletedRowsTable).toBe('"read_models"."t_deleted"');
      await views.run(`CREATE VIEW read_models.t AS ${rows.sql}`);
    } finally {
      views.close();
    }
    const reopened = await Duck.open(file);
    try {
      expect(Number(await reopened.scalar('SELECT count(*) FROM read_models.t'))).toBe(9);
    } finally {
      reopened.close();
    }
  });
});

describe('deleting rows refuses bad requests before writing anything', () => {
  async function dvTable(): Promise<{ table: string; a: AddFile; snapshot: Snapshot }> {
    const table = await scratchDir();
    const a = await writeIds(scratch.duck, table, 'a.parquet', 0, 10);
    await commitVersion(table, 0, [commitInfo(NOW), ...createDvTable(), { add: a }]);
    return { table, a, snapshot: await loadSnapshot(table) };
  }

  it('on a table without the deletionVectors feature and property', async () => {
    const table = await scratchDir();
    const a = await writeIds(scratch.duck, table, 'a.parquet', 0, 10);
    await commitVersion(table, 0, [commitInfo(NOW), ...createTable(), { add: a }]);
    await expect(markRowsDeleted(table, await loadSnapshot(table), [{ file: a, rows: [1] }])).rejects.toThrow(
      /cannot write deletion vectors to Delta table .*: it needs the deletionVectors feature \(reader 3 \/ writer 7\) and delta.enableDeletionVectors=true/,
    );
    expect(await tableFiles(table)).toEqual(['a.parquet']);
  });

  it('for a stale file, a row outside the file, a file named twice, or stats without numRecords', async () => {
    const { table, a, snapshot } = await dvTable();
    await expect(markRowsDeleted(table, snapshot, [{ file: { ...a, path: 'other.parquet' }, rows: [1] }])).rejects.toThrow(/other.parquet .* is not live/);
    const [withDv] = await writeDeletionVectors(table, [[1]]);
    await expect(markRowsDeleted(table, snapshot, [{ file: { ...a, deletionVector: withDv }, rows: [2] }])).rejects.toThrow(/not live with that deletion vector at version 0/);
    await expect(markRowsDeleted(table, snapshot, [{ file: a, rows: [10] }])).rejects.toThrow(/cannot delete row 10 of a.parquet .*: the file has rows 0 to 9/);
    await expect(markRowsDeleted(table, snapshot, [{ file: a, rows: [1.5] }])).rejects.toThrow(/cannot delete row 1.5/);
    await expect(markRowsDeleted(table, snapshot, [{ file: a, rows: [1] }, { file: a, rows: [2] }])).rejects.toThrow(/deleted twice in one commit/);
    const noStats = { ...a, stats: undefined };
    const bare = { ...snapshot, files: new Map([[a.path, noStats]]) };
    await expect(markRowsDeleted(table, bare, [{ file: noStats, rows: [1] }])).rejects.toThrow(/its stats have no numRecords/);
    expect((await tableFiles(table)).filter((n) => n.startsWith('deletion_vector_'))).toHaveLength(1); // only the one written above
  });

  it('returns no actions when every row asked for is already deleted', async () => {
    const { table, a, snapshot } = await dvTable();
    await commitDeletion(table, 1, snapshot, [{ file: a, rows: [1, 2] }], NOW);
    const a1 = await live(table, 'a.parquet');
    expect(await markRowsDeleted(table, await loadSnapshot(table), [{ file: a1, rows: [2, 1] }])).toEqual([]);
  });
});

describe('reading a damaged deletion vector fails naming the DV file', () => {
  async function writtenDv(table: string) {
    const [dv] = await writeDeletionVectors(table, [[1, 2, 3]]);
    return { dv, file: deletionVectorLocation(table, dv)! };
  }

  it('a CRC mismatch', async () => {
    const table = await scratchDir();
    const { dv, file } = await writtenDv(table);
    const bytes = await readFile(file);
    bytes[dv.offset! + 4 + 6] ^= 0x01;
    await writeFile(file, bytes);
    await expect(readDeletionVector(table, dv)).rejects.toThrow(`deletion vector file ${file}: CRC-32 mismatch for the DV at offset 1`);
  });

  it('a bad magic number (with a CRC that matches it)', async () => {
    const table = await scratchDir();
    const { dv, file } = await writtenDv(table);
    const bytes = await readFile(file);
    const data = bytes.subarray(dv.offset! + 4, dv.offset! + 4 + dv.sizeInBytes);
    data.writeUInt32LE(1234, 0);
    const { crc32 } = await import('node:zlib');
    bytes.writeUInt32BE(crc32(data), dv.offset! + 4 + dv.sizeInBytes);
    await writeFile(file, bytes);
    await expect(readDeletionVector(table, dv)).rejects.toThrow(`deletion vector ${file}: bad magic number 1234`);
  });

  it('a missing file, and a cardinality that disagrees with the log', async () => {
    const table = await scratchDir();
    const { dv, file } = await writtenDv(table);
    await expect(readDeletionVector(table, { ...dv, cardinality: 4 })).rejects.toThrow(`deletion vector ${file} of Delta table ${table} deletes 3 rows, the log says 4`);
    await writeFile(file, '');
    await expect(readDeletionVector(table, dv)).rejects.toThrow(`deletion vector file ${file}: is empty`);
    await expect(readDeletionVector(table, { ...dv, pathOrInlineDv: 'vBn[lx{q8@P<9BNH/isA' })).rejects.toThrow(/deletion_vector_61d16c75-6994-46b7-a15b-8b538852e50e\.bin/);
  });
});

function byPath(x: AddFile, y: AddFile): number {
  return x.path.localeCompare(y.path);
}
