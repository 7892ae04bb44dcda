import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import type { DeletionVectorDescriptor } from './actions.js';
import { decodeDeletionVectorBitmap } from './roaringBitmap.js';
import { resolveTablePath } from './tablePath.js';
import { decodeZ85, z85Uuid } from './z85.js';

/**
 * The rows a deletion vector removes from its data file (PROTOCOL.md, "Deletion Vectors"):
 * inline (`i`, Z85 bytes in the log), in a file named by a UUID under the table (`u`, with an
 * optional random prefix folder), or in a file at an absolute path (`p`). Files use the
 * "Deletion Vector File Storage Format": a version byte 1, then per vector a big-endian u32 size,
 * the bitmap and a big-endian CRC-32 of the bitmap. Returns the row indexes, ascending.
 */
export async function loadDeletionVector(tableDir: string, dv: DeletionVectorDescriptor): Promise<number[]> {
  const bitmap = dv.storageType === 'i' ? inlineBitmap(dv) : await storedBitmap(deletionVectorFile(tableDir, dv), dv);
  const rows = decodeDeletionVectorBitmap(bitmap);
  if (rows.length !== Number(dv.cardinality)) {
    throw new Error(`deletion vector ${describe(dv)}: holds ${rows.length} row(s), its descriptor says cardinality ${dv.cardinality}`);
  }
  return rows;
}

/** Where a `u` or `p` deletion vector is stored ("Derived Fields", absolutePath). */
export function deletionVectorFile(tableDir: string, dv: DeletionVectorDescriptor): string {
  if (dv.storageType === 'p') return resolveTablePath(tableDir, dv.pathOrInlineDv);
  if (dv.storageType !== 'u') throw new Error(`deletion vector ${describe(dv)}: storage type "${dv.storageType}" is none of u, i, p`);
  const encoded = dv.pathOrInlineDv;
  if (encoded.length < 20) throw new Error(`deletion vector ${describe(dv)}: a u path needs a 20-character Z85 UUID`);
  const prefix = encoded.slice(0, encoded.length - 20);
  return path.join(tableDir, prefix, `deletion_vector_${z85Uuid(encoded.slice(-20))}.bin`);
}

function inlineBitmap(dv: DeletionVectorDescriptor): Uint8Array {
  if (dv.offset !== undefined && dv.offset !== null) throw new Error(`deletion vector ${describe(dv)}: an inline vector has no offset`);
  // Z85 works in 4-byte blocks, so the encoded text may carry padding after sizeInBytes.
  const bytes = decodeZ85(dv.pathOrInlineDv);
  if (bytes.length < dv.sizeInBytes) throw new Error(`deletion vector ${describe(dv)}: ${bytes.length} byte(s) inline, sizeInBytes says ${dv.sizeInBytes}`);
  return bytes.subarray(0, dv.sizeInBytes);
}

async function storedBitmap(file: string, dv: DeletionVectorDescriptor): Promise<Uint8Array> {
  const bytes = await readFile(file).catch((error: Error) => {
    throw new Error(`deletion vector ${describe(dv)}: cannot read ${file}: ${error.message}`);
  });
  if (bytes[0] !== 1) throw new Error(`deletion vector file ${file}: format version ${bytes[0]}, only 1 is known`);
  const offset = dv.offset ?? 0;
  if (offset < 1 || offset + 4 > bytes.length) throw new Error(`deletion vector ${describe(dv)}: offset ${offset} is outside ${file} (${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = view.getUint32(offset, false);
  if (size !== dv.sizeInBytes) throw new Error(`deletion vector ${describe(dv)}: ${file} stores ${size} byte(s) at offset ${offset}, sizeInBytes says ${dv.sizeInBytes}`);
  if (offset + 4 + size + 4 > bytes.length) throw new Error(`deletion vector ${describe(dv)}: ${file} is truncated`);
  const bitmap = bytes.subarray(offset + 4, offset + 4 + size);
  const checksum = view.getUint32(offset + 4 + size, false);
  if (crc32(bitmap) !== checksum) throw new Error(`deletion vector ${describe(dv)}: CRC-32 of the bitmap in ${file} does not match its checksum`);
  return bitmap;
}

function describe(dv: DeletionVectorDescriptor): string {
  return `${dv.storageType}:${dv.pathOrInlineDv}${dv.offset === undefined || dv.offset === null ? '' : `@${dv.offset}`}`;
}
