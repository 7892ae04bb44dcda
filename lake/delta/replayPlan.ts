import type { LastCheckpoint } from './checkpointSchema.js';
import { latestVersionOf, type CheckpointFiles, type LogListing } from './logFiles.js';

/**
 * Which log files rebuild a given version: the newest usable checkpoint and the commits after it.
 * Pure: decided from a listing, so the error cases (future version, cleaned-up history, holes in
 * the log) are plain data tests.
 */

export interface ReplayPlan {
  version: number;
  /** Start from this checkpoint, or from an empty table when absent. */
  checkpoint?: CheckpointFiles;
  /** The commit versions to apply after it, ascending. */
  commits: number[];
}

/** The plan to read `version`, or an error naming the table and the version. */
export function planReplay(tableDir: string, listing: LogListing, version: number, hint?: LastCheckpoint): ReplayPlan {
  const latest = latestVersionOf(listing);
  if (latest < 0) throw new Error(`Delta table ${tableDir} has no versions yet`);
  if (!Number.isSafeInteger(version) || version < 0 || version > latest) {
    throw new Error(`version ${version} of Delta table ${tableDir} does not exist (versions go from 0 to ${latest})`);
  }
  const checkpoint = newestCheckpointAtOrBefore(listing, version, hint);
  const commits = range((checkpoint?.version ?? -1) + 1, version);
  const present = new Set(listing.commits);
  const missing = commits.find((v) => !present.has(v));
  if (missing !== undefined) {
    const earliest = earliestReadableVersion(listing);
    if (earliest !== undefined && version < earliest) {
      throw new Error(
        `version ${version} of Delta table ${tableDir} was cleaned up from the log; the earliest readable version is ${earliest}`,
      );
    }
    throw new Error(`cannot read version ${version} of Delta table ${tableDir}: the commit file of version ${missing} is missing`);
  }
  return { version, checkpoint, commits };
}

/**
 * The oldest version the log can still rebuild: 0 while the first commit exists, otherwise the
 * oldest checkpoint (metadata cleanup deletes commits only behind a checkpoint).
 */
export function earliestReadableVersion(listing: LogListing): number | undefined {
  if (listing.commits[0] === 0) return 0;
  return listing.checkpoints[0]?.version;
}

// On a local folder the listing is needed anyway (for the commits after the checkpoint), so
// `_last_checkpoint` is only a cross-check: the listing also sees a checkpoint whose hint update was
// lost in a crash, and a hint pointing at a missing or incomplete checkpoint is ignored.
function newestCheckpointAtOrBefore(
  listing: LogListing,
  version: number,
  hint: LastCheckpoint | undefined,
): CheckpointFiles | undefined {
  const usable = listing.checkpoints.filter((c) => c.version <= version);
  const hinted = hint && hint.version <= version ? usable.find((c) => c.version === hint.version) : undefined;
  const newest = usable.at(-1);
  return hinted && (!newest || hinted.version >= newest.version) ? hinted : newest;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}
