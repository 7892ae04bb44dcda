import { readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sqlString } from '../../lake/duckdb.js';
import type { Action } from '../../lake/delta/actions.js';
import {
  commitVersion,
  describeTable,
  listLog,
  loadSnapshot,
  readCommit,
  writeCheckpoint,
} from '../../lake/delta/deltaTable.js';
import { replay } from '../../lake/delta/snapshot.js';
import { commitInfo, createTable, removeOf, scratchDir, useScratchDuck, writeIds } from './scratchTable.js';

const scratch = useScratchDuck();

const T0 = Date.now() - 60_000;
const logFile = (table: string, name: string) => path.join(table, '_delta_log', name);

/** A table with five versions: appends, a txn per batch, a delete and a metadata change. */
async function tableWithHistory(): Promise<string> {
  const table = await scratchDir();
  const a = await writeIds(scratch.duck, table, 'part-a.parquet', 0, 10);
  const b = await writeIds(scratch.duck, table, 'date=2026-01-01/part b.parquet', 10, 25);
  const c = await writeIds(scratch.duck, table, 'part-c.parquet', 25, 30);
  const created = createTable();
  const renamed = { metaData: { ...(created[1] as { metaData: object }).metaData, description: 'orders' } } as Action;
  const commits: Action[][] = [
    [commitInfo(T0), ...created, { add: a }, { txn: { appId: 'orders-projection', version: 1, lastUpdated: T0 } }],
    [commitInfo(T0 + 1000), { add: b }, { txn: { appId: 'orders-projection', version: 2 } }],
    [commitInfo(T0 + 2000), removeOf(a, T0 + 2000), { add: c }],
    [commitInfo(T0 + 3000), renamed, { txn: { appId: 'status-projection', version: 9 } }],
    [commitInfo(T0 + 4000), { add: { ...c, dataChange: false } }],
  ];
  for (const [version, actions] of commits.entries()) await commitVersion(table, version, actions);
  return table;
}

describe('Parquet checkpoints', () => {
  it('a written checkpoint reloads to the same snapshot as replaying the JSON commits', async () => {
    const table = await tableWithHistory();
    const fromJson = await loadSnapshot(table);
    const written = await writeCheckpoint(table, fromJson);
    expect(written.path).toBe(logFile(table, '00000000000000000004.checkpoint.parquet'));

    // Drop the commits the checkpoint covers, so the reload can only come from the checkpoint.
    for (const version of [0, 1, 2, 3]) await unlink(logFile(table, `${String(version).padStart(20, '0')}.json`));
    const fromCheckpoint = await loadSnapshot(table);
    expect(fromCheckpoint).toEqual(fromJson);
    expect(fromCheckpoint.files.size).toBe(2);
    expect(fromCheckpoint.txns.get('orders-projection')?.version).toBe(2);
    expect(fromCheckpoint.tombstones.has('part-a.parquet')).toBe(true);
    expect(fromCheckpoint.metadata?.description).toBe('orders');
  });

  it('_last_checkpoint names the version and the number of actions', async () => {
    const table = await tableWithHistory();
    const written = await writeCheckpoint(table, await loadSnapshot(table));
    // protocol + metaData + 2 txns + 2 live files + 1 tombstone
    expect(written.size).toBe(7);
    expect(JSON.parse(await readFile(logFile(table, '_last_checkpoint'), 'utf8'))).toEqual({ version: 4, size: 7 });
  });

  it('has the layout of a Spark checkpoint: one struct column per action kind, one row per action', async () => {
    const table = await tableWithHistory();
    const { path: file } = await writeCheckpoint(table, await loadSnapshot(table));
    const described = await scratch.duck.rows(`DESCRIBE SELECT * FROM read_parquet(${sqlString(file)})`);
    const columns = Object.fromEntries(described.map((c) => [c.column_name, c.column_type]));
    expect(Object.keys(columns)).toEqual(['txn', 'add', 'remove', 'metaData', 'protocol']);
    // The same names and types Spark writes (see the golden checkpoints), minus features we never use.
    const deletionVector =
      'STRUCT(storageType VARCHAR, pathOrInlineDv VARCHAR, "offset" INTEGER, sizeInBytes INTEGER, cardinality BIGINT, maxRowIndex BIGINT)';
    expect(columns.add).toBe(
      'STRUCT(path VARCHAR, partitionValues MAP(VARCHAR, VARCHAR), size BIGINT, modificationTime BIGINT, ' +
        `dataChange BOOLEAN, tags MAP(VARCHAR, VARCHAR), deletionVector ${deletionVector}, stats VARCHAR)`,
    );
    expect(columns.remove).toBe(
      'STRUCT(path VARCHAR, deletionTimestamp BIGINT, dataChange BOOLEAN, extendedFileMetadata BOOLEAN, ' +
        `partitionValues MAP(VARCHAR, VARCHAR), size BIGINT, deletionVector ${deletionVector})`,
    );
    expect(columns.txn).toBe('STRUCT(appId VARCHAR, "version" BIGINT, lastUpdated BIGINT)');
    expect(columns.protocol).toBe(
      'STRUCT(minReaderVersion INTEGER, minWriterVersion INTEGER, readerFeatures VARCHAR[], writerFeatures VARCHAR[])',
    );
    const [counts] = await scratch.duck.rows(
      `SELECT count(protocol) AS protocol, count(metaData) AS metadata, count(txn) AS txn, count("add") AS adds,
              count(remove) AS removes, count(*) AS rows,
              max((txn IS NOT NULL)::INT + ("add" IS NOT NULL)::INT + (remove IS NOT NULL)::INT
                  + (metaData IS NOT NULL)::INT + (protocol IS NOT NULL)::INT) AS actions_per_row
       FROM read_parquet(${sqlString(file)})`,
    );
    expect(counts).toEqual({ protocol: '1', metadata: '1', txn: '2', adds: '2', removes: '1', rows: '7', actions_per_row: 1 });
  });

  it('commits after a checkpoint are replayed on top of it', async () => {
    const table = await tableWithHistory();
    await writeCheckpoint(table, await loadSnapshot(table, { version: 2 }));
    const d = await writeIds(scratch.duck, table, 'part-d.parquet', 30, 31);
    await commitVersion(table, 5, [commitInfo(T0 + 5000), { add: d }]);
    const commits = [];
    for (let version = 0; version <= 5; version++) commits.push({ version, actions: await readCommit(table, version) });
    expect(await loadSnapshot(table)).toEqual(replay(commits));
    expect((await describeTable(table)).rows).toBe(15 + 5 + 1);
  });

  it('an older checkpoint does not move _last_checkpoint back', async () => {
    const table = await tableWithHistory();
    await writeCheckpoint(table, await loadSnapshot(table, { version: 4 }));
    await writeCheckpoint(table, await loadSnapshot(table, { version: 1 }));
    expect(JSON.parse(await readFile(logFile(table, '_last_checkpoint'), 'utf8')).version).toBe(4);
    expect((await listLog(table)).checkpoints.map((c) => c.version)).toEqual([1, 4]);
    // Time travel to 3 starts from the checkpoint at 1, never from the newer one.
    expect((await loadSnapshot(table, { version: 3 })).metadata?.description).toBe('orders');
    expect((await loadSnapshot(table, { version: 2 })).metadata?.description).toBeUndefined();
  });

  it('refuses to checkpoint a table whose features it cannot represent, naming them', async () => {
    const table = await tableWithHistory();
    const snapshot = await loadSnapshot(table);
    const rowTracking = {
      ...snapshot,
      protocol: { minReaderVersion: 3, minWriterVersion: 7, readerFeatures: ['deletionVectors'], writerFeatures: ['deletionVectors', 'rowTracking'] },
    };
    await expect(writeCheckpoint(table, rowTracking)).rejects.toThrow(/uses protocol 3\/7 with features eventlake does not implement \(rowTracking\)/);
    const columnMapping = { ...snapshot, protocol: { minReaderVersion: 2, minWriterVersion: 5 } };
    await expect(writeCheckpoint(table, columnMapping)).rejects.toThrow(/uses protocol 2\/5 .*\(reader version 2\)/);
    expect((await listLog(table)).checkpoints).toEqual([]);
  });
});

describe('describing a table', () => {
  it('gives version, decoded relative file paths, rows and Spark schema', async () => {
    const table = await tableWithHistory();
    expect(await describeTable(table)).toEqual({
      version: 4,
      files: ['date=2026-01-01/part b.parquet', 'part-c.parquet'],
      rows: 20,
      schema: [
        { name: 'id', type: 'long' },
        { name: 'label', type: 'string' },
      ],
    });
    expect((await describeTable(table, { version: 0 })).rows).toBe(10);
  });

  it('counts rows with DuckDB for files committed without stats', async () => {
    const table = await scratchDir();
    const { stats: _ignored, ...noStats } = await writeIds(scratch.duck, table, 'part-0.parquet', 0, 12);
    await commitVersion(table, 0, [commitInfo(T0), ...createTable(), { add: noStats }]);
    expect((await describeTable(table)).rows).toBe(12);
  });
});
