import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  commitVersion,
  ConcurrentCommitError,
  listLog,
  loadSnapshot,
  nextVersion,
  readCommit,
} from '../../lake/delta/deltaTable.js';
import type { Action } from '../../lake/delta/actions.js';
import { commitInfo, createTable, removeScratchDirs, scratchDir } from './scratchTable.js';

afterAll(removeScratchDirs);

describe('committing versions of a Delta table', () => {
  it('a folder without _delta_log is an empty table, not an error', async () => {
    const dir = await scratchDir();
    expect(await listLog(path.join(dir, 'not-yet'))).toEqual({ commits: [], checkpoints: [] });
    expect((await loadSnapshot(path.join(dir, 'not-yet'))).version).toBe(-1);
    expect(await nextVersion(path.join(dir, 'not-yet'))).toBe(0);
    await expect(loadSnapshot(path.join(dir, 'not-yet'), { version: 0 })).rejects.toThrow(/not-yet has no versions yet/);
  });

  it('the first commit creates the table folder and _delta_log, and reads back line for line', async () => {
    const table = path.join(await scratchDir(), 'orders');
    const actions = [commitInfo(1000), ...createTable()];
    await commitVersion(table, 0, actions);
    expect(await readdir(path.join(table, '_delta_log'))).toEqual(['00000000000000000000.json']);
    expect(await readCommit(table, 0)).toEqual(actions);
    const text = await readFile(path.join(table, '_delta_log', '00000000000000000000.json'), 'utf8');
    expect(text.trim().split('\n')).toHaveLength(3);
    expect(await nextVersion(table)).toBe(1);
  });

  it('two writers racing for one version: exactly one wins, the other gets ConcurrentCommitError', async () => {
    const table = await scratchDir();
    const writers: Action[][] = Array.from({ length: 8 }, (_, writer) => [
      { commitInfo: { timestamp: 1000, writer } },
      ...createTable(),
    ]);
    const outcomes = await Promise.allSettled(writers.map((actions) => commitVersion(table, 0, actions)));
    const winners = outcomes.flatMap((o, writer) => (o.status === 'fulfilled' ? [writer] : []));
    const losers = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
    expect(winners).toHaveLength(1);
    expect(losers).toHaveLength(7);
    for (const loser of losers) {
      expect(loser).toBeInstanceOf(ConcurrentCommitError);
      expect(loser).toMatchObject({ tableDir: table, version: 0 });
      expect(String(loser)).toContain(`version 0 of Delta table ${table} was already committed`);
    }
    // The file is the winner's, whole, and no temp file of a loser is left behind.
    expect(await readCommit(table, 0)).toEqual(writers[winners[0]]);
    expect(await readdir(path.join(table, '_delta_log'))).toEqual(['00000000000000000000.json']);
  });

  it('a loser retries at the next version and both commits are in the snapshot', async () => {
    const table = await scratchDir();
    await commitVersion(table, 0, [commitInfo(1000), ...createTable()]);
    const txn = (appId: string): Action => ({ txn: { appId, version: 1 } });
    const [first, second] = await Promise.allSettled([
      commitVersion(table, 1, [txn('a')]),
      commitVersion(table, 1, [txn('b')]),
    ]);
    expect([first.status, second.status].sort()).toEqual(['fulfilled', 'rejected']);
    const loserApp = first.status === 'rejected' ? 'a' : 'b';
    await commitVersion(table, await nextVersion(table), [txn(loserApp)]);
    const snapshot = await loadSnapshot(table);
    expect(snapshot.version).toBe(2);
    expect([...snapshot.txns.keys()].sort()).toEqual(['a', 'b']);
  });

  it('refuses nonsense versions and empty commits', async () => {
    const table = await scratchDir();
    await expect(commitVersion(table, -1, createTable())).rejects.toThrow(/versions are integers from 0/);
    await expect(commitVersion(table, 0, [])).rejects.toThrow(/no actions/);
  });
});
