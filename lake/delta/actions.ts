/**
 * The actions of the Delta transaction log, as they appear one per line in
 * `_delta_log/NNNNNNNNNNNNNNNNNNNN.json` (and one per row in a checkpoint). Field names are the
 * protocol's, so a parsed line is already a typed action.
 */

export {
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
 * which every Delta reader since 2019 understands.
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
  /** Per-file statistics as a JSON string: `{"numRecords":..,"minValues":{..},"maxValues":{..},"nullCount":{..}}`. */
  stats?: string;
  tags?: Record<string, string | null>;
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
