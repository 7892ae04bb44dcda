import { removalOf, type Action, type AddFile } from '../lake/delta/actions.js';
import { sameDeletionVector } from '../lake/delta/logicalFile.js';
import type { Snapshot } from '../lake/delta/snapshot.js';
import { commitVersion, loadSnapshot as loadTableSnapshot, readCommit, vacuumedFiles } from '../lake/delta/deltaTable.js';
import type { LakeLayout } from '../lake/layout.js';
import { acquireLock } from '../lake/lock.js';
import type { Job } from './jobSource.js';

export interface RollbackResult {
  job: string;
  /** The table version restored (the one before the last rebuild). */
  restored: number;
  /** The new version that restores it. */
  tableVersion: number;
}

/**
 * Undoes the last rebuild: a new commit that brings back the files, schema and checkpoints of
 * the version before it (Delta's RESTORE). The next run then continues from those checkpoints;
 * if the restored table was built by another projection version than the code, it rebuilds.
 */
export async function rollbackJob(layout: LakeLayout, job: Job): Promise<RollbackResult> {
  const lock = await acquireLock(layout.lockFile(`job-${job.name}`), `job ${job.name}`);
  try {
    const tableDir = layout.tableDir(job.output);
    const current = await loadTableSnapshot(tableDir);
    const rebuiltAt = await lastRebuild(tableDir, current.version);
    if (rebuiltAt === null || rebuiltAt === 0) throw new Error(`job ${job.name} has no earlier version to roll back to (no rebuild replaced one)`);
    const previous = await loadTableSnapshot(tableDir, { version: rebuiltAt - 1 });
    const missing = await vacuumedFiles(tableDir, previous);
    if (missing.length > 0) throw new Error(`cannot roll back job ${job.name} to version ${rebuiltAt - 1}: ${missing.length} of its files were vacuumed (first: ${missing[0]})`);
    const now = Date.now();
    const actions: Action[] = [
      { commitInfo: { timestamp: now, operation: 'RESTORE', operationParameters: { version: String(rebuiltAt - 1) }, engineInfo: 'eventlake/0.1.0', eventlake: { job: job.name, rollbackOf: rebuiltAt } } },
      { metaData: previous.metadata! },
      // A file is the same only with the same deletion vector: a file whose DV changed since is
      // removed with its current DV and added back with the earlier one.
      ...[...current.files.values()].filter((add) => !sameFile(previous, add)).map((add): Action => ({ remove: removalOf(add, { deletionTimestamp: now, dataChange: true }) })),
      ...[...previous.files.values()].filter((add) => !sameFile(current, add)).map((add): Action => ({ add: { ...add, dataChange: true } })),
      ...[...previous.txns.values()].map((txn): Action => ({ txn: { ...txn, lastUpdated: now } })),
    ];
    await commitVersion(tableDir, current.version + 1, actions);
    return { job: job.name, restored: rebuiltAt - 1, tableVersion: current.version + 1 };
  } finally {
    await lock.release();
  }
}

function sameFile(snapshot: Snapshot, add: AddFile): boolean {
  const other = snapshot.files.get(add.path);
  return other !== undefined && sameDeletionVector(other, add);
}

/** The version of the newest overwrite commit (a rebuild's switch), or null. */
async function lastRebuild(tableDir: string, latest: number): Promise<number | null> {
  for (let version = latest; version >= 0; version--) {
    const actions = await readCommit(tableDir, version).catch(() => [] as Action[]);
    const info = actions.find((a): a is Extract<Action, { commitInfo: unknown }> => 'commitInfo' in a)?.commitInfo;
    if (info?.operation === 'RESTORE') return null; // already rolled back past the last rebuild
    if (info?.operation === 'WRITE' && (info.operationParameters as { mode?: string } | undefined)?.mode === 'Overwrite') return version;
  }
  return null;
}
