import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isRemote, joinLocation, locate } from '../storage/locations.js';
import type { DeletionVectorDescriptor } from './actions.js';
import {
  deletionVectorFile,
  deserializeDeletionVector,
  serializeDeletionVector,
  serializedDvInFile,
} from './deletionVectorFormat.js';
import type { RowIndexes } from './roaringTreemap.js';
import { z85Decode, z85Encode } from './z85.js';

/**
 * Deletion vector descriptors: their identity in log replay, where their bytes are, reading the
 * row indexes they delete and writing new ones (storage type `u`, as Spark and Delta kernel do).
 */

const UUID_Z85_LENGTH = 20;

/** The file name of the DV with this UUID: `deletion_vector_<uuid>.bin`. */
export function deletionVectorFileName(uuid: string): string {
  return `deletion_vector_${uuid}.bin`;
}

/**
 * The location of the file holding a stored DV: for `u`, `<table>/<prefix>/deletion_vector_<uuid>.bin`
 * with the UUID decoded from the last 20 characters; for `p`, the absolute path (a URI like an add's
 * path). Undefined for inline DVs.
 */
export function deletionVectorLocation(tableDir: string, dv: DeletionVectorDescriptor): string | undefined {
  switch (dv.storageType) {
    case 'i':
      return undefined;
    case 'u': {
      const encoded = dv.pathOrInlineDv;
      if (encoded.length < UUID_Z85_LENGTH) {
        throw new Error(`deletion vector "${encoded}" of Delta table ${tableDir}: a 'u' path needs a 20-character Z85 UUID`);
      }
      const prefix = encoded.slice(0, encoded.length - UUID_Z85_LENGTH);
      const uuid = uuidText(z85Decode(encoded.slice(-UUID_Z85_LENGTH), `deletion vector UUID "${encoded}" of Delta table ${tableDir}`));
      return prefix ? joinLocation(tableDir, prefix, deletionVectorFileName(uuid)) : joinLocation(tableDir, deletionVectorFileName(uuid));
    }
    case 'p':
      return absoluteLocation(tableDir, dv.pathOrInlineDv);
    default:
      throw new Error(`deletion vector of Delta table ${tableDir} has storage type "${dv.storageType}"; the protocol knows u, i and p`);
  }
}

/** Reads each DV file once while many descriptors point into it (Spark writes many DVs per file). */
export type DeletionVectorFiles = Map<string, Promise<Buffer>>;

/**
 * The row indexes `dv` deletes, ascending. Checks the file's version, size, CRC-32 and magic
 * number, and that the count equals the descriptor's cardinality; errors name the DV file.
 */
export async function readDeletionVector(
  tableDir: string,
  dv: DeletionVectorDescriptor,
  files: DeletionVectorFiles = new Map(),
): Promise<Float64Array> {
  const location = deletionVectorLocation(tableDir, dv);
  let rows: Float64Array;
  if (location === undefined) {
    const what = `inline in the log of ${tableDir}`;
    const bytes = z85Decode(dv.pathOrInlineDv, `deletion vector ${what}`);
    // Z85 encodes whole 4-byte groups: the size in the descriptor drops the padding.
    if (bytes.length < dv.sizeInBytes) throw new Error(`deletion vector ${what}: ${bytes.length} bytes, the log says ${dv.sizeInBytes}`);
    rows = deserializeDeletionVector(bytes.subarray(0, dv.sizeInBytes), what);
  } else {
    let file = files.get(location);
    if (!file) {
      const { storage, path: filePath } = locate(location);
      file = storage.read(filePath);
      files.set(location, file);
    }
    const serialized = serializedDvInFile(await file, dv.offset ?? 0, dv.sizeInBytes, location);
    rows = deserializeDeletionVector(serialized, location);
  }
  if (rows.length !== dv.cardinality) {
    throw new Error(`deletion vector ${location ?? 'inline'} of Delta table ${tableDir} deletes ${rows.length} rows, the log says ${dv.cardinality}`);
  }
  return rows;
}

/** Options for writing DVs. */
export interface DeletionVectorWriteOptions {
  /** A folder (e.g. 2 random characters) under the table root for the DV file, to spread object-store load. */
  prefix?: string;
}

/**
 * Writes one DV file in the table folder holding a DV per row set (each non-empty), and returns
 * their descriptors (storage type `u`), in order. The file appears whole or not at all; until a
 * commit names it, it is an orphan that vacuum deletes after the retention.
 */
export async function writeDeletionVectors(
  tableDir: string,
  rowSets: RowIndexes[],
  options: DeletionVectorWriteOptions = {},
): Promise<DeletionVectorDescriptor[]> {
  if (rowSets.length === 0) return [];
  const prefix = options.prefix ?? '';
  if (!/^[A-Za-z0-9]*$/.test(prefix)) throw new Error(`deletion vector prefix "${prefix}" must be letters and digits`);
  const serialized = rowSets.map((rows, index) => {
    if (rows.length === 0) throw new Error(`deletion vector ${index} for Delta table ${tableDir} deletes no rows`);
    return serializeDeletionVector(rows);
  });
  const { bytes, offsets } = deletionVectorFile(serialized.map((dv) => dv.bytes));
  const uuid = randomUUID();
  const { storage, path: filePath } = locate(joinLocation(tableDir, ...(prefix ? [prefix] : []), deletionVectorFileName(uuid)));
  await storage.createIfAbsent(filePath, bytes);
  const encoded = prefix + z85Encode(uuidBytes(uuid));
  return serialized.map((dv, i) => ({
    storageType: 'u',
    pathOrInlineDv: encoded,
    offset: offsets[i],
    sizeInBytes: dv.bytes.length,
    cardinality: dv.cardinality,
  }));
}

/** An inline DV descriptor (storage type `i`) for `rows`: for tests and tiny DVs; eventlake writes `u`. */
export function inlineDeletionVector(rows: RowIndexes): DeletionVectorDescriptor {
  const { bytes, cardinality } = serializeDeletionVector(rows);
  return { storageType: 'i', pathOrInlineDv: z85Encode(bytes), sizeInBytes: bytes.length, cardinality };
}

function uuidText(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function uuidBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replaceAll('-', ''), 'hex');
}

// A `p` path has the form of an add's path: a URI. file: URIs are local paths; other URLs must
// belong to a registered storage (locate says so otherwise); a bare path is taken as it is.
function absoluteLocation(tableDir: string, uri: string): string {
  if (uri.toLowerCase().startsWith('file:')) return fileURLToPath(uri);
  if (isRemote(uri)) return uri;
  const decoded = decodeURIComponent(uri);
  if (!path.isAbsolute(decoded)) throw new Error(`deletion vector path "${uri}" of Delta table ${tableDir} is not absolute, as storage type p requires`);
  return decoded;
}
