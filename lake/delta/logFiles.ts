import { joinLocation, locate } from '../storage/locations.js';

/** The files of a table's `_delta_log/` folder: their names, and what a listing finds. */

export const LOG_DIR = '_delta_log';
export const LAST_CHECKPOINT_FILE = '_last_checkpoint';

/** A complete checkpoint: one classic file, or every part of a multi-part one. */
export interface CheckpointFiles {
  version: number;
  /** Locations of the checkpoint's Parquet file(s). */
  paths: string[];
}

/** What `_delta_log/` holds, versions ascending. */
export interface LogListing {
  /** Versions that have a JSON commit file. */
  commits: number[];
  /** Versions that have a complete checkpoint. */
  checkpoints: CheckpointFiles[];
}

const COMMIT_NAME = /^(\d{20})\.json$/;
const CLASSIC_CHECKPOINT_NAME = /^(\d{20})\.checkpoint\.parquet$/;
const PART_CHECKPOINT_NAME = /^(\d{20})\.checkpoint\.(\d{10})\.(\d{10})\.parquet$/;

export function logDir(tableDir: string): string {
  return joinLocation(tableDir, LOG_DIR);
}

/** A version as the log spells it: zero-padded to 20 digits. */
export function paddedVersion(version: number): string {
  return String(version).padStart(20, '0');
}

export function commitPath(tableDir: string, version: number): string {
  return joinLocation(logDir(tableDir), `${paddedVersion(version)}.json`);
}

export function checkpointPath(tableDir: string, version: number): string {
  return joinLocation(logDir(tableDir), `${paddedVersion(version)}.checkpoint.parquet`);
}

export function lastCheckpointPath(tableDir: string): string {
  return joinLocation(logDir(tableDir), LAST_CHECKPOINT_FILE);
}

/**
 * Commit and checkpoint versions in `_delta_log/`. A missing folder is an empty table that has not
 * been created yet, not an error.
 */
export async function listLog(tableDir: string): Promise<LogListing> {
  const dir = logDir(tableDir);
  const { storage, path } = locate(dir);
  const names = (await storage.list(path)).filter((e) => !e.isDirectory).map((e) => e.name);
  return logListingOf(dir, names);
}

/**
 * The listing for the file names of a log folder. UUID-named (v2) checkpoints are ignored: they
 * only exist on tables with the v2Checkpoint reader feature, which eventlake refuses to read.
 */
export function logListingOf(dir: string, names: string[]): LogListing {
  const commits: number[] = [];
  const classic = new Map<number, string>();
  const parts = new Map<string, string[]>();
  for (const name of names) {
    const commit = COMMIT_NAME.exec(name);
    if (commit) commits.push(Number(commit[1]));
    const checkpoint = CLASSIC_CHECKPOINT_NAME.exec(name);
    if (checkpoint) classic.set(Number(checkpoint[1]), joinLocation(dir, name));
    const part = PART_CHECKPOINT_NAME.exec(name);
    if (part) {
      const key = `${Number(part[1])}/${Number(part[3])}`;
      parts.set(key, [...(parts.get(key) ?? []), joinLocation(dir, name)]);
    }
  }
  const checkpoints = new Map<number, string[]>();
  for (const [key, paths] of parts) {
    const [version, total] = key.split('/').map(Number);
    // A multi-part checkpoint is not written atomically; with a part missing it must be ignored.
    if (paths.length === total) checkpoints.set(version, paths.sort());
  }
  for (const [version, file] of classic) checkpoints.set(version, [file]);
  return {
    commits: commits.sort((a, b) => a - b),
    checkpoints: [...checkpoints].map(([version, paths]) => ({ version, paths })).sort((a, b) => a.version - b.version),
  };
}

/** The newest version the log knows, or -1 for a table with no commits. */
export function latestVersionOf(listing: LogListing): number {
  const lastCommit = listing.commits.at(-1) ?? -1;
  const lastCheckpoint = listing.checkpoints.at(-1)?.version ?? -1;
  return Math.max(lastCommit, lastCheckpoint);
}
