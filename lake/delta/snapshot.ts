import { fileURLToPath } from 'node:url';
import type { Action, AddFile, CommitInfo, Metadata, Protocol, RemoveFile, Txn } from './actions.js';
import { logicalFileKey, sameDeletionVector } from './logicalFile.js';

/**
 * Log replay: actions in, table state out. Pure (no I/O), like the log replay of delta-rs and
 * Delta kernel, so the rules of reconciliation can be tested with plain data.
 */

/** The state of a Delta table at one version. */
export interface Snapshot {
  /** The version this state is at; -1 for a table with no commits yet. */
  readonly version: number;
  readonly protocol?: Protocol;
  readonly metadata?: Metadata;
  /**
   * Live (logical) files, keyed by the raw (possibly URL-encoded) path of their `add`: a path is
   * live with at most one deletion vector at a time.
   */
  readonly files: ReadonlyMap<string, AddFile>;
  /**
   * Removed logical files not re-added since, keyed by `logicalFileKey(path, deletionVector)`:
   * the raw path for a file without a DV. The protocol keeps them in the snapshot (and in
   * checkpoints) until they expire, so VACUUM spares files a recent version still needs. A path
   * may be live with one DV and a tombstone with an older one.
   */
  readonly tombstones: ReadonlyMap<string, RemoveFile>;
  /** The latest transaction marker per application id. */
  readonly txns: ReadonlyMap<string, Txn>;
  /** ms since the epoch: `commitInfo.timestamp` of the commit that produced this version, if any. */
  readonly commitTimestamp?: number;
}

/** The actions of one commit file. */
export interface Commit {
  version: number;
  actions: Action[];
}

type Draft = {
  -readonly [K in keyof Snapshot]: Snapshot[K];
} & { files: Map<string, AddFile>; tombstones: Map<string, RemoveFile>; txns: Map<string, Txn> };

/** A table before its first commit. */
export function emptySnapshot(): Snapshot {
  return { version: -1, files: new Map(), tombstones: new Map(), txns: new Map() };
}

/** The snapshot after one more commit; `version` must directly follow the snapshot's. */
export function applyCommit(snapshot: Snapshot, version: number, actions: Action[]): Snapshot {
  return replay([{ version, actions }], snapshot);
}

/** Folds commits, in version order and without gaps, onto `base` (default: an empty table). */
export function replay(commits: Iterable<Commit>, base: Snapshot = emptySnapshot()): Snapshot {
  // One copy for the whole replay: copying the file map per commit would make replay quadratic.
  const draft = draftOf(base);
  for (const commit of commits) {
    if (commit.version !== draft.version + 1) {
      throw new Error(
        `cannot apply commit ${commit.version} to a snapshot at version ${draft.version}: commits must follow each other`,
      );
    }
    applyActions(draft, commit.actions);
    draft.version = commit.version;
    draft.commitTimestamp = commitTimestampOf(commit.actions);
  }
  return draft;
}

/**
 * The snapshot a checkpoint describes: its rows are the already reconciled state at `version`.
 * Checkpoints carry no commitInfo, so the commit timestamp is left for the caller to find.
 */
export function snapshotFromCheckpoint(version: number, actions: Action[]): Snapshot {
  const draft = draftOf(emptySnapshot());
  applyActions(draft, actions);
  draft.version = version;
  return draft;
}

/** The same snapshot with its commit timestamp set (found outside the log replay). */
export function withCommitTimestamp(snapshot: Snapshot, commitTimestamp: number | undefined): Snapshot {
  return { ...snapshot, commitTimestamp };
}

/**
 * The local file path of a data file from the raw `path` of its add/remove action: relative
 * paths are URL-decoded (relative to the table root), `file:` URIs become absolute paths.
 */
export function dataFilePath(rawPath: string): string {
  // Two or more letters before the colon, so a Windows drive letter is not taken for a scheme.
  if (/^[a-z][a-z0-9+.-]+:/i.test(rawPath)) {
    if (rawPath.toLowerCase().startsWith('file:')) return fileURLToPath(rawPath);
    throw new Error(`data file ${rawPath} is not on the local file system; eventlake reads local tables only`);
  }
  return decodeURIComponent(rawPath);
}

/** The URL-encoded path to record in an add/remove action for a relative file path. */
export function encodeDataPath(relativePath: string): string {
  return relativePath.split('/').map(encodeURIComponent).join('/');
}

function draftOf(snapshot: Snapshot): Draft {
  return {
    ...snapshot,
    files: new Map(snapshot.files),
    tombstones: new Map(snapshot.tombstones),
    txns: new Map(snapshot.txns),
  };
}

// Reconciliation rules of the protocol: a logical file is (path, deletion vector uniqueId) and
// the newest action for it wins (add and remove cancel each other); an add replaces whatever DV
// its path had. Changing a file's DV is a remove of (path, old DV) and an add of (path, new DV)
// in one commit, in either order: the remove only takes the path out of the live files when the
// live DV is the one it names. The latest txn per appId wins, metaData and protocol are replaced.
function applyActions(draft: Draft, actions: Action[]): void {
  for (const action of actions) {
    if ('add' in action) {
      const { add } = action;
      draft.files.set(add.path, add);
      draft.tombstones.delete(logicalFileKey(add.path, add.deletionVector));
    } else if ('remove' in action) {
      const { remove } = action;
      const live = draft.files.get(remove.path);
      if (live && sameDeletionVector(live, remove)) draft.files.delete(remove.path);
      draft.tombstones.set(logicalFileKey(remove.path, remove.deletionVector), remove);
    } else if ('txn' in action) {
      draft.txns.set(action.txn.appId, action.txn);
    } else if ('metaData' in action) {
      draft.metadata = action.metaData;
    } else if ('protocol' in action) {
      draft.protocol = action.protocol;
    }
  }
}

function commitTimestampOf(actions: Action[]): number | undefined {
  const info = actions.find((a): a is { commitInfo: CommitInfo } => 'commitInfo' in a)?.commitInfo;
  return typeof info?.timestamp === 'number' ? info.timestamp : undefined;
}
