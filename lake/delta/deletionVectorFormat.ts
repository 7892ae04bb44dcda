import { crc32 } from 'node:zlib';
import { deserializeTreemap, serializeTreemap } from './roaringTreemap.js';

/**
 * The bytes of deletion vectors (PROTOCOL.md appendix "Deletion Vector Format"). Pure: bytes in,
 * row indexes out, and back.
 *
 * A serialized DV is the little-endian magic number 1681511377 followed by the portable 64-bit
 * RoaringBitmap of the deleted row indexes. A DV file is a version byte (1), then per DV its size
 * (big-endian u32), the serialized DV, and the CRC-32 of the serialized DV (big-endian). A
 * descriptor's `offset` points at the size field, its `sizeInBytes` is the serialized DV's size.
 */

export const DV_MAGIC = 1681511377;
export const DV_FILE_VERSION = 1;
const SIZE_BYTES = 4;
const CHECKSUM_BYTES = 4;

/** The serialized DV (magic number + bitmap) deleting `rows`, and how many distinct rows it deletes. */
export function serializeDeletionVector(rows: Iterable<number>): { bytes: Buffer; cardinality: number } {
  const magic = Buffer.alloc(4);
  magic.writeUInt32LE(DV_MAGIC);
  const { bytes, cardinality } = serializeTreemap(rows);
  return { bytes: Buffer.concat([magic, bytes]), cardinality };
}

/** The deleted row indexes, ascending, of a serialized DV; errors name `what` (a file, an inline DV). */
export function deserializeDeletionVector(bytes: Uint8Array, what: string): Float64Array {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (data.length < 4) throw new Error(`deletion vector ${what}: ${data.length} bytes, too short for the magic number`);
  const magic = data.readUInt32LE(0);
  if (magic !== DV_MAGIC) {
    throw new Error(`deletion vector ${what}: bad magic number ${magic} (expected ${DV_MAGIC}, the portable RoaringBitmap format)`);
  }
  return deserializeTreemap(data.subarray(4), `deletion vector ${what}`);
}

/** A DV file holding serialized DVs, and where each starts (the `offset` of its descriptor). */
export function deletionVectorFile(serializedDvs: Buffer[]): { bytes: Buffer; offsets: number[] } {
  const parts: Buffer[] = [Buffer.from([DV_FILE_VERSION])];
  const offsets: number[] = [];
  let position = 1;
  for (const dv of serializedDvs) {
    const size = Buffer.alloc(SIZE_BYTES);
    size.writeUInt32BE(dv.length);
    const checksum = Buffer.alloc(CHECKSUM_BYTES);
    checksum.writeUInt32BE(crc32(dv));
    parts.push(size, dv, checksum);
    offsets.push(position);
    position += SIZE_BYTES + dv.length + CHECKSUM_BYTES;
  }
  return { bytes: Buffer.concat(parts), offsets };
}

/** Bytes of a DV file a reader needs for the DV at `offset`: from the file's start to the end of its checksum. */
export function bytesThrough(offset: number, sizeInBytes: number): number {
  return offset + SIZE_BYTES + sizeInBytes + CHECKSUM_BYTES;
}

/**
 * The serialized DV at `offset` of a DV file's bytes (from the file's start), after checking the
 * file's version, the size the descriptor gives against the size in the file, and the checksum.
 */
export function serializedDvInFile(file: Buffer, offset: number, sizeInBytes: number, what: string): Buffer {
  const fail = (why: string) => new Error(`deletion vector file ${what}: ${why}`);
  if (file.length < 1) throw fail('is empty');
  if (file[0] !== DV_FILE_VERSION) throw fail(`format version ${file[0]}, eventlake reads version ${DV_FILE_VERSION}`);
  if (offset < 1 || bytesThrough(offset, sizeInBytes) > file.length) {
    throw fail(`a DV of ${sizeInBytes} bytes at offset ${offset} runs past its end (${file.length} bytes)`);
  }
  const stored = file.readUInt32BE(offset);
  if (stored !== sizeInBytes) throw fail(`the DV at offset ${offset} has ${stored} bytes, the log says ${sizeInBytes}`);
  const dv = file.subarray(offset + SIZE_BYTES, offset + SIZE_BYTES + sizeInBytes);
  const expected = file.readUInt32BE(offset + SIZE_BYTES + sizeInBytes);
  const actual = crc32(dv);
  if (actual !== expected) throw fail(`CRC-32 mismatch for the DV at offset ${offset} (stored ${expected}, computed ${actual}): the file is damaged`);
  return dv;
}
