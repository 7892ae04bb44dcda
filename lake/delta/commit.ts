import { AlreadyExistsError } from '../storage/lakeStorage.js';
import { locate } from '../storage/locations.js';
import { formatActions, parseActions, type Action } from './actions.js';
import { commitPath } from './logFiles.js';

/** Writing and reading the JSON commit files of `_delta_log/`. */

/**
 * Another writer committed this version first. The caller should reload the snapshot, check that
 * its change still makes sense against the winner's, and retry with the next version.
 */
export class ConcurrentCommitError extends Error {
  constructor(
    readonly tableDir: string,
    readonly version: number,
  ) {
    super(`version ${version} of Delta table ${tableDir} was already committed by another writer`);
    this.name = 'ConcurrentCommitError';
  }
}

/**
 * Writes commit `version` only if no writer has: the mutual exclusion Delta requires of its log
 * store (local: link(2) of a synced temp file; ADLS: conditional create). The commit appears whole
 * or not at all, and survives a crash once this resolves.
 */
export async function commitVersion(tableDir: string, version: number, actions: Action[]): Promise<void> {
  if (!Number.isSafeInteger(version) || version < 0) {
    throw new Error(`cannot commit version ${version} of Delta table ${tableDir}: versions are integers from 0`);
  }
  if (actions.length === 0) throw new Error(`cannot commit version ${version} of Delta table ${tableDir}: no actions`);
  const { storage, path } = locate(commitPath(tableDir, version));
  try {
    await storage.createIfAbsent(path, formatActions(actions));
  } catch (error) {
    if (error instanceof AlreadyExistsError) throw new ConcurrentCommitError(tableDir, version);
    throw error;
  }
}

/** The actions of commit `version`. */
export async function readCommit(tableDir: string, version: number): Promise<Action[]> {
  const file = commitPath(tableDir, version);
  const { storage, path } = locate(file);
  return parseActions((await storage.read(path)).toString('utf8'), file);
}
