import { link, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { failpoint } from '../failpoints.js';
import { formatActions, parseActions, type Action } from './actions.js';
import { commitPath, logDir } from './logFiles.js';
import { fsyncDir, removeIfPresent, tempPathFor, writeNewFileSynced } from './durableFile.js';

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
 * store. The commit appears whole or not at all, and survives a crash once this resolves.
 */
export async function commitVersion(tableDir: string, version: number, actions: Action[]): Promise<void> {
  if (!Number.isSafeInteger(version) || version < 0) {
    throw new Error(`cannot commit version ${version} of Delta table ${tableDir}: versions are integers from 0`);
  }
  if (actions.length === 0) throw new Error(`cannot commit version ${version} of Delta table ${tableDir}: no actions`);
  await ensureLogDir(tableDir);
  const target = commitPath(tableDir, version);
  const temp = tempPathFor(target);
  try {
    await writeNewFileSynced(temp, formatActions(actions));
    failpoint('delta.beforeCommitLink');
    // link(2), unlike rename(2), refuses to replace an existing name: an atomic "create if absent"
    // for a file whose content is already complete and synced.
    await link(temp, target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new ConcurrentCommitError(tableDir, version);
    throw error;
  } finally {
    await removeIfPresent(temp);
  }
  await fsyncDir(logDir(tableDir));
}

/** The actions of commit `version`. */
export async function readCommit(tableDir: string, version: number): Promise<Action[]> {
  const file = commitPath(tableDir, version);
  return parseActions(await readFile(file, 'utf8'), file);
}

async function ensureLogDir(tableDir: string): Promise<void> {
  const dir = path.resolve(logDir(tableDir));
  const firstCreated = await mkdir(dir, { recursive: true });
  if (firstCreated === undefined) return;
  // New folders are entries of their parents: sync each parent so the table's existence is durable.
  const stop = path.dirname(path.resolve(firstCreated));
  for (let created = dir; created !== stop && created !== path.dirname(created); created = path.dirname(created)) {
    await fsyncDir(path.dirname(created));
  }
}
