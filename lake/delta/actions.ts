/**
 * The actions of the Delta transaction log, as they appear one per line in
 * `_delta_log/NNNNNNNNNNNNNNNNNNNN.json` (and one per row in a checkpoint). Field names are the
 * protocol's, so a parsed line is already a typed action.
 */

export {
  duckType,
  sparkSchema,
  sparkSchemaString,
  sparkType,
  sparkTypeName,
  parseSchemaString,
  type ArrayType,
  type DuckColumn,
  type MapType,
  type SparkDataType,
  type StructField,
  type StructType,
} from './sparkSchema.js';

/**
 * The reader/writer versions a client must implement. eventlake writes 1 / 2 (no table features),
 * which every Delta reader since 2019 understands, and 3 / 7 with the `deletionVectors` feature on
 * tables that opt in to deletion vectors (see tableFeatures.ts).
 */
export interface Protocol {
  minReaderVersion: number;
  minWriterVersion: number;
  /** Only with reader version 3. */
  readerFeatures?: string[];
  /** Only with writer version 7. */
  writerFeatures?: string[];
}

/** How data files are encoded; Delta only ever creates `parquet` with no options. */
export interface Format {
  provider: 'parquet' | (string & {});
  options: Record<string, string>;
}

/** Table identity, schema and properties. The latest one in the log wins. */
export interface Metadata {
  /** A GUID, stable for the life of the table. */
  id: string;
  name?: string;
  description?: string;
  format: Format;
  /** The Spark JSON schema, see `sparkSchemaString`. */
  schemaString: string;
  partitionColumns: string[];
  /** Table properties such as `delta.appendOnly`. */
  configuration: Record<string, string>;
  /** Milliseconds since the epoch; optional in the protocol (some writers leave it out). */
  createdTime?: number;
}

/**
 * Where the deletion vector (DV) of a logical file is and what it holds: the rows of the data file
 * that are no longer in the table. PROTOCOL.md "Deletion Vector Descriptor Schema".
 */
export interface DeletionVectorDescriptor {
  /** `u`: file `deletion_vector_<uuid>.bin` in the table folder; `i`: inline; `p`: absolute path. */
  storageType: 'u' | 'i' | 'p' | (string & {});
  /** `u`: optional random prefix + Z85 of the UUID (20 characters); `i`: Z85 of the DV bytes; `p`: a path URI. */
  pathOrInlineDv: string;
  /** Where the DV starts in its file (its size field); absent for inline DVs, read as 0 otherwise. */
  offset?: number;
  /** Bytes of the serialized DV (magic number + bitmap), before any Z85 encoding. */
  sizeInBytes: number;
  /** How many rows the DV deletes. */
  cardinality: number;
  /** Written by Spark (not in PROTOCOL.md); kept so a checkpoint carries what the commit said. */
  maxRowIndex?: number;
}

/** A data file that is part of the table from this version on. */
export interface AddFile {
  /** Relative to the table root (or absolute), URL-encoded as an RFC 2396 URI path. */
  path: string;
  /** Partition column -> value as a string (null for a null value). */
  partitionValues: Record<string, string | null>;
  size: number;
  /** When the file was written, ms since the epoch. */
  modificationTime: number;
  /** False when the file only rearranges rows already in the table (compaction). */
  dataChange: boolean;
  /**
   * Per-file statistics as a JSON string: `{"numRecords":..,"minValues":{..},"maxValues":{..},"nullCount":{..}}`,
   * plus `"tightBounds":false` once a deletion vector may have deleted the rows holding a min or max.
   */
  stats?: string;
  tags?: Record<string, string | null>;
  /** The rows of the data file this logical file leaves out; absent when every row is live. */
  deletionVector?: DeletionVectorDescriptor;
}

/**
 * A data file leaving the table. It stays in the snapshot as a tombstone until it expires, so
 * VACUUM does not delete a file that readers of a slightly older version still need.
 */
export interface RemoveFile {
  path: string;
  /** When the removal happened, ms since the epoch. */
  deletionTimestamp?: number;
  dataChange: boolean;
  /** When true, `partitionValues` and `size` are present. */
  extendedFileMetadata?: boolean;
  partitionValues?: Record<string, string | null>;
  size?: number;
  stats?: string;
  tags?: Record<string, string | null>;
  /**
   * The deletion vector of the logical file being removed: a remove names (path, DV), so removing a
   * file that has a DV must carry that DV, or it removes nothing (see `removeOf`).
   */
  deletionVector?: DeletionVectorDescriptor;
}

/**
 * An application's progress marker, committed atomically with its data: a projection records the
 * last log position it wrote, so a retried batch can tell it was already applied.
 */
export interface Txn {
  appId: string;
  version: number;
  lastUpdated?: number;
}

/** Free-form provenance of one commit; `timestamp` (ms) dates the version for time travel. */
export type CommitInfo = { timestamp?: number; operation?: string } & Record<string, unknown>;

export type ProtocolAction = { protocol: Protocol };
export type MetadataAction = { metaData: Metadata };
export type AddAction = { add: AddFile };
export type RemoveAction = { remove: RemoveFile };
export type TxnAction = { txn: Txn };
export type CommitInfoAction = { commitInfo: CommitInfo };

/** One line of a commit file. */
export type Action = ProtocolAction | MetadataAction | AddAction | RemoveAction | TxnAction | CommitInfoAction;

/** The action kinds eventlake understands; others (cdc, domainMetadata, ...) are skipped on read. */
export const ACTION_KINDS = ['protocol', 'metaData', 'add', 'remove', 'txn', 'commitInfo'] as const;
export type ActionKind = (typeof ACTION_KINDS)[number];

/**
 * The actions in a commit file's text. Unknown action kinds are dropped: the protocol promises
 * that anything a reader must understand is announced by a protocol (version or feature) change.
 */
export function parseActions(text: string, source = 'commit'): Action[] {
  const actions: Action[] = [];
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line) as Record<string, unknown>;
    } catch (error) {
      throw new Error(`${source}: line ${index + 1} is not JSON (${(error as Error).message})`);
    }
    const kind = ACTION_KINDS.find((k) => parsed[k] != null);
    if (kind) actions.push({ [kind]: parsed[kind] } as Action);
  }
  return actions;
}

/** The text of a commit file: one JSON action per line. */
export function formatActions(actions: Action[]): string {
  return actions.map((action) => JSON.stringify(action)).join('\n') + '\n';
}

/**
 * The remove action for a live file: the same logical file (path and deletion vector), with the
 * extended metadata (partition values, size, stats, tags) so that readers tailing the log and
 * VACUUM know what left. Use this rather than `{ remove: { path } }`: on a table with deletion
 * vectors a remove without the file's DV names another logical file and leaves this one live.
 */
export function removalOf(add: AddFile, options: { deletionTimestamp: number; dataChange: boolean }): RemoveFile {
  const remove: RemoveFile = {
    path: add.path,
    deletionTimestamp: options.deletionTimestamp,
    dataChange: options.dataChange,
    extendedFileMetadata: true,
    partitionValues: add.partitionValues,
    size: add.size,
  };
  if (add.stats !== undefined) remove.stats = add.stats;
  if (add.tags !== undefined) remove.tags = add.tags;
  if (add.deletionVector) remove.deletionVector = add.deletionVector;
  return remove;
}

/** The number of records a file holds according to its stats, if the writer recorded them. */
export function numRecords(add: AddFile): number | undefined {
  if (!add.stats) return undefined;
  try {
    const stats = JSON.parse(add.stats) as { numRecords?: unknown };
    return typeof stats.numRecords === 'number' ? stats.numRecords : undefined;
  } catch {
    // Stats are an optimisation; a malformed string just means we count the rows instead.
    return undefined;
  }
}

/**
 * The rows of a logical file: the data file's records less those its deletion vector deletes.
 * Undefined when the stats have no numRecords (the protocol requires it on files with a DV).
 */
export function liveRecords(add: AddFile): number | undefined {
  const records = numRecords(add);
  return records === undefined ? undefined : records - (add.deletionVector?.cardinality ?? 0);
}
