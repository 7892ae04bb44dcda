import { unlink, utimes } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Action } from '../../lake/delta/actions.js';
import { commitVersion, loadSnapshot, writeCheckpoint } from '../../lake/delta/deltaTable.js';
import { commitInfo, createTable, scratchDir, useScratchDuck, writeIds } from './scratchTable.js';

const scratch = useScratchDuck();

const T = Date.UTC(2026, 0, 1, 12);
const commitFile = (table: string, version: number) =>
  path.join(table, '_delta_log', `${String(version).padStart(20, '0')}.json`);

/** Three appends of ten ids each, committed at T, T+1min and T+2min (or undated when asked). */
async function threeAppends(dated: boolean): Promise<string> {
  const table = await scratchDir();
  for (let version = 0; version < 3; version++) {
    const add = await writeIds(scratch.duck, table, `part-${version}.parquet`, version * 10, version * 10 + 10);
    const actions: Action[] = [...(version === 0 ? createTable() : []), { add }];
    await commitVersion(table, version, dated ? [commitInfo(T + version * 60_000), ...actions] : actions);
  }
  return table;
}

const fileNames = async (table: string, at: { version?: number; timestamp?: number }) =>
  [...(await loadSnapshot(table, at)).files.keys()].sort();

describe('time travel', () => {
  it('by version gives the files of that version', async () => {
    const table = await threeAppends(true);
    expect(await fileNames(table, { version: 0 })).toEqual(['part-0.parquet']);
    expect(await fileNames(table, { version: 1 })).toEqual(['part-0.parquet', 'part-1.parquet']);
    expect(await fileNames(table, {})).toEqual(['part-0.parquet', 'part-1.parquet', 'part-2.parquet']);
  });

  it('by timestamp gives the latest version committed at or before it (commitInfo.timestamp)', async () => {
    const table = await threeAppends(true);
    const versionAt = async (timestamp: number) => (await loadSnapshot(table, { timestamp })).version;
    expect(await versionAt(T)).toBe(0);
    expect(await versionAt(T + 59_999)).toBe(0);
    expect(await versionAt(T + 60_000)).toBe(1);
    expect(await versionAt(T + 10 * 60_000)).toBe(2);
    expect((await loadSnapshot(table, { timestamp: T + 90_000 })).commitTimestamp).toBe(T + 60_000);
  });

  it('by timestamp before the first version fails, naming the table and the first commit time', async () => {
    const table = await threeAppends(true);
    await expect(loadSnapshot(table, { timestamp: T - 1 })).rejects.toThrow(
      `Delta table ${table} has no version at 2026-01-01T11:59:59.999Z: its earliest readable version 0 ` +
        'was committed at 2026-01-01T12:00:00.000Z',
    );
  });

  it('falls back to the commit file mtime when a commit has no commitInfo', async () => {
    const table = await threeAppends(false);
    for (let version = 0; version < 3; version++) {
      const at = new Date(T + version * 60_000);
      await utimes(commitFile(table, version), at, at);
    }
    expect((await loadSnapshot(table, { timestamp: T + 61_000 })).version).toBe(1);
    expect((await loadSnapshot(table, { version: 2 })).commitTimestamp).toBe(T + 120_000);
  });

  it('names the table and version for a version that does not exist', async () => {
    const table = await threeAppends(true);
    await expect(loadSnapshot(table, { version: 3 })).rejects.toThrow(
      `version 3 of Delta table ${table} does not exist (versions go from 0 to 2)`,
    );
  });

  it('names the table and version for a version cleaned up from the log', async () => {
    const table = await threeAppends(true);
    await writeCheckpoint(table, await loadSnapshot(table, { version: 1 }));
    await unlink(commitFile(table, 0));
    await expect(loadSnapshot(table, { version: 0 })).rejects.toThrow(
      `version 0 of Delta table ${table} was cleaned up from the log; the earliest readable version is 1`,
    );
    expect(await fileNames(table, { version: 1 })).toEqual(['part-0.parquet', 'part-1.parquet']);
    await expect(loadSnapshot(table, { timestamp: T })).rejects.toThrow(/earliest readable version 1/);
  });

  it('refuses a version and a timestamp together', async () => {
    const table = await threeAppends(true);
    await expect(loadSnapshot(table, { version: 1, timestamp: T })).rejects.toThrow(/not both/);
  });
});
