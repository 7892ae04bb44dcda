import type { Protocol } from './actions.js';
import type { Snapshot } from './snapshot.js';

/**
 * Which protocol versions and table features eventlake implements, and the protocol and table
 * properties of a table with deletion vectors. Reading or writing a table with a feature we do not
 * implement would silently give wrong rows (column mapping, timestamp_ntz, ...) or lose state
 * (row tracking, domain metadata), so such tables are refused with the features named.
 */

export const DELETION_VECTORS = 'deletionVectors';

/** Reader features (reader version 3) eventlake reads correctly. */
export const SUPPORTED_READER_FEATURES: readonly string[] = [DELETION_VECTORS];

/**
 * Writer features (writer version 7) eventlake keeps intact when it commits or checkpoints: those
 * implied by writer versions 2 to 6 (which eventlake already wrote checkpoints for), whose state
 * lives in actions we carry whole, and deletion vectors. Not column mapping (it changes how files
 * are read), domain metadata, row tracking, v2 checkpoints, ...
 */
export const SUPPORTED_WRITER_FEATURES: readonly string[] = [
  'appendOnly',
  'invariants',
  'checkConstraints',
  'changeDataFeed',
  'generatedColumns',
  'identityColumns',
  DELETION_VECTORS,
];

/** The protocol of a table with deletion vectors: reader 3 / writer 7 with the `deletionVectors` feature. */
export const DELETION_VECTOR_PROTOCOL: Readonly<Protocol> = Object.freeze({
  minReaderVersion: 3,
  minWriterVersion: 7,
  readerFeatures: [DELETION_VECTORS],
  writerFeatures: [DELETION_VECTORS],
});

/** The metaData configuration that allows writers to write deletion vectors (PROTOCOL.md). */
export const DELETION_VECTOR_CONFIGURATION: Readonly<Record<string, string>> = Object.freeze({
  'delta.enableDeletionVectors': 'true',
});

/** True when writers may write new deletion vectors: the feature is supported and enabled in the metadata. */
export function deletionVectorsEnabled(snapshot: Pick<Snapshot, 'protocol' | 'metadata'>): boolean {
  const supported = snapshot.protocol?.minReaderVersion === 3 && (snapshot.protocol.readerFeatures ?? []).includes(DELETION_VECTORS);
  return supported && snapshot.metadata?.configuration['delta.enableDeletionVectors'] === 'true';
}

/** Reader features of `protocol` that eventlake does not implement (an unknown reader version counts as one). */
export function unsupportedReaderFeatures(protocol: Protocol): string[] {
  if (protocol.minReaderVersion <= 1) return [];
  // Reader version 2 is column mapping, without a feature list.
  if (protocol.minReaderVersion !== 3) return [`reader version ${protocol.minReaderVersion}`];
  return (protocol.readerFeatures ?? []).filter((feature) => !SUPPORTED_READER_FEATURES.includes(feature));
}

/** Writer features of `protocol` that eventlake would not keep intact when writing. */
export function unsupportedWriterFeatures(protocol: Protocol): string[] {
  // Versions up to 6 imply their features; column mapping (5) also needs reader version 2, refused above.
  if (protocol.minWriterVersion <= 6) return [];
  if (protocol.minWriterVersion !== 7) return [`writer version ${protocol.minWriterVersion}`];
  return (protocol.writerFeatures ?? []).filter((feature) => !SUPPORTED_WRITER_FEATURES.includes(feature));
}

/** Throws, naming the table and the features, unless eventlake reads this snapshot correctly. */
export function assertReadable(tableDir: string, snapshot: Snapshot): void {
  if (!snapshot.protocol || !snapshot.metadata) {
    throw new Error(`Delta table ${tableDir} has no protocol or metaData action at version ${snapshot.version}`);
  }
  const unsupported = unsupportedReaderFeatures(snapshot.protocol);
  if (unsupported.length > 0) {
    const features = snapshot.protocol.readerFeatures?.join(', ') ?? 'none listed';
    throw new Error(
      `Delta table ${tableDir} needs Delta reader version ${snapshot.protocol.minReaderVersion} (features: ${features}); ` +
        `eventlake reads reader version 1 tables, and reader version 3 tables with the features ${SUPPORTED_READER_FEATURES.join(', ')} ` +
        `only (unsupported: ${unsupported.join(', ')})`,
    );
  }
}

/** Throws, naming the table and the features, unless eventlake can write (commit, checkpoint) this table. */
export function assertWritable(tableDir: string, protocol: Protocol | undefined, what = 'write'): void {
  if (!protocol) return;
  const unsupported = [...unsupportedReaderFeatures(protocol), ...unsupportedWriterFeatures(protocol)];
  if (unsupported.length > 0) {
    throw new Error(
      `cannot ${what} Delta table ${tableDir}: it uses protocol ${protocol.minReaderVersion}/${protocol.minWriterVersion} ` +
        `with features eventlake does not implement (${[...new Set(unsupported)].join(', ')})`,
    );
  }
}
