import { joinLocation, locate } from '../storage/locations.js';
import type { Duck } from '../duckdb.js';
import { readCheckpoint, readLastCheckpoint } from './checkpoint.js';
import { readCommit } from './commit.js';
import { latestVersionOf, listLog } from './logFiles.js';
import { planReplay } from './replayPlan.js';
import { NotFoundError } from '../storage/lakeStorage.js';
import {
  applyCommit,
  dataFilePath,
  emptySnapshot,
  replay,
  snapshotFromCheckpoint,
  withCommitTimestamp,
  type Commit,
  type Snapshot,
} from './snapshot.js';
import { assertReadable } from './tableFeatures.js';
import { versionAsOf, versionTimestamp } from './timeTravel.js';

/** Loading a snapshot from a table folder: the I/O around the pure log replay. */

/** Which version to read: a version number, or the version current at a time (ms since the epoch). */
export interface AsOf {
  version?: number;
  timestamp?: number;
}

// Commit files are read this many at a time: a table without checkpoints can have thousands.
const COMMIT_READ_BATCH = 32;

/**
 * The table's snapshot at the latest version, or at `at`: the newest checkpoint at or before the
 * target, then the JSON commits after it. A folder without a log is an empty table (version -1)
 * unless a version or time was asked for. `commitTimestamp` is the target commit's
 * commitInfo.timestamp, else its file's mtime, the same dating time travel uses.
 * `checkpointReader`: the DuckDB to read a checkpoint with (see readCheckpoint), asked only when
 * there is one to read; it stays the caller's.
 */
export async function loadSnapshot(tableDir: string, at: AsOf = {}, checkpointReader?: () => Promise<Duck>): Promise<Snapshot> {
  if (at.version !== undefined && at.timestamp !== undefined) {
    throw new Error(`time travel on Delta table ${tableDir}: give a version or a timestamp, not both`);
  }
  const listing = await listLog(tableDir);
  const latest = latestVersionOf(listing);
  if (latest < 0 && at.version === undefined && at.timestamp === undefined) return emptySnapshot();
  const version = at.timestamp !== undefined ? await versionAsOf(tableDir, listing, at.timestamp) : (at.version ?? latest);
  const plan = planReplay(tableDir, listing, version, await readLastCheckpoint(tableDir));
  const base = plan.checkpoint
    ? snapshotFromCheckpoint(plan.checkpoint.version, await readCheckpoint(plan.checkpoint.paths, checkpointReader))
    : emptySnapshot();
  let snapshot = replay(await readCommits(tableDir, plan.commits), base);
  if (snapshot.commitTimestamp === undefined) {
    snapshot = withCommitTimestamp(snapshot, await versionTimestamp(tableDir, listing, version));
  }
  assertReadable(tableDir, snapshot);
  return snapshot;
}

/**
 * The snapshot moved forward past commits other writers made since it was read: the commits after
 * its version, read one by one until the next is missing. Cheap when nothing changed (one read).
 */
export async function refreshSnapshot(tableDir: string, snapshot: Snapshot): Promise<Snapshot> {
  let current = snapshot;
  for (;;) {
    const version = current.version + 1;
    let actions;
    try {
      actions = await readCommit(tableDir, version);
    } catch (error) {
      if (error instanceof NotFoundError) return current;
      throw error;
    }
    current = applyCommit(current, version, actions);
    assertReadable(tableDir, current);
  }
}

/**
 * Absolute local paths of a snapshot's data files, e.g. for DuckDB's read_parquet. These are the
 * whole files: rows deleted by deletion vectors are in them; `liveRowsSelect` reads live rows only.
 */
export function snapshotFilePaths(tableDir: string, snapshot: Snapshot): string[] {
  return [...snapshot.files.values()].map((add) => joinLocation(tableDir, dataFilePath(add.path)));
}

/** The snapshot's data files that are gone (vacuum deleted them): an old version cannot be read then. */
export async function vacuumedFiles(tableDir: string, snapshot: Snapshot): Promise<string[]> {
  const paths = snapshotFilePaths(tableDir, snapshot);
  const sizes = await Promise.all(paths.map((file) => locate(file).storage.size(locate(file).path)));
  return paths.filter((_, i) => sizes[i] === null);
}

/**
 * Local paths DuckDB can read for the snapshot's data files: the files themselves on a local lake,
 * cached downloads on ADLS (the views' local cache mode). Whole files, as `snapshotFilePaths`.
 */
export async function snapshotLocalFiles(tableDir: string, snapshot: Snapshot): Promise<string[]> {
  return localFiles(snapshotFilePaths(tableDir, snapshot));
}

/** Local readable paths for locations, downloading a few at a time where they are remote. */
export async function localFiles(locations: string[]): Promise<string[]> {
  const result: string[] = [];
  for (let i = 0; i < locations.length; i += 8) {
    const batch = locations.slice(i, i + 8).map((l) => locate(l));
    result.push(...(await Promise.all(batch.map(({ storage, path }) => storage.localPath(path)))));
  }
  return result;
}

async function readCommits(tableDir: string, versions: number[]): Promise<Commit[]> {
  const commits: Commit[] = [];
  for (let i = 0; i < versions.length; i += COMMIT_READ_BATCH) {
    const batch = versions.slice(i, i + COMMIT_READ_BATCH);
    const read = batch.map(async (version) => ({ version, actions: await readCommit(tableDir, version) }));
    commits.push(...(await Promise.all(read)));
  }
  return commits;
}
