import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  DV_MAGIC,
  deletionVectorFile,
  deserializeDeletionVector,
  serializeDeletionVector,
  serializedDvInFile,
} from '../../lake/delta/deletionVectorFormat.js';
import { deletionVectorLocation, inlineDeletionVector } from '../../lake/delta/deletionVector.js';
import { dvUniqueId, logicalFileKey } from '../../lake/delta/logicalFile.js';
import { z85Decode, z85Encode } from '../../lake/delta/z85.js';

/**
 * The deletion vector codec, checked against byte layouts built here from the RoaringFormatSpec
 * and PROTOCOL.md (not by the code under test), and the examples the protocol gives.
 */

type Container = { key: number } & ({ kind: 'array'; values: number[] } | { kind: 'bitset'; values: number[] } | { kind: 'run'; runs: [number, number][] });

/** A 32-bit RoaringBitmap in the portable format, laid out by hand from the RoaringFormatSpec. */
function portableBitmap(containers: Container[]): Buffer {
  const hasRun = containers.some((c) => c.kind === 'run');
  const cardinality = (c: Container) => (c.kind === 'run' ? c.runs.reduce((sum, [, lengthMinus1]) => sum + lengthMinus1 + 1, 0) : c.values.length);
  const header: number[] = [];
  const bytes: Buffer[] = [];
  if (hasRun) {
    bytes.push(u32((12347 | ((containers.length - 1) << 16)) >>> 0));
    const runFlags = Buffer.alloc(Math.ceil(containers.length / 8));
    containers.forEach((c, i) => c.kind === 'run' && (runFlags[i >> 3] |= 1 << (i & 7)));
    bytes.push(runFlags);
  } else {
    bytes.push(u32(12346), u32(containers.length));
  }
  for (const c of containers) header.push(c.key, cardinality(c) - 1);
  bytes.push(u16s(header));
  const bodies = containers.map((c) => {
    if (c.kind === 'array') return u16s(c.values);
    if (c.kind === 'run') return u16s([c.runs.length, ...c.runs.flat()]);
    const bits = Buffer.alloc(8192);
    for (const v of c.values) bits[v >> 3] |= 1 << (v & 7);
    return bits;
  });
  if (!hasRun || containers.length >= 4) {
    let offset = bytes.reduce((sum, b) => sum + b.length, 0) + 4 * containers.length;
    const offsets = bodies.map((body) => ((offset += body.length), offset - body.length));
    bytes.push(Buffer.concat(offsets.map(u32)));
  }
  return Buffer.concat([...bytes, ...bodies]);
}

/** Magic number + the 64-bit portable layout: u64 bucket count, then key + 32-bit bitmap per bucket. */
function serializedDv(buckets: [number, Buffer][]): Buffer {
  const count = Buffer.alloc(8);
  count.writeBigUInt64LE(BigInt(buckets.length));
  return Buffer.concat([u32(DV_MAGIC), count, ...buckets.flatMap(([key, bitmap]) => [u32(key), bitmap])]);
}

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value);
  return b;
}

function u16s(values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 2);
  values.forEach((v, i) => b.writeUInt16LE(v, i * 2));
  return b;
}

const rowsOf = (bytes: Buffer) => Array.from(deserializeDeletionVector(bytes, 'test'));

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

describe('deletion vector bytes', () => {
  it('read array, bitset and run containers, in buckets above 2^32, as laid out by the RoaringFormatSpec', () => {
    const bitsetValues = range(0, 5000).map((i) => i * 13); // > 4096 values in one container: a bitset
    const bytes = serializedDv([
      [0, portableBitmap([{ key: 0, kind: 'array', values: [3, 4, 7] }, { key: 1, kind: 'bitset', values: bitsetValues.filter((v) => v < 65536) }])],
      [1, portableBitmap([{ key: 2, kind: 'run', runs: [[10, 9], [1000, 4999]] }, { key: 3, kind: 'array', values: [65535] }])],
    ]);
    const expectedBitset = bitsetValues.filter((v) => v < 65536).map((v) => 65536 + v);
    const high = 2 ** 32;
    const expected = [
      3, 4, 7, ...expectedBitset,
      ...[...range(10, 10), ...range(1000, 5000)].map((v) => high + 2 * 65536 + v),
      high + 3 * 65536 + 65535,
    ];
    expect(rowsOf(bytes)).toEqual(expected);
  });

  it('read run containers with the offset header (four or more containers)', () => {
    const containers: Container[] = range(0, 4).map((key) => ({ key, kind: 'run', runs: [[key, 2]] }));
    const rows = rowsOf(serializedDv([[0, portableBitmap(containers)]]));
    expect(rows).toEqual(range(0, 4).flatMap((key) => range(key * 65536 + key, 3)));
  });

  it.each([
    ['empty', []],
    ['one row', [0]],
    ['scattered rows', [1, 5, 99, 100_000, 3_000_000]],
    ['more than 4096 rows in one container', range(0, 10_000).map((i) => i * 6)],
    ['a long run across two containers', range(500, 70_000)],
    ['rows above 2^32 in several buckets', [7, 2 ** 32, 2 ** 32 + 5, 3 * 2 ** 32 + 65_536, 2 ** 40 + 1]],
  ])('round-trip: %s', (_, rows: number[]) => {
    const { bytes, cardinality } = serializeDeletionVector(rows);
    expect(bytes.readUInt32LE(0)).toBe(DV_MAGIC);
    expect(cardinality).toBe(rows.length);
    expect(rowsOf(bytes)).toEqual(rows);
  });

  it('an empty DV is the magic number and a zero bucket count', () => {
    expect(serializeDeletionVector([])).toEqual({ bytes: Buffer.concat([u32(DV_MAGIC), Buffer.alloc(8)]), cardinality: 0 });
  });

  it('rows come back sorted and distinct whatever order they were given in', () => {
    const { bytes, cardinality } = serializeDeletionVector([9, 2 ** 33, 1, 9, 4]);
    expect(rowsOf(bytes)).toEqual([1, 4, 9, 2 ** 33]);
    expect(cardinality).toBe(4);
  });

  it('a contiguous range is stored as a run: a few bytes, not a bitset', () => {
    expect(serializeDeletionVector(range(0, 60_000)).bytes.length).toBeLessThan(40);
  });

  it('refuses a bad magic number, naming the DV', () => {
    const { bytes } = serializeDeletionVector([1, 2]);
    bytes.writeUInt32LE(1681511376, 0); // the native format's magic
    expect(() => deserializeDeletionVector(bytes, '/t/deletion_vector_x.bin')).toThrow(
      /deletion vector \/t\/deletion_vector_x\.bin: bad magic number 1681511376 \(expected 1681511377/,
    );
  });

  it('refuses truncated bitmaps, trailing bytes, keys out of order and keys past 2^53', () => {
    const { bytes } = serializeDeletionVector([1, 2, 70_000]);
    expect(() => deserializeDeletionVector(bytes.subarray(0, bytes.length - 3), 'x')).toThrow(/not a portable 64-bit RoaringBitmap/);
    expect(() => deserializeDeletionVector(Buffer.concat([bytes, Buffer.from([0])]), 'x')).toThrow(/1 bytes after the last bucket/);
    const bitmap = portableBitmap([{ key: 0, kind: 'array', values: [1] }]);
    expect(() => deserializeDeletionVector(serializedDv([[5, bitmap], [2, bitmap]]), 'x')).toThrow(/keys must ascend/);
    expect(() => deserializeDeletionVector(serializedDv([[2 ** 21, bitmap]]), 'x')).toThrow(/beyond 2\^53/);
    expect(() => serializeDeletionVector([-1])).toThrow(/row index -1/);
  });
});

describe('deletion vector files', () => {
  it('frame each DV with its big-endian size and the big-endian CRC-32 of the DV bytes, after a version byte', () => {
    const a = serializeDeletionVector([1]).bytes;
    const b = serializeDeletionVector([2, 3]).bytes;
    const { bytes, offsets } = deletionVectorFile([a, b]);
    expect(bytes[0]).toBe(1);
    expect(offsets).toEqual([1, 1 + 4 + a.length + 4]);
    expect(bytes.readUInt32BE(1)).toBe(a.length);
    expect(bytes.readUInt32BE(1 + 4 + a.length)).toBe(crc32(a));
    expect(serializedDvInFile(bytes, offsets[1], b.length, 'f')).toEqual(b);
  });

  it('refuse a CRC mismatch, a size mismatch, another version and a DV past the end, naming the file', () => {
    const dv = serializeDeletionVector([1, 2, 3]).bytes;
    const { bytes } = deletionVectorFile([dv]);
    const damaged = Buffer.from(bytes);
    damaged[10] ^= 0xff;
    expect(() => serializedDvInFile(damaged, 1, dv.length, '/t/dv.bin')).toThrow(/deletion vector file \/t\/dv\.bin: CRC-32 mismatch/);
    expect(() => serializedDvInFile(bytes, 1, dv.length - 1, '/t/dv.bin')).toThrow(/has \d+ bytes, the log says/);
    expect(() => serializedDvInFile(bytes, 1, dv.length + 100, '/t/dv.bin')).toThrow(/runs past its end/);
    const version2 = Buffer.from(bytes);
    version2[0] = 2;
    expect(() => serializedDvInFile(version2, 1, dv.length, '/t/dv.bin')).toThrow(/format version 2/);
  });
});

describe('deletion vector descriptors', () => {
  it('Z85 encodes the RFC 32 test vector, and refuses text outside its alphabet', () => {
    const bytes = Buffer.from([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]);
    expect(z85Encode(bytes)).toBe('HelloWorld');
    expect(z85Decode('HelloWorld')).toEqual(bytes);
    expect(() => z85Decode('Hello World', 'dv')).toThrow(/dv is not Z85: its length 11/);
    expect(() => z85Decode('Hell World', 'dv')).toThrow(/character " " at 4/);
  });

  it('uniqueId is storageType + pathOrInlineDv, plus @offset when there is one (PROTOCOL.md)', () => {
    const stored = { storageType: 'u', pathOrInlineDv: 'vBn[lx{q8@P<9BNH/isA', offset: 1, sizeInBytes: 36, cardinality: 2 };
    expect(dvUniqueId(stored)).toBe('uvBn[lx{q8@P<9BNH/isA@1');
    const inline = { storageType: 'i', pathOrInlineDv: 'wi5b=000010000siXQKl0rr91000f55c8Xg0@@D72lkbi5=-{L', sizeInBytes: 40, cardinality: 6 };
    expect(dvUniqueId(inline)).toBe('iwi5b=000010000siXQKl0rr91000f55c8Xg0@@D72lkbi5=-{L');
    expect(logicalFileKey('a.parquet', undefined)).toBe('a.parquet');
    expect(logicalFileKey('a.parquet', stored)).not.toBe(logicalFileKey('a.parquet', { ...stored, offset: 2 }));
  });

  it('a u path is the table folder, the optional prefix and deletion_vector_<uuid>.bin (PROTOCOL.md example 1)', () => {
    const dv = { storageType: 'u', pathOrInlineDv: 'ab^-aqEH.-t@S}K{vb[*k^', offset: 4, sizeInBytes: 40, cardinality: 6 };
    expect(deletionVectorLocation('/mytable', dv)).toBe('/mytable/ab/deletion_vector_d2c639aa-8816-431a-aaf6-d3fe2512ff61.bin');
    const spark = { ...dv, pathOrInlineDv: 'vBn[lx{q8@P<9BNH/isA' };
    expect(deletionVectorLocation('/t', spark)).toBe('/t/deletion_vector_61d16c75-6994-46b7-a15b-8b538852e50e.bin');
    expect(deletionVectorLocation('/t', { ...dv, storageType: 'p', pathOrInlineDv: 'file:///data/dv.bin' })).toBe('/data/dv.bin');
    expect(deletionVectorLocation('/t', { ...dv, storageType: 'i' })).toBeUndefined();
    expect(() => deletionVectorLocation('/t', { ...dv, pathOrInlineDv: 'short' })).toThrow(/20-character Z85 UUID/);
    expect(() => deletionVectorLocation('/t', { ...dv, storageType: 'x' })).toThrow(/storage type "x"/);
  });

  it('an inline DV holds Z85 of the serialized DV, its size before the padding', () => {
    const dv = inlineDeletionVector([3, 4, 7, 11, 18, 29]);
    expect(dv).toMatchObject({ storageType: 'i', cardinality: 6 });
    expect(dv.offset).toBeUndefined();
    expect(z85Decode(dv.pathOrInlineDv).subarray(0, dv.sizeInBytes)).toEqual(serializeDeletionVector([3, 4, 7, 11, 18, 29]).bytes);
  });
});
