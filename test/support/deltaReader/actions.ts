/**
 * Delta log actions as PROTOCOL.md names them ("Actions"), only the fields this reader uses.
 * Unknown actions and fields are ignored, as the protocol tells readers to.
 */
export interface DeletionVectorDescriptor {
  storageType: 'u' | 'i' | 'p';
  pathOrInlineDv: string;
  offset?: number | null;
  sizeInBytes: number;
  cardinality: number;
}

export interface AddAction {
  path: string;
  partitionValues: Record<string, string | null>;
  size: number;
  modificationTime: number;
  dataChange: boolean;
  stats?: string | null;
  tags?: Record<string, string> | null;
  deletionVector?: DeletionVectorDescriptor | null;
}

export interface RemoveAction {
  path: string;
  deletionTimestamp?: number | null;
  dataChange: boolean;
  partitionValues?: Record<string, string | null> | null;
  size?: number | null;
  stats?: string | null;
  deletionVector?: DeletionVectorDescriptor | null;
}

export interface MetaDataAction {
  id: string;
  name?: string | null;
  format: { provider: string; options?: Record<string, string> | null };
  schemaString: string;
  partitionColumns: string[];
  configuration: Record<string, string>;
  createdTime?: number | null;
}

export interface ProtocolAction {
  minReaderVersion: number;
  minWriterVersion: number;
  readerFeatures?: string[] | null;
  writerFeatures?: string[] | null;
}

export interface TxnAction {
  appId: string;
  version: number;
  lastUpdated?: number | null;
}

export type Action =
  | { add: AddAction }
  | { remove: RemoveAction }
  | { metaData: MetaDataAction }
  | { protocol: ProtocolAction }
  | { txn: TxnAction }
  | { commitInfo: Record<string, unknown> };

/** One JSON commit (or a checkpoint standing for all commits up to its version). */
export interface Commit {
  version: number;
  actions: Action[];
}

/**
 * The derived `uniqueId` of a deletion vector (PROTOCOL.md, "Derived Fields"); with the data file's
 * path it identifies a logical file. Null when the file has no deletion vector.
 */
export function deletionVectorId(dv: DeletionVectorDescriptor | null | undefined): string | null {
  if (!dv) return null;
  const offset = dv.offset === undefined || dv.offset === null ? '' : `@${dv.offset}`;
  return `${dv.storageType}${dv.pathOrInlineDv}${offset}`;
}

/** The key of a logical file: (path, deletionVector.uniqueId). */
export function logicalFileKey(file: { path: string; deletionVector?: DeletionVectorDescriptor | null }): string {
  return `${file.path}\u0000${deletionVectorId(file.deletionVector) ?? ''}`;
}
