import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';

const DV_STRUCT = 'STRUCT(storageType VARCHAR, pathOrInlineDv VARCHAR, "offset" INTEGER, sizeInBytes INTEGER, cardinality BIGINT)';

/**
 * Hand-made Delta tables for the test reader's own tests: JSON commits written here, data files
 * and checkpoints written by DuckDB (any Parquet writer would do; the reader reads them with
 * hyparquet), and deletion vectors encoded byte by byte from PROTOCOL.md and the RoaringFormatSpec.
 */
export class ScratchTables {
  private readonly dirs: string[] = [];
  private constructor(private readonly connection: DuckDBConnection) {}

  static async open(): Promise<ScratchTables> {
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    await connection.run("SET TimeZone = 'UTC'");
    return new ScratchTables(connection);
  }

  table(): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'spec-reader-'));
    mkdirSync(path.join(dir, '_delta_log'));
    this.dirs.push(dir);
    return dir;
  }

  close(): void {
    for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true });
    this.connection.closeSync();
  }

  /** Writes the rows of `select` as a Parquet file. */
  async parquet(file: string, select: string): Promise<void> {
    await this.connection.run(`COPY (${select}) TO '${file.replace(/'/g, "''")}' (FORMAT parquet)`);
  }

  /** A checkpoint part: one row per action, each action in its own struct column. */
  async checkpoint(file: string, actions: object[]): Promise<void> {
    const json = `${file}.ndjson`;
    writeFileSync(json, actions.map((a) => JSON.stringify(a)).join('\n'));
    const columns = {
      protocol: 'STRUCT(minReaderVersion INTEGER, minWriterVersion INTEGER, readerFeatures VARCHAR[], writerFeatures VARCHAR[])',
      metaData: 'STRUCT(id VARCHAR, format STRUCT(provider VARCHAR, options MAP(VARCHAR, VARCHAR)), schemaString VARCHAR, partitionColumns VARCHAR[], configuration MAP(VARCHAR, VARCHAR), createdTime BIGINT)',
      txn: 'STRUCT(appId VARCHAR, version BIGINT, lastUpdated BIGINT)',
      add: `STRUCT(path VARCHAR, partitionValues MAP(VARCHAR, VARCHAR), size BIGINT, modificationTime BIGINT, dataChange BOOLEAN, stats VARCHAR, deletionVector ${DV_STRUCT})`,
      remove: `STRUCT(path VARCHAR, deletionTimestamp BIGINT, dataChange BOOLEAN, deletionVector ${DV_STRUCT})`,
    };
    const spec = Object.entries(columns).map(([name, type]) => `'${name}': '${type}'`).join(', ');
    await this.parquet(file, `SELECT * FROM read_json('${json}', format = 'newline_delimited', columns = {${spec}})`);
    rmSync(json);
  }
}

export function commit(table: string, version: number, actions: object[]): void {
  writeFileSync(path.join(table, '_delta_log', `${String(version).padStart(20, '0')}.json`), `${actions.map((a) => JSON.stringify(a)).join('\n')}\n`);
}

export function protocol(minReaderVersion = 1, minWriterVersion = 2, features?: string[]): object {
  return { protocol: { minReaderVersion, minWriterVersion, ...(features ? { readerFeatures: features, writerFeatures: features } : {}) } };
}

export function metaData(fields: [string, string][], partitionColumns: string[] = [], configuration: Record<string, string> = {}): object {
  const schemaString = JSON.stringify({ type: 'struct', fields: fields.map(([name, type]) => ({ name, type, nullable: true, metadata: {} })) });
  return { metaData: { id: 'scratch', format: { provider: 'parquet', options: {} }, schemaString, partitionColumns, configuration, createdTime: 0 } };
}

export function add(file: string, extra: object = {}): object {
  return { add: { path: file, partitionValues: {}, size: 1, modificationTime: 0, dataChange: true, ...extra } };
}

export function remove(file: string, extra: object = {}): object {
  return { remove: { path: file, deletionTimestamp: 0, dataChange: true, ...extra } };
}

/** A 32-bit RoaringBitmap container, as the RoaringFormatSpec lays them out. */
export type Container = { key: number; kind: 'array' | 'bitset'; values: number[] } | { key: number; kind: 'run'; runs: [number, number][] };

/**
 * A standard 32-bit RoaringBitmap: with a run container the SERIAL_COOKIE header (run flags, and
 * offsets only from 4 containers on), else SERIAL_COOKIE_NO_RUNCONTAINER (always offsets).
 */
export function roaring32(containers: Container[]): Buffer {
  const hasRun = containers.some((c) => c.kind === 'run');
  const header: number[] = [];
  const u16 = (v: number) => header.push(v & 0xff, v >> 8);
  const u32 = (v: number) => header.push(v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff);
  if (hasRun) {
    u32(12347 | ((containers.length - 1) << 16));
    const flags = new Array(Math.ceil(containers.length / 8)).fill(0);
    containers.forEach((c, i) => {
      if (c.kind === 'run') flags[i >> 3] |= 1 << (i & 7);
    });
    header.push(...flags);
  } else {
    u32(12346);
    u32(containers.length);
  }
  const bodies = containers.map(containerBytes);
  for (const c of containers) {
    u16(c.key);
    u16(cardinality(c) - 1);
  }
  if (!hasRun || containers.length >= 4) {
    let offset = header.length + 4 * containers.length;
    for (const body of bodies) {
      u32(offset);
      offset += body.length;
    }
  }
  return Buffer.concat([Buffer.from(header), ...bodies]);
}

function cardinality(c: Container): number {
  return c.kind === 'run' ? c.runs.reduce((sum, [, lengthMinusOne]) => sum + lengthMinusOne + 1, 0) : c.values.length;
}

function containerBytes(c: Container): Buffer {
  if (c.kind === 'run') {
    const bytes = Buffer.alloc(2 + 4 * c.runs.length);
    bytes.writeUInt16LE(c.runs.length, 0);
    c.runs.forEach(([start, lengthMinusOne], i) => {
      bytes.writeUInt16LE(start, 2 + 4 * i);
      bytes.writeUInt16LE(lengthMinusOne, 4 + 4 * i);
    });
    return bytes;
  }
  if (c.kind === 'bitset') {
    const bytes = Buffer.alloc(8192);
    for (const v of c.values) bytes[v >> 3] |= 1 << (v & 7);
    return bytes;
  }
  const bytes = Buffer.alloc(2 * c.values.length);
  c.values.forEach((v, i) => bytes.writeUInt16LE(v, 2 * i));
  return bytes;
}

/** A deletion vector's bitmap: the magic number, then the portable 64-bit format, one bucket per key. */
export function deletionVectorBitmap(buckets: { key: number; bitmap: Buffer }[]): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt32LE(1681511377, 0);
  head.writeBigUInt64LE(BigInt(buckets.length), 4);
  return Buffer.concat([head, ...buckets.flatMap(({ key, bitmap }) => [u32le(key), bitmap])]);
}

/** A deletion vector file: version byte 1, then per bitmap a big-endian size, the bitmap, its CRC-32. */
export function deletionVectorFile(bitmaps: Buffer[]): { bytes: Buffer; offsets: number[] } {
  const parts: Buffer[] = [Buffer.from([1])];
  const offsets: number[] = [];
  let at = 1;
  for (const bitmap of bitmaps) {
    offsets.push(at);
    const size = Buffer.alloc(4);
    size.writeUInt32BE(bitmap.length);
    const checksum = Buffer.alloc(4);
    checksum.writeUInt32BE(crc32(bitmap));
    parts.push(size, bitmap, checksum);
    at += 8 + bitmap.length;
  }
  return { bytes: Buffer.concat(parts), offsets };
}

function u32le(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
}

/** Z85 encoding (ZeroMQ RFC 32), to put a UUID or an inline bitmap into a descriptor. */
export function encodeZ85(bytes: Buffer): string {
  const alphabet = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';
  const padded = Buffer.concat([bytes, Buffer.alloc((4 - (bytes.length % 4)) % 4)]);
  let text = '';
  for (let i = 0; i < padded.length; i += 4) {
    let value = padded.readUInt32BE(i);
    const block: string[] = [];
    for (let d = 0; d < 5; d++) {
      block.unshift(alphabet[value % 85]);
      value = Math.floor(value / 85);
    }
    text += block.join('');
  }
  return text;
}
