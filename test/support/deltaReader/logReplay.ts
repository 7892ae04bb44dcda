import { logicalFileKey, type AddAction, type Commit, type MetaDataAction, type ProtocolAction, type RemoveAction } from './actions.js';

/**
 * Action reconciliation (PROTOCOL.md, "Action Reconciliation"), pure: commits in, table state
 * out. The newest protocol and metaData win, the newest version per txn appId wins, and each
 * logical file, keyed by (path, deletionVector.uniqueId), keeps its newest action: an add makes it
 * live, a remove turns it into a tombstone. commitInfo is not state.
 */
export interface TableState {
  version: number;
  protocol: ProtocolAction | null;
  metaData: MetaDataAction | null;
  txns: Map<string, number>;
  files: Map<string, AddAction>;
  tombstones: Map<string, RemoveAction>;
}

export function emptyState(): TableState {
  return { version: -1, protocol: null, metaData: null, txns: new Map(), files: new Map(), tombstones: new Map() };
}

/**
 * The state after `commit`, leaving `state` as it was (so every version can be kept). A
 * checkpoint is applied the same way to an empty state; it is a replayed state, not a commit, so
 * it may hold several tombstones of one data file (one per deletion vector it had).
 */
export function applyCommit(state: TableState, commit: Commit, where: string, options: { checkpoint?: boolean } = {}): TableState {
  if (options.checkpoint) checkNoFileIsBothLiveAndRemoved(commit, where);
  else checkCommitIsValid(commit, where);
  const next: TableState = {
    version: commit.version,
    protocol: state.protocol,
    metaData: state.metaData,
    txns: new Map(state.txns),
    files: new Map(state.files),
    tombstones: new Map(state.tombstones),
  };
  for (const action of commit.actions) {
    if ('protocol' in action) next.protocol = action.protocol;
    else if ('metaData' in action) next.metaData = action.metaData;
    else if ('txn' in action) next.txns.set(action.txn.appId, action.txn.version);
    else if ('add' in action) {
      const key = logicalFileKey(action.add);
      next.files.set(key, action.add);
      next.tombstones.delete(key);
    } else if ('remove' in action) {
      const key = logicalFileKey(action.remove);
      next.files.delete(key);
      next.tombstones.set(key, action.remove);
    }
  }
  checkOneLogicalFilePerPath(next, where);
  return next;
}

/**
 * A commit's actions may be applied in any order, so PROTOCOL.md forbids those that would make the
 * order matter ("Delta Log Entries" of the writer requirements, "Add File and Remove File").
 */
function checkCommitIsValid(commit: Commit, where: string): void {
  const count = (kind: string) => commit.actions.filter((a) => kind in a).length;
  if (count('metaData') > 1) throw new Error(`${where}: version ${commit.version} has more than one metaData action`);
  if (count('protocol') > 1) throw new Error(`${where}: version ${commit.version} has more than one protocol action`);
  const txnIds = commit.actions.flatMap((a) => ('txn' in a ? [a.txn.appId] : []));
  if (new Set(txnIds).size !== txnIds.length) throw new Error(`${where}: version ${commit.version} sets one txn appId twice`);
  for (const kind of ['add', 'remove'] as const) {
    const paths = commit.actions.flatMap((a) => (kind in a ? [(a as Record<typeof kind, AddAction | RemoveAction>)[kind].path] : []));
    const twice = paths.find((p, i) => paths.indexOf(p) !== i);
    if (twice) throw new Error(`${where}: version ${commit.version} has two ${kind} actions for ${twice}`);
  }
  checkNoFileIsBothLiveAndRemoved(commit, where);
}

function checkNoFileIsBothLiveAndRemoved(commit: Commit, where: string): void {
  const removed = new Set(commit.actions.flatMap((a) => ('remove' in a ? [logicalFileKey(a.remove)] : [])));
  const both = commit.actions.find((a) => 'add' in a && removed.has(logicalFileKey(a.add)));
  if (both && 'add' in both) throw new Error(`${where}: version ${commit.version} both adds and removes the logical file ${both.add.path}`);
}

/** A data file is live under one deletion vector at most, or its rows would be read twice. */
function checkOneLogicalFilePerPath(state: TableState, where: string): void {
  const seen = new Set<string>();
  for (const add of state.files.values()) {
    if (seen.has(add.path)) throw new Error(`${where}: at version ${state.version} ${add.path} is live under two deletion vectors`);
    seen.add(add.path);
  }
}
