import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { Duck, sqlString } from '../../lake/duckdb.js';
import { sparkSchemaString, type Action, type AddFile, type DuckColumn, type RemoveFile } from '../../lake/delta/actions.js';
import { encodeDataPath } from '../../lake/delta/snapshot.js';

/** Building small Delta tables in temporary folders for the integration tests. */

const created: string[] = [];

/** A fresh empty folder; removed by `removeScratchDirs`. */
export async function scratchDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'eventlake-delta-'));
  created.push(dir);
  return dir;
}

export async function removeScratchDirs(): Promise<void> {
  await Promise.all(created.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
}

/** A DuckDB instance for a test file's tables, opened before its tests; closed, and the scratch folders removed, after them. */
export function useScratchDuck(): { readonly duck: Duck } {
  let duck: Duck | null = null;
  beforeAll(async () => {
    duck = await Duck.open();
  });
  afterAll(async () => {
    duck?.close();
    await removeScratchDirs();
  });
  return {
    get duck(): Duck {
      if (!duck) throw new Error('the scratch DuckDB is open only while the tests run');
      return duck;
    },
  };
}

export const ID_COLUMNS: DuckColumn[] = [
  { name: 'id', type: 'BIGINT' },
  { name: 'label', type: 'VARCHAR' },
];

/** The protocol and metaData actions of a new table (reader 1 / writer 2, like eventlake writes). */
export function createTable(columns: DuckColumn[] = ID_COLUMNS, createdTime = Date.now()): Action[] {
  return [
    { protocol: { minReaderVersion: 1, minWriterVersion: 2 } },
    {
      metaData: {
        id: randomUUID(),
        format: { provider: 'parquet', options: {} },
        schemaString: sparkSchemaString(columns),
        partitionColumns: [],
        configuration: {},
        createdTime,
      },
    },
  ];
}

/** Writes ids [from, to) as a Parquet data file at `relativePath` and returns its add action. */
export async function writeIds(duck: Duck, tableDir: string, relativePath: string, from: number, to: number): Promise<AddFile> {
  const file = path.join(tableDir, relativePath);
  await mkdir(path.dirname(file), { recursive: true });
  await duck.run(
    `COPY (SELECT range AS id, 'row-' || range AS label FROM range(${from}, ${to})) TO ${sqlString(file)} (FORMAT parquet)`,
  );
  const info = await stat(file);
  return {
    path: encodeDataPath(relativePath),
    partitionValues: {},
    size: info.size,
    modificationTime: Math.floor(info.mtimeMs),
    dataChange: true,
    stats: JSON.stringify({ numRecords: to - from }),
  };
}

export function removeOf(add: AddFile, deletionTimestamp: number): { remove: RemoveFile } {
  return { remove: { path: add.path, deletionTimestamp, dataChange: true, extendedFileMetadata: true, partitionValues: {}, size: add.size } };
}

export function commitInfo(timestamp: number, operation = 'WRITE'): Action {
  return { commitInfo: { timestamp, operation } };
}
