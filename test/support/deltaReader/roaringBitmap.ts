/**
 * The bitmap of a Delta deletion vector (PROTOCOL.md, "Deletion Vector Format"): a little-endian
 * magic number 1681511377, then a 64-bit RoaringBitmap in the portable format of the
 * RoaringFormatSpec ("Extension for 64-bit implementations"): a u64 bucket count, then per bucket
 * its u32 key (the high 32 bits) and a standard 32-bit RoaringBitmap of the low 32 bits.
 * Returns the row indexes, ascending. Written from the two specifications only.
 */
export const DELETION_VECTOR_MAGIC = 1681511377;
/** Delta's older "native" RoaringBitmapArray layout, which PROTOCOL.md does not specify. */
const NATIVE_MAGIC = 1681511376;

const SERIAL_COOKIE_NO_RUNCONTAINER = 12346;
const SERIAL_COOKIE = 12347;
const NO_OFFSET_THRESHOLD = 4;
const ARRAY_MAX_CARDINALITY = 4096;
const BITSET_BYTES = 8192;

export function decodeDeletionVectorBitmap(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const cursor = new Cursor(view);
  const magic = cursor.u32();
  if (magic === NATIVE_MAGIC || view.getUint32(0, false) === NATIVE_MAGIC) {
    throw new Error(`deletion vector: the native RoaringBitmapArray format (magic ${NATIVE_MAGIC}) is not implemented; PROTOCOL.md specifies the portable one (${DELETION_VECTOR_MAGIC})`);
  }
  if (magic !== DELETION_VECTOR_MAGIC) throw new Error(`deletion vector: magic number ${magic}, expected ${DELETION_VECTOR_MAGIC}`);
  const buckets = cursor.u64();
  const rows: number[] = [];
  let previousKey = -1;
  for (let b = 0; b < buckets; b++) {
    const key = cursor.u32();
    // Delta requires the top bit of every key to be 0; we also need row indexes to fit a JS number.
    if (key >= 2 ** 21) throw new Error(`deletion vector: bucket key ${key} is beyond what a row index can be here`);
    if (key <= previousKey) throw new Error(`deletion vector: bucket keys are not ascending (${previousKey} then ${key})`);
    previousKey = key;
    for (const low of decodeRoaring32(cursor)) rows.push(key * 2 ** 32 + low);
  }
  if (cursor.offset !== bytes.byteLength) throw new Error(`deletion vector: ${bytes.byteLength - cursor.offset} byte(s) after the bitmap`);
  return rows;
}

/** One standard 32-bit RoaringBitmap read at the cursor, which is left just after it. */
export function decodeRoaring32(cursor: Cursor): number[] {
  const start = cursor.offset;
  const cookie = cursor.u32();
  let size: number;
  let isRun: (i: number) => boolean = () => false;
  let hasOffsets: boolean;
  if (cookie === SERIAL_COOKIE_NO_RUNCONTAINER) {
    size = cursor.u32();
    hasOffsets = true;
  } else if ((cookie & 0xffff) === SERIAL_COOKIE) {
    size = (cookie >>> 16) + 1;
    const runFlags = cursor.bytes(Math.ceil(size / 8));
    isRun = (i) => (runFlags[i >> 3] & (1 << (i & 7))) !== 0;
    hasOffsets = size >= NO_OFFSET_THRESHOLD;
  } else {
    throw new Error(`roaring bitmap: cookie ${cookie} at byte ${start} is neither ${SERIAL_COOKIE_NO_RUNCONTAINER} nor ${SERIAL_COOKIE}`);
  }
  const headers = Array.from({ length: size }, () => ({ key: cursor.u16(), cardinality: cursor.u16() + 1 }));
  const offsets = hasOffsets ? headers.map(() => cursor.u32()) : null;
  const values: number[] = [];
  headers.forEach((header, i) => {
    // The offset header, when present, must agree with where the containers actually are.
    if (offsets && start + offsets[i] !== cursor.offset) {
      throw new Error(`roaring bitmap: container ${i} is at byte ${cursor.offset - start}, the offset header says ${offsets[i]}`);
    }
    const high = header.key * 65536;
    const lows = isRun(i) ? runContainer(cursor) : header.cardinality <= ARRAY_MAX_CARDINALITY ? arrayContainer(cursor, header.cardinality) : bitsetContainer(cursor);
    if (lows.length !== header.cardinality) throw new Error(`roaring bitmap: container ${i} holds ${lows.length} values, its header says ${header.cardinality}`);
    for (const low of lows) values.push(high + low);
  });
  return values;
}

function arrayContainer(cursor: Cursor, cardinality: number): number[] {
  return Array.from({ length: cardinality }, () => cursor.u16());
}

function bitsetContainer(cursor: Cursor): number[] {
  const bits = cursor.bytes(BITSET_BYTES);
  const values: number[] = [];
  // 64-bit little-endian words: bit j of the stream is bit j%8 of byte j/8.
  for (let i = 0; i < BITSET_BYTES; i++) for (let bit = 0; bit < 8; bit++) if (bits[i] & (1 << bit)) values.push(i * 8 + bit);
  return values;
}

function runContainer(cursor: Cursor): number[] {
  const runs = cursor.u16();
  const values: number[] = [];
  for (let r = 0; r < runs; r++) {
    const first = cursor.u16();
    const lengthMinusOne = cursor.u16();
    for (let v = first; v <= first + lengthMinusOne; v++) values.push(v);
  }
  return values;
}

/** Little-endian reads that refuse to run past the end. */
export class Cursor {
  offset = 0;
  constructor(private readonly view: DataView) {}

  private take(n: number): number {
    if (this.offset + n > this.view.byteLength) throw new Error(`roaring bitmap: truncated (needs ${n} byte(s) at ${this.offset} of ${this.view.byteLength})`);
    const at = this.offset;
    this.offset += n;
    return at;
  }

  u16(): number {
    return this.view.getUint16(this.take(2), true);
  }

  u32(): number {
    return this.view.getUint32(this.take(4), true);
  }

  u64(): number {
    const value = this.view.getBigUint64(this.take(8), true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`roaring bitmap: count ${value} is too large`);
    return Number(value);
  }

  bytes(n: number): Uint8Array {
    const at = this.take(n);
    return new Uint8Array(this.view.buffer, this.view.byteOffset + at, n);
  }
}
