import type { TableState } from './logReplay.js';

/**
 * What this reader implements of PROTOCOL.md's reader requirements: reader version 1, version 2
 * without column mapping in use, and version 3 whose reader features are all in
 * `READER_FEATURES`. Anything else is refused, never read half-right.
 */
export const READER_FEATURES = ['deletionVectors'] as const;

export function assertReadable(state: TableState, where: string): void {
  const { protocol, metaData } = state;
  if (!protocol) throw new Error(`${where}: version ${state.version} has no protocol action`);
  if (!metaData) throw new Error(`${where}: version ${state.version} has no metaData action`);
  const reader = protocol.minReaderVersion;
  if (reader > 3) throw new Error(`${where}: reader version ${reader} is not implemented by this test reader (1 to 3)`);
  if (reader === 3) {
    if (!Array.isArray(protocol.readerFeatures)) throw new Error(`${where}: reader version 3 without readerFeatures`);
    const unknown = protocol.readerFeatures.filter((f) => !(READER_FEATURES as readonly string[]).includes(f));
    if (unknown.length > 0) throw new Error(`${where}: reader feature(s) ${unknown.join(', ')} not implemented by this test reader (only ${READER_FEATURES.join(', ')})`);
  }
  const mapping = metaData.configuration?.['delta.columnMapping.mode'];
  if (mapping !== undefined && mapping !== 'none') throw new Error(`${where}: column mapping (mode ${mapping}) is not implemented by this test reader`);
  if (metaData.format.provider !== 'parquet') throw new Error(`${where}: data format ${metaData.format.provider} is not parquet`);
  const withDv = [...state.files.values()].find((add) => add.deletionVector);
  const dvSupported = reader === 3 && protocol.readerFeatures!.includes('deletionVectors');
  if (withDv && !dvSupported) {
    throw new Error(`${where}: ${withDv.path} has a deletion vector, but the protocol (reader ${reader}) does not list the deletionVectors feature`);
  }
}
