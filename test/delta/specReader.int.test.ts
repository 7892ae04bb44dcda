import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findDataChangeViolations } from '../support/deltaReader/dataChangeCheck.js';
import { deletionVectorFile as dvFileOf, loadDeletionVector } from '../support/deltaReader/deletionVector.js';
import { DeltaTableReader } from '../support/deltaReader/deltaTableReader.js';
import { decodeDeletionVectorBitmap } from '../support/deltaReader/roaringBitmap.js';
import { add, commit, deletionVectorBitmap, deletionVectorFile, encodeZ85, metaData, protocol, remove, roaring32, ScratchTables } from './specReaderTables.js';

/**
 * The test-only Delta reader on tables made by hand from PROTOCOL.md: deletion vectors in every
 * storage type and container kind, typed values, stats, multi-part checkpoints, time travel, the
 * refusals, and the dataChange=false check. The golden tables (written by Spark) are in
 * specReader.golden.int.test.ts.
 */
let scratch: ScratchTables;
beforeAll(async () => {
  scratch = await ScratchTables.open();
});
afterAll(() => scratch?.close());

const UUID = 'd2c639aa-8816-431a-aaf6-d3fe2512ff61';
const uuidZ85 = encodeZ85(Buffer.from(UUID.replace(/-/g, ''), 'hex'));
const ids = (rows: Record<string, unknown>[]) => rows.map((r) => r.id);

/** A table with one data file of ids 0..count-1 (and a few typed columns), committed at version 0. */
async function tableWithIds(count: number, features?: string[]): Promise<string> {
  const table = scratch.table();
  await scratch.parquet(path.join(table, 'a.parquet'), `SELECT range AS id FROM range(${count})`);
  commit(table, 0, [protocol(features ? 3 : 1, features ? 7 : 2, features), metaData([['id', 'long']]), add('a.parquet', { stats: JSON.stringify({ numRecords: count }) })]);
  return table;
}

describe('deletion vectors as PROTOCOL.md specifies them', () => {
  it('decodes an inline vector (Z85 in the log) to its rows', async () => {
    const bitmap = deletionVectorBitmap([{ key: 0, bitmap: roaring32([{ key: 0, kind: 'array', values: [3, 4, 7, 11, 18, 29] }]) }]);
    const dv = { storageType: 'i' as const, pathOrInlineDv: encodeZ85(bitmap), sizeInBytes: bitmap.length, cardinality: 6 };
    expect(await loadDeletionVector('/nowhere', dv)).toEqual([3, 4, 7, 11, 18, 29]);
  });

  it('refuses, by name, the native RoaringBitmapArray layout of PROTOCOL.md example 3 (only the portable one is specified)', async () => {
    // Example 3's bytes start with magic 1681511376 (big-endian), the layout Delta used before the
    // portable one; the spec's "Deletion Vector Format" describes only 1681511377.
    const dv = { storageType: 'i' as const, pathOrInlineDv: 'wi5b=000010000siXQKl0rr91000f55c8Xg0@@D72lkbi5=-{L', sizeInBytes: 40, cardinality: 6 };
    await expect(loadDeletionVector('/nowhere', dv)).rejects.toThrow(/native RoaringBitmapArray format \(magic 1681511376\) is not implemented/);
  });

  it('derives the file of PROTOCOL.md example 1 (random prefix, Z85 UUID) and of an absolute p path', () => {
    const dv = { storageType: 'u' as const, pathOrInlineDv: 'ab^-aqEH.-t@S}K{vb[*k^', offset: 4, sizeInBytes: 40, cardinality: 6 };
    expect(dvFileOf('/mytable', dv)).toBe(`/mytable/ab/deletion_vector_${UUID}.bin`);
    expect(dvFileOf('/mytable', { ...dv, storageType: 'p', pathOrInlineDv: `file:///elsewhere/deletion_vector_${UUID}.bin` })).toBe(`/elsewhere/deletion_vector_${UUID}.bin`);
  });

  it('reads array, bitset and run containers, with and without the offset header, in several 64-bit buckets', () => {
    const evens = Array.from({ length: 5000 }, (_, i) => 2 * i); // over 4096 values: a bitset container
    const low = roaring32([
      { key: 0, kind: 'array', values: [1, 5, 65535] },
      { key: 1, kind: 'bitset', values: evens },
      { key: 2, kind: 'run', runs: [[10, 4], [100, 0]] },
    ]);
    const runs = roaring32([0, 1, 2, 3].map((key) => ({ key, kind: 'run' as const, runs: [[7, 2]] as [number, number][] })));
    const rows = decodeDeletionVectorBitmap(deletionVectorBitmap([{ key: 0, bitmap: low }, { key: 1, bitmap: runs }]));
    const expected = [
      1, 5, 65535,
      ...evens.map((v) => 65536 + v),
      ...[10, 11, 12, 13, 14, 100].map((v) => 2 * 65536 + v),
      ...[0, 1, 2, 3].flatMap((key) => [7, 8, 9].map((v) => 2 ** 32 + key * 65536 + v)),
    ];
    expect(rows).toEqual(expected);
  });

  it('refuses a bitmap without the magic number, or with an offset header that disagrees with the containers', () => {
    const bitmap = deletionVectorBitmap([{ key: 0, bitmap: roaring32([{ key: 0, kind: 'array', values: [1] }]) }]);
    const noMagic = Buffer.from(bitmap);
    noMagic.writeUInt32LE(1681511378, 0);
    expect(() => decodeDeletionVectorBitmap(noMagic)).toThrow(/magic number 1681511378, expected 1681511377/);
    const badOffset = Buffer.from(bitmap);
    badOffset.writeUInt32LE(99, 12 + 4 + 12); // bucket key, cookie + count + one header, then the offset
    expect(() => decodeDeletionVectorBitmap(badOffset)).toThrow(/offset header says 99/);
  });

  it('applies a vector stored at its offset in a u file, and refuses a wrong CRC-32 or cardinality', async () => {
    const table = await tableWithIds(10, ['deletionVectors']);
    const first = deletionVectorBitmap([{ key: 0, bitmap: roaring32([{ key: 0, kind: 'array', values: [0] }]) }]);
    const second = deletionVectorBitmap([{ key: 0, bitmap: roaring32([{ key: 0, kind: 'run', runs: [[2, 3]] }]) }]);
    const file = deletionVectorFile([first, second]);
    writeFileSync(path.join(table, `deletion_vector_${UUID}.bin`), file.bytes);
    const dv = { storageType: 'u', pathOrInlineDv: uuidZ85, offset: file.offsets[1], sizeInBytes: second.length, cardinality: 4 };
    commit(table, 1, [remove('a.parquet'), add('a.parquet', { deletionVector: dv, stats: JSON.stringify({ numRecords: 10, tightBounds: false }) })]);
    expect(ids(await new DeltaTableReader(table).rows())).toEqual([0, 1, 6, 7, 8, 9]);

    const firstDv = { ...dv, offset: file.offsets[0], sizeInBytes: first.length, cardinality: 2 };
    commit(table, 2, [remove('a.parquet', { deletionVector: dv }), add('a.parquet', { deletionVector: firstDv })]);
    await expect(new DeltaTableReader(table).rows(2)).rejects.toThrow(/holds 1 row\(s\), its descriptor says cardinality 2/);
    file.bytes[file.offsets[1] + 4 + second.length] ^= 0xff; // the first byte of the second checksum
    writeFileSync(path.join(table, `deletion_vector_${UUID}.bin`), file.bytes);
    await expect(new DeltaTableReader(table).rows(1)).rejects.toThrow(/CRC-32/);
  });

  it('keeps the newest deletion vector of a data file, and refuses a file live under two', async () => {
    const table = await tableWithIds(5, ['deletionVectors']);
    const inline = (values: number[]) => {
      const bitmap = deletionVectorBitmap([{ key: 0, bitmap: roaring32([{ key: 0, kind: 'array', values }]) }]);
      return { storageType: 'i', pathOrInlineDv: encodeZ85(bitmap), sizeInBytes: bitmap.length, cardinality: values.length };
    };
    commit(table, 1, [remove('a.parquet'), add('a.parquet', { deletionVector: inline([0]) })]);
    commit(table, 2, [remove('a.parquet', { deletionVector: inline([0]) }), add('a.parquet', { deletionVector: inline([0, 4]) })]);
    const reader = new DeltaTableReader(table);
    expect(ids(await reader.rows(1))).toEqual([1, 2, 3, 4]);
    expect(ids(await reader.rows(2))).toEqual([1, 2, 3]);
    commit(table, 3, [add('a.parquet', { deletionVector: inline([1]) })]);
    reader.refresh();
    await expect(reader.rows(3)).rejects.toThrow(/a\.parquet is live under two deletion vectors/);
  });
});

describe('rows typed from the Spark schema', () => {
  it('gives longs and doubles as numbers, timestamps as ISO UTC (microseconds kept), dates, partition values, and null for a column the file lacks', async () => {
    const table = scratch.table();
    await scratch.parquet(
      path.join(table, 'b.parquet'),
      `SELECT 7::BIGINT AS id, 1.5::DOUBLE AS amount, TIMESTAMPTZ '2026-01-02 03:04:05.123456+00' AS at, DATE '2026-02-03' AS day, 'x' AS name
       UNION ALL SELECT 8, NULL, TIMESTAMPTZ '2026-01-02 03:04:05+00', NULL, NULL`,
    );
    const fields: [string, string][] = [['id', 'long'], ['amount', 'double'], ['at', 'timestamp'], ['day', 'date'], ['name', 'string'], ['missing', 'integer'], ['region', 'string']];
    const stats = { numRecords: 2, minValues: { id: 7, at: '2026-01-02T03:04:05.000Z' }, maxValues: { id: 8, at: '2026-01-02T03:04:05.123Z' }, nullCount: { id: 0, amount: 1 } };
    commit(table, 0, [protocol(), metaData(fields, ['region']), add('b.parquet', { partitionValues: { region: 'north' }, stats: JSON.stringify(stats) })]);
    expect(await new DeltaTableReader(table).rows()).toEqual([
      { id: 7, amount: 1.5, at: '2026-01-02T03:04:05.123456Z', day: '2026-02-03', name: 'x', missing: null, region: 'north' },
      { id: 8, amount: null, at: '2026-01-02T03:04:05.000Z', day: null, name: null, missing: null, region: 'north' },
    ]);
  });

  it('reports stats that lie: numRecords, a max below a value, a wrong nullCount', async () => {
    const lying = [
      [{ numRecords: 4 }, /numRecords 4, the file has 3 row/],
      [{ numRecords: 3, maxValues: { id: 1 } }, /maxValues\.id = 1, but a valid row holds 2/],
      [{ numRecords: 3, nullCount: { id: 1 } }, /nullCount 1 for id, the file has 0/],
    ] as const;
    for (const [stats, message] of lying) {
      const table = await tableWithIds(3);
      commit(table, 1, [add('a.parquet', { stats: JSON.stringify(stats) })]); // a re-add replaces the file's stats
      await expect(new DeltaTableReader(table).rows(), JSON.stringify(stats)).rejects.toThrow(message);
    }
  });
});

describe('what the reader refuses rather than read half-right', () => {
  const cases: [string, object[], RegExp][] = [
    ['reader version 4', [protocol(4, 7, [])], /reader version 4 is not implemented/],
    ['a reader feature it lacks', [protocol(3, 7, ['deletionVectors', 'v2Checkpoint'])], /reader feature\(s\) v2Checkpoint not implemented/],
    ['column mapping', [protocol(2, 5), metaData([['id', 'long']], [], { 'delta.columnMapping.mode': 'name' })], /column mapping \(mode name\)/],
    ['a deletion vector without the feature', [remove('a.parquet'), add('a.parquet', { deletionVector: { storageType: 'i', pathOrInlineDv: '00000', sizeInBytes: 4, cardinality: 0 } })], /does not list the deletionVectors feature/],
    ['two metaData actions in one commit', [metaData([['id', 'long']]), metaData([['id', 'long']])], /more than one metaData action/],
    ['an add and a remove of the same logical file in one commit', [remove('a.parquet'), add('a.parquet')], /both adds and removes the logical file a\.parquet/],
  ];
  for (const [what, actions, message] of cases) {
    it(`refuses ${what}`, async () => {
      const table = await tableWithIds(2);
      commit(table, 1, actions);
      await expect(new DeltaTableReader(table).rows()).rejects.toThrow(message);
    });
  }

  it('refuses a timestamp column stored as local time (not UTC-adjusted)', async () => {
    const table = scratch.table();
    await scratch.parquet(path.join(table, 'a.parquet'), `SELECT TIMESTAMP '2026-01-01 00:00:00' AS at`);
    commit(table, 0, [protocol(), metaData([['at', 'timestamp']]), add('a.parquet')]);
    await expect(new DeltaTableReader(table).rows()).rejects.toThrow(/timestamp column at is not stored as a UTC-adjusted Parquet timestamp/);
  });

  it('refuses a data file path that leaves the table folder', async () => {
    const table = scratch.table();
    commit(table, 0, [protocol(), metaData([['id', 'long']]), add('../elsewhere/a.parquet')]);
    await expect(new DeltaTableReader(table).rows()).rejects.toThrow(/leaves the table folder/);
  });
});

describe('checkpoints and time travel', () => {
  /** Versions 0..3, each adding f<v> and removing f<v-1> (fake paths: only the file list is read). */
  async function tableWithCheckpoint(): Promise<string> {
    const table = scratch.table();
    const schema = metaData([['id', 'long']]);
    commit(table, 0, [protocol(), schema, add('f0')]);
    for (let v = 1; v <= 3; v++) commit(table, v, [remove(`f${v - 1}`, { deletionTimestamp: v }), add(`f${v}`), { txn: { appId: 'app', version: v * 10 } }]);
    const state = [protocol(), schema, { txn: { appId: 'app', version: 20, lastUpdated: null } }, remove('f0', { deletionTimestamp: 1 }), remove('f1', { deletionTimestamp: 2 }), add('f2')];
    const log = path.join(table, '_delta_log');
    await scratch.checkpoint(path.join(log, '00000000000000000002.checkpoint.0000000001.0000000002.parquet'), state.slice(0, 3));
    await scratch.checkpoint(path.join(log, '00000000000000000002.checkpoint.0000000002.0000000002.parquet'), state.slice(3));
    return table;
  }

  it('replays a two-part checkpoint plus the commits after it, also once the commits before it are gone', async () => {
    const table = await tableWithCheckpoint();
    for (const v of [0, 1, 2]) rmSync(path.join(table, '_delta_log', `${String(v).padStart(20, '0')}.json`));
    const reader = new DeltaTableReader(table);
    expect(await reader.versions()).toEqual([2, 3]);
    expect((await reader.snapshot(2)).files.map((f) => f.path)).toEqual(['f2']);
    const latest = await reader.snapshot();
    expect(latest.files.map((f) => f.path)).toEqual(['f3']);
    expect(latest.txns).toEqual(new Map([['app', 30]]));
    expect(latest.tombstones.map((t) => t.path).sort()).toEqual(['f0', 'f1', 'f2']);
    await expect(reader.snapshot(1)).rejects.toThrow(/commit 0 is missing and no checkpoint covers it/);
  });

  it('ignores a multi-part checkpoint with a missing part, and a _last_checkpoint naming one', async () => {
    const table = await tableWithCheckpoint();
    const log = path.join(table, '_delta_log');
    await scratch.checkpoint(path.join(log, '00000000000000000003.checkpoint.0000000001.0000000002.parquet'), [protocol(), metaData([['id', 'long']])]);
    writeFileSync(path.join(log, '_last_checkpoint'), JSON.stringify({ version: 3, size: 2, parts: 2 }));
    const reader = new DeltaTableReader(table);
    // The half-written checkpoint at 3 lists no file; read from it, the table would look empty.
    expect((await reader.snapshot()).files.map((f) => f.path)).toEqual(['f3']);
    rmSync(path.join(log, '00000000000000000002.checkpoint.0000000002.0000000002.parquet'));
    reader.refresh();
    expect((await reader.snapshot()).files.map((f) => f.path)).toEqual(['f3']); // from the JSON commits alone
  });

  it('accepts a checkpoint holding two tombstones of one data file, one per deletion vector it had', async () => {
    const table = await tableWithIds(4, ['deletionVectors']);
    const bitmap = deletionVectorBitmap([{ key: 0, bitmap: roaring32([{ key: 0, kind: 'array', values: [1] }]) }]);
    const dv = { storageType: 'i', pathOrInlineDv: encodeZ85(bitmap), sizeInBytes: bitmap.length, cardinality: 1 };
    await scratch.parquet(path.join(table, 'b.parquet'), 'SELECT 9::BIGINT AS id');
    commit(table, 1, [remove('a.parquet'), add('a.parquet', { deletionVector: dv })]);
    commit(table, 2, [remove('a.parquet', { deletionVector: dv }), add('b.parquet')]);
    const features = protocol(3, 7, ['deletionVectors']);
    await scratch.checkpoint(path.join(table, '_delta_log', '00000000000000000002.checkpoint.parquet'), [
      features, metaData([['id', 'long']]), remove('a.parquet', { deletionTimestamp: 1 }), remove('a.parquet', { deletionTimestamp: 2, deletionVector: dv }), add('b.parquet'),
    ]);
    const snapshot = await new DeltaTableReader(table).snapshot();
    expect(snapshot.tombstones).toHaveLength(2);
    expect(ids(await new DeltaTableReader(table).rows())).toEqual([9]);
  });
});

describe('the dataChange=false check', () => {
  it('passes a rewrite that keeps every row and reports one that drops rows, with the numbers', async () => {
    const table = await tableWithIds(4);
    await scratch.parquet(path.join(table, 'b.parquet'), 'SELECT range AS id FROM range(4, 6)');
    await scratch.parquet(path.join(table, 'ab.parquet'), 'SELECT range AS id FROM range(6)');
    await scratch.parquet(path.join(table, 'ab-dropped.parquet'), 'SELECT range AS id FROM range(1, 6)');
    commit(table, 1, [add('b.parquet')]);
    commit(table, 2, [remove('a.parquet', { dataChange: false }), remove('b.parquet', { dataChange: false }), add('ab.parquet', { dataChange: false })]);
    commit(table, 3, [remove('ab.parquet', { dataChange: false }), add('ab-dropped.parquet', { dataChange: false })]);
    const report = await findDataChangeViolations(new DeltaTableReader(table));
    expect(report.checkedVersions).toEqual([2, 3]);
    expect(report.violations).toEqual([
      { version: 3, removedRows: 6, addedRows: 5, droppedRows: 1, newRows: 0, tableRowsBefore: 6, tableRowsAfter: 5, droppedSample: ['[["id",0]]'] },
    ]);
  });
});
