import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { commitVersion, describeTable, vacuum } from '../../lake/delta/deltaTable.js';
import { commitInfo, createTable, removeOf, scratchDir, useScratchDuck, writeIds } from './scratchTable.js';

const scratch = useScratchDuck();

const HOUR = 60 * 60 * 1000;
const NOW = Date.now();
const RETENTION = 24 * HOUR;
const OLD = new Date(NOW - 3 * RETENTION);

async function age(file: string, when = OLD): Promise<void> {
  await utimes(file, when, when);
}

async function listAll(dir: string, prefix = ''): Promise<string[]> {
  const names: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const relative = prefix + entry.name;
    if (entry.isDirectory()) names.push(...(await listAll(path.join(dir, entry.name), `${relative}/`)));
    else names.push(relative);
  }
  return names.sort();
}

describe('vacuum', () => {
  it('removes only data files that are unreferenced and older than the retention', async () => {
    const table = await scratchDir();
    const live = await writeIds(scratch.duck, table, 'live.parquet', 0, 5);
    const removedLongAgo = await writeIds(scratch.duck, table, 'removed-long-ago.parquet', 5, 10);
    const removedJustNow = await writeIds(scratch.duck, table, 'removed-just-now.parquet', 10, 15);
    const adds = [live, removedLongAgo, removedJustNow].map((add) => ({ add }));
    await commitVersion(table, 0, [commitInfo(NOW - 4 * RETENTION), ...createTable(), ...adds]);
    await commitVersion(table, 1, [commitInfo(NOW - 2 * RETENTION), removeOf(removedLongAgo, NOW - 2 * RETENTION)]);
    await commitVersion(table, 2, [commitInfo(NOW - HOUR), removeOf(removedJustNow, NOW - HOUR)]);

    await mkdir(path.join(table, 'date=2026-01-01'));
    await writeFile(path.join(table, 'date=2026-01-01', 'orphan-old.parquet'), 'x');
    await writeFile(path.join(table, '.removed-long-ago.parquet.crc'), 'crc');
    await writeFile(path.join(table, 'orphan-new.parquet'), 'x'); // e.g. a writer's file not committed yet
    await mkdir(path.join(table, '_change_data'));
    await writeFile(path.join(table, '_change_data', 'cdc.parquet'), 'x');
    const oldFiles = ['live.parquet', 'removed-long-ago.parquet', 'removed-just-now.parquet', 'date=2026-01-01/orphan-old.parquet'];
    for (const file of oldFiles) await age(path.join(table, file));

    const deleted = await vacuum(table, { retentionMs: RETENTION, now: NOW });

    expect(deleted).toEqual(['.removed-long-ago.parquet.crc', 'date=2026-01-01/orphan-old.parquet', 'removed-long-ago.parquet']);
    expect(await listAll(table)).toEqual([
      '_change_data/cdc.parquet',
      '_delta_log/00000000000000000000.json',
      '_delta_log/00000000000000000001.json',
      '_delta_log/00000000000000000002.json',
      'live.parquet',
      'orphan-new.parquet',
      'removed-just-now.parquet',
    ]);
    expect((await describeTable(table)).rows).toBe(5);
    expect((await describeTable(table, { version: 1 })).rows).toBe(10);
  });

  it('deletes nothing more on a second run', async () => {
    const table = await scratchDir();
    const live = await writeIds(scratch.duck, table, 'live.parquet', 0, 5);
    await commitVersion(table, 0, [commitInfo(NOW), ...createTable(), { add: live }]);
    await age(path.join(table, 'live.parquet'));
    expect(await vacuum(table, { retentionMs: 0, now: NOW })).toEqual([]);
  });

  it('refuses a folder that is not a Delta table, rather than treating every file as unreferenced', async () => {
    const folder = await scratchDir();
    await writeFile(path.join(folder, 'precious.parquet'), 'x');
    await expect(vacuum(folder, { retentionMs: 0 })).rejects.toThrow(/not a Delta table/);
    await expect(vacuum(folder, { retentionMs: -1 })).rejects.toThrow(/non-negative/);
  });
});
