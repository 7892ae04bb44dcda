import { RoaringBitmap32 } from 'roaring-wasm';

/**
 * Sets of 64-bit row indexes in the portable 64-bit RoaringBitmap format ("RoaringTreemap",
 * RoaringFormatSpec "Extension for 64-bit implementations"): a little-endian u64 count of
 * buckets, then per bucket, by ascending key, the u32 key (the high 32 bits of its values) and a
 * 32-bit RoaringBitmap in the portable format holding the low 32 bits.
 *
 * The 32-bit bitmaps (array, bitset and run containers) are CRoaring's, through roaring-wasm
 * (WASM shipped in the npm package; no native build); only the bucket framing is written here,
 * as no npm package implements the 64-bit portable format.
 */

const TWO_32 = 2 ** 32;
// Row indexes are JS numbers: exact up to 2^53, i.e. bucket keys below 2^21. Parquet files with
// more rows than that do not exist; a larger key means a damaged or foreign bitmap.
const MAX_KEY = 2 ** 21;

/** The portable 64-bit serialization of `rows` (non-negative integers; duplicates are fine). */
export function serializeTreemap(rows: Iterable<number>): Buffer {
  const buckets = bucketsOf(rows);
  const parts: Buffer[] = [u64le(buckets.size)];
  for (const key of [...buckets.keys()].sort((a, b) => a - b)) {
    const bitmap = new RoaringBitmap32(Uint32Array.from(buckets.get(key)!));
    try {
      // Runs where they are smaller: a DV over a contiguous range of rows stays a few bytes.
      bitmap.runOptimize();
      parts.push(u32le(key), Buffer.from(bitmap.serialize('portable')));
    } finally {
      bitmap.dispose();
    }
  }
  return Buffer.concat(parts);
}

/**
 * The row indexes in a portable 64-bit bitmap, ascending. Throws, naming `what`, when the bytes
 * are not one whole well-formed bitmap (truncated, trailing bytes, keys out of order).
 */
export function deserializeTreemap(bytes: Uint8Array, what: string): number[] {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (why: string) => new Error(`${what}: not a portable 64-bit RoaringBitmap (${why})`);
  if (data.length < 8) throw fail(`${data.length} bytes, less than the 8-byte bucket count`);
  const count = data.readBigUInt64LE(0);
  if (count > BigInt(Math.floor((data.length - 8) / 4))) throw fail(`${count} buckets cannot fit in ${data.length} bytes`);
  const rows: number[] = [];
  let position = 8;
  let previousKey = -1;
  for (let bucket = 0; bucket < Number(count); bucket++) {
    if (position + 4 > data.length) throw fail(`bucket ${bucket} is cut off`);
    const key = data.readUInt32LE(position);
    if (key <= previousKey) throw fail(`bucket key ${key} after ${previousKey}: keys must ascend`);
    if (key >= MAX_KEY) throw fail(`bucket key ${key} puts row indexes beyond 2^53`);
    previousKey = key;
    position += 4;
    position += appendBucket(data.subarray(position), key, rows, () => fail(`bucket ${bucket} (key ${key}) is not a portable 32-bit RoaringBitmap`));
  }
  if (position !== data.length) throw fail(`${data.length - position} bytes after the last bucket`);
  return rows;
}

/** Adds the values of the 32-bit bitmap at the start of `bytes` to `rows`; returns its serialized size. */
function appendBucket(bytes: Buffer, key: number, rows: number[], fail: () => Error): number {
  let bitmap: RoaringBitmap32;
  try {
    bitmap = RoaringBitmap32.deserialize('portable', bytes);
  } catch {
    throw fail();
  }
  try {
    // The portable format fixes each container's encoding, so the bitmap re-serializes to exactly
    // the bytes it was read from: that is where the next bucket starts.
    const size = bitmap.getSerializationSizeInBytes('portable');
    const high = key * TWO_32;
    for (const low of bitmap.toArray()) rows.push(high + low);
    return size;
  } finally {
    bitmap.dispose();
  }
}

function bucketsOf(rows: Iterable<number>): Map<number, number[]> {
  const buckets = new Map<number, number[]>();
  for (const row of rows) {
    if (!Number.isSafeInteger(row) || row < 0) throw new Error(`row index ${row} is not a non-negative integer below 2^53`);
    const key = Math.floor(row / TWO_32);
    let lows = buckets.get(key);
    if (!lows) buckets.set(key, (lows = []));
    lows.push(row - key * TWO_32);
  }
  return buckets;
}

function u64le(value: number): Buffer {
  const buffer = Buffer.alloc(8);
  buffer.writeBigUInt64LE(BigInt(value));
  return buffer;
}

function u32le(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32LE(value);
  return buffer;
}
