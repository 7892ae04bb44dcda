import { createRequire } from 'node:module';

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

// Loaded on first use: compiling the WASM takes ~100 ms, which no command should pay for a table
// without deletion vectors. The package is CommonJS and initializes synchronously under Node.
type RoaringWasm = typeof import('roaring-wasm');
let roaringWasm: RoaringWasm | undefined;
function roaring(): RoaringWasm {
  return (roaringWasm ??= createRequire(import.meta.url)('roaring-wasm') as RoaringWasm);
}

const TWO_32 = 2 ** 32;
// Row indexes are JS numbers: exact up to 2^53, i.e. bucket keys below 2^21. Parquet files with
// more rows than that do not exist; a larger key means a damaged or foreign bitmap.
const MAX_KEY = 2 ** 21;

/** Row indexes as eventlake passes them around: plain or typed arrays of integers. */
export type RowIndexes = Iterable<number> & ArrayLike<number>;

/**
 * The portable 64-bit serialization of `rows` (non-negative integers; duplicates are fine) and
 * how many distinct rows it holds.
 */
export function serializeTreemap(rows: Iterable<number>): { bytes: Buffer; cardinality: number } {
  const buckets = bucketsOf(rows);
  const parts: Buffer[] = [u64le(buckets.size)];
  let cardinality = 0;
  for (const key of [...buckets.keys()].sort((a, b) => a - b)) {
    const bitmap = new (roaring().RoaringBitmap32)(buckets.get(key)!);
    try {
      // Runs where they are smaller: a DV over a contiguous range of rows stays a few bytes.
      bitmap.runOptimize();
      parts.push(u32le(key), Buffer.from(bitmap.serialize('portable')));
      cardinality += bitmap.size;
    } finally {
      bitmap.dispose();
    }
  }
  return { bytes: Buffer.concat(parts), cardinality };
}

/**
 * The row indexes in a portable 64-bit bitmap, ascending (a Float64Array: exact integers up to
 * 2^53, filled natively from roaring's u32 arrays). Throws, naming `what`, when the bytes are not
 * one whole well-formed bitmap (truncated, trailing bytes, keys out of order).
 */
export function deserializeTreemap(bytes: Uint8Array, what: string): Float64Array {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (why: string) => new Error(`${what}: not a portable 64-bit RoaringBitmap (${why})`);
  if (data.length < 8) throw fail(`${data.length} bytes, less than the 8-byte bucket count`);
  const count = data.readBigUInt64LE(0);
  if (count > BigInt(Math.floor((data.length - 8) / 4))) throw fail(`${count} buckets cannot fit in ${data.length} bytes`);
  const buckets: { key: number; lows: Uint32Array }[] = [];
  let position = 8;
  let previousKey = -1;
  for (let bucket = 0; bucket < Number(count); bucket++) {
    if (position + 4 > data.length) throw fail(`bucket ${bucket} is cut off`);
    const key = data.readUInt32LE(position);
    if (key <= previousKey) throw fail(`bucket key ${key} after ${previousKey}: keys must ascend`);
    if (key >= MAX_KEY) throw fail(`bucket key ${key} puts row indexes beyond 2^53`);
    previousKey = key;
    position += 4;
    const { lows, size } = readBucket(data.subarray(position), () => fail(`bucket ${bucket} (key ${key}) is not a portable 32-bit RoaringBitmap`));
    buckets.push({ key, lows });
    position += size;
  }
  if (position !== data.length) throw fail(`${data.length - position} bytes after the last bucket`);
  return rowsOf(buckets);
}

function rowsOf(buckets: { key: number; lows: Uint32Array }[]): Float64Array {
  const rows = new Float64Array(buckets.reduce((sum, b) => sum + b.lows.length, 0));
  let position = 0;
  for (const { key, lows } of buckets) {
    rows.set(lows, position);
    if (key > 0) for (let i = position; i < position + lows.length; i++) rows[i] += key * TWO_32;
    position += lows.length;
  }
  return rows;
}

/** The values (low 32 bits) of the 32-bit bitmap at the start of `bytes`, and its serialized size. */
function readBucket(bytes: Buffer, fail: () => Error): { lows: Uint32Array; size: number } {
  let bitmap: InstanceType<RoaringWasm['RoaringBitmap32']>;
  try {
    bitmap = roaring().RoaringBitmap32.deserialize('portable', bytes);
  } catch {
    throw fail();
  }
  try {
    // The portable format fixes each container's encoding, so the bitmap re-serializes to exactly
    // the bytes it was read from: that is where the next bucket starts.
    // toUint32Array copies out of WASM memory in one go: ~10x faster than toArray for 1M rows.
    return { lows: bitmap.toUint32Array(), size: bitmap.getSerializationSizeInBytes('portable') };
  } finally {
    bitmap.dispose();
  }
}

/**
 * The low 32 bits of the rows per high 32 bits, as typed arrays (what roaring-wasm copies fastest).
 * Row indexes of real files are below 2^32: one bucket, converted natively in one go.
 */
function bucketsOf(rows: Iterable<number>): Map<number, Uint32Array> {
  const values = Float64Array.from(rows);
  let highest = 0;
  for (let i = 0; i < values.length; i++) {
    const row = values[i];
    if (!Number.isSafeInteger(row) || row < 0) throw new Error(`row index ${row} is not a non-negative integer below 2^53`);
    if (row > highest) highest = row;
  }
  if (values.length === 0) return new Map();
  if (highest < TWO_32) return new Map([[0, new Uint32Array(values)]]);
  const lows = new Map<number, number[]>();
  for (const row of values) {
    const key = Math.floor(row / TWO_32);
    let bucket = lows.get(key);
    if (!bucket) lows.set(key, (bucket = []));
    bucket.push(row - key * TWO_32);
  }
  return new Map([...lows].map(([key, low]) => [key, Uint32Array.from(low)]));
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
