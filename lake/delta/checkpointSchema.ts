import type { Action } from './actions.js';
import type { Snapshot } from './snapshot.js';

/**
 * The shape of a classic (V1 spec) checkpoint: one row per action, one nullable struct column per
 * action kind. Pure: which rows a snapshot checkpoints to, and which actions a row stands for.
 */

/** The content of `_delta_log/_last_checkpoint`. */
export interface LastCheckpoint {
  version: number;
  /** Number of actions (rows) in the checkpoint. */
  size: number;
  /** Present for multi-part checkpoints. */
  parts?: number;
}

/** How long a removed file stays a tombstone in checkpoints; Delta's default is one week. */
export const DEFAULT_TOMBSTONE_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

const STRING_MAP = 'MAP(VARCHAR, VARCHAR)';

function struct(fields: Record<string, string>): string {
  return `STRUCT(${Object.entries(fields)
    .map(([name, type]) => `"${name}" ${type}`)
    .join(', ')})`;
}

// The DeletionVectorDescriptor struct as Spark checkpoints it (maxRowIndex is Spark's own field).
const DELETION_VECTOR = struct({
  storageType: 'VARCHAR',
  pathOrInlineDv: 'VARCHAR',
  offset: 'INTEGER',
  sizeInBytes: 'INTEGER',
  cardinality: 'BIGINT',
  maxRowIndex: 'BIGINT',
});

/**
 * DuckDB types of the checkpoint columns, named and typed as Spark writes them (long = BIGINT,
 * int = INTEGER, map<string,string> = MAP) so Spark, delta-rs and Delta kernel read it unchanged.
 * Stats are kept as the JSON string (`delta.checkpoint.writeStatsAsJson`, the default).
 */
export const CHECKPOINT_COLUMNS = {
  txn: struct({ appId: 'VARCHAR', version: 'BIGINT', lastUpdated: 'BIGINT' }),
  add: struct({
    path: 'VARCHAR',
    partitionValues: STRING_MAP,
    size: 'BIGINT',
    modificationTime: 'BIGINT',
    dataChange: 'BOOLEAN',
    tags: STRING_MAP,
    deletionVector: DELETION_VECTOR,
    stats: 'VARCHAR',
  }),
  // Checkpointed removes are tombstones for VACUUM only: the protocol leaves out stats and tags.
  // Their DV stays: a tombstone is keyed by (path, DV), and VACUUM keeps the DV file it names.
  remove: struct({
    path: 'VARCHAR',
    deletionTimestamp: 'BIGINT',
    dataChange: 'BOOLEAN',
    extendedFileMetadata: 'BOOLEAN',
    partitionValues: STRING_MAP,
    size: 'BIGINT',
    deletionVector: DELETION_VECTOR,
  }),
  metaData: struct({
    id: 'VARCHAR',
    name: 'VARCHAR',
    description: 'VARCHAR',
    format: struct({ provider: 'VARCHAR', options: STRING_MAP }),
    schemaString: 'VARCHAR',
    partitionColumns: 'VARCHAR[]',
    configuration: STRING_MAP,
    createdTime: 'BIGINT',
  }),
  protocol: struct({
    minReaderVersion: 'INTEGER',
    minWriterVersion: 'INTEGER',
    readerFeatures: 'VARCHAR[]',
    writerFeatures: 'VARCHAR[]',
  }),
} as const;

export type CheckpointColumn = keyof typeof CHECKPOINT_COLUMNS;
const CHECKPOINT_KINDS = Object.keys(CHECKPOINT_COLUMNS) as CheckpointColumn[];

/** Options for which tombstones a checkpoint keeps. */
export interface TombstonePolicy {
  /** ms since the epoch; default now. */
  now?: number;
  /** Tombstones older than this are dropped; default one week. */
  tombstoneRetentionMs?: number;
}

/**
 * The rows of a checkpoint of `snapshot`: protocol, metadata, every txn, every live file and the
 * tombstones that have not expired. commitInfo is never checkpointed (protocol rule).
 */
export function checkpointActions(snapshot: Snapshot, policy: TombstonePolicy = {}): Action[] {
  const { protocol, metadata } = snapshot;
  if (snapshot.version < 0 || !protocol || !metadata) {
    throw new Error('cannot checkpoint a snapshot without a version, protocol and metadata');
  }
  const expiredBefore = (policy.now ?? Date.now()) - (policy.tombstoneRetentionMs ?? DEFAULT_TOMBSTONE_RETENTION_MS);
  const liveTombstones = [...snapshot.tombstones.values()].filter(
    (remove) => remove.deletionTimestamp === undefined || remove.deletionTimestamp >= expiredBefore,
  );
  return [
    { protocol },
    { metaData: metadata },
    ...[...snapshot.txns.values()].map((txn) => ({ txn })),
    ...[...snapshot.files.values()].map((add) => ({ add })),
    ...liveTombstones.map((remove) => ({ remove })),
  ];
}

/**
 * The actions in one checkpoint row (as a JSON object). Null fields are dropped so a checkpointed
 * action equals the one parsed from the commit JSON (in a deletion vector too: an inline DV has no
 * offset, and its uniqueId must not change); derived `*_parsed` columns are ignored, and so are
 * action kinds eventlake does not model (domainMetadata, sidecar, ...).
 */
export function actionsFromCheckpointRow(row: Record<string, unknown>): Action[] {
  const actions: Action[] = [];
  for (const kind of CHECKPOINT_KINDS) {
    const value = row[kind];
    if (value === null || typeof value !== 'object') continue;
    const action = withoutNulls(value as object);
    if (action.deletionVector !== null && typeof action.deletionVector === 'object') {
      action.deletionVector = withoutNulls(action.deletionVector as object);
    }
    actions.push({ [kind]: action } as Action);
  }
  return actions;
}

// Not recursive on purpose: a null in partitionValues is a null partition value, not an absent one.
function withoutNulls(fields: object): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(fields).filter(([name, value]) => value !== null && !name.endsWith('_parsed')),
  );
}
