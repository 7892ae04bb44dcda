import { baseName, locate, parentLocation } from '../storage/locations.js';
import type { CommitInfo } from './actions.js';
import { readCommit } from './commit.js';
import { commitPath, latestVersionOf, type LogListing } from './logFiles.js';
import { earliestReadableVersion } from './replayPlan.js';

/** Finding the version a table was at, at a point in time. */

/**
 * When `version` was committed (ms): its commitInfo.timestamp, else the commit file's mtime (what
 * Spark itself uses). A version known only from a checkpoint is dated by the checkpoint file.
 */
export async function versionTimestamp(tableDir: string, listing: LogListing, version: number): Promise<number> {
  if (listing.commits.includes(version)) {
    const actions = await readCommit(tableDir, version);
    const info = actions.find((a): a is { commitInfo: CommitInfo } => 'commitInfo' in a)?.commitInfo;
    if (typeof info?.timestamp === 'number') return info.timestamp;
    return modifiedAt(commitPath(tableDir, version));
  }
  const checkpoint = listing.checkpoints.find((c) => c.version === version);
  if (!checkpoint) throw new Error(`Delta table ${tableDir} has no commit or checkpoint for version ${version}`);
  return modifiedAt(checkpoint.paths[0]);
}

/**
 * The latest version committed at or before `timestamp` (ms). Walking down from the newest
 * version, the first match is the answer even if clocks made commit times non-monotonic, and
 * only the commits after the answer are read.
 */
/** The table has no version committed at or before the asked time (it did not exist yet). */
export class NoVersionAtTimeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NoVersionAtTimeError';
  }
}

export async function versionAsOf(tableDir: string, listing: LogListing, timestamp: number): Promise<number> {
  if (!Number.isFinite(timestamp)) throw new Error(`time travel on Delta table ${tableDir}: ${timestamp} is not a timestamp`);
  const earliest = earliestReadableVersion(listing);
  if (earliest === undefined) throw new NoVersionAtTimeError(`Delta table ${tableDir} has no readable versions`);
  const known = new Set([...listing.commits, ...listing.checkpoints.map((c) => c.version)]);
  for (let version = latestVersionOf(listing); version >= earliest; version--) {
    if (!known.has(version)) continue;
    if ((await versionTimestamp(tableDir, listing, version)) <= timestamp) return version;
  }
  const first = await versionTimestamp(tableDir, listing, earliest);
  throw new NoVersionAtTimeError(
    `Delta table ${tableDir} has no version at ${iso(timestamp)}: its earliest readable version ${earliest} ` +
      `was committed at ${iso(first)}`,
  );
}

/** A file's modification time: the commit's date when its commitInfo has none. */
async function modifiedAt(location: string): Promise<number> {
  const { storage, path } = locate(parentLocation(location));
  const entry = (await storage.list(path)).find((e) => e.name === baseName(location));
  if (!entry) throw new Error(`${location} does not exist`);
  return entry.lastModified;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
