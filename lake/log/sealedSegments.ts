import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Duck, sqlString } from '../duckdb.js';
import type { LakeLayout } from '../layout.js';
import { joinLocation, locate } from '../storage/locations.js';
import { readHead } from './logHead.js';
import { partitionStreams, readLogMeta } from './logMeta.js';
import { StreamCursor } from './streamCursor.js';

/**
 * Sealed log: the committed events of each partition copied into Parquet
 * (`log/sealed/<stream>/<first>-<last>.parquet`), so that DuckDB replays them at columnar speed
 * instead of parsing NDJSON (the design's "old segments may be sealed into Parquet for fast
 * replay"). The NDJSON segments stay the system of record; a sealed file is a derived copy of a
 * committed range, written aside and renamed into place, so it is there whole or not at all. The
 * sealed ranges of a stream are contiguous from sequence 1.
 */

/** Columns of a sealed file: the envelope, `data` and `metadata` as JSON text. */
export const SEALED_COLUMNS: { name: string; type: string }[] = [
  { name: 'eventId', type: 'VARCHAR' },
  { name: 'eventType', type: 'VARCHAR' },
  { name: 'aggregateId', type: 'VARCHAR' },
  { name: 'aggregateType', type: 'VARCHAR' },
  { name: 'version', type: 'BIGINT' },
  { name: 'timestamp', type: 'TIMESTAMPTZ' },
  { name: 'correlationId', type: 'VARCHAR' },
  { name: 'causationId', type: 'VARCHAR' },
  { name: 'data', type: 'JSON' },
  { name: 'schemaVersion', type: 'INTEGER' },
  { name: 'metadata', type: 'JSON' },
  { name: 'partition', type: 'INTEGER' },
  { name: 'sequence', type: 'BIGINT' },
  { name: 'ingestedAt', type: 'TIMESTAMPTZ' },
];

export interface SealedRange {
  first: number;
  last: number;
  /** Location of the Parquet file. */
  location: string;
}

/** Events per sealed file: large enough for fast scans, small enough to convert in bounded memory. */
const EVENTS_PER_FILE = 500_000;
const NAME = /^(\d{20})-(\d{20})\.parquet$/;

export function sealedDir(layout: LakeLayout, stream: string): string {
  return joinLocation(layout.root, 'log', 'sealed', stream);
}

/** The contiguous sealed ranges of a stream from sequence 1 (a gap ends the list). */
export async function sealedRanges(layout: LakeLayout, stream: string): Promise<SealedRange[]> {
  const dir = sealedDir(layout, stream);
  const { storage, path: dirPath } = locate(dir);
  const ranges = (await storage.list(dirPath))
    .map((entry) => NAME.exec(entry.name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ first: Number(m[1]), last: Number(m[2]), location: joinLocation(dir, m[0]) }))
    .sort((a, b) => a.first - b.first);
  const contiguous: SealedRange[] = [];
  for (const range of ranges) {
    if (range.first !== (contiguous.at(-1)?.last ?? 0) + 1) break;
    contiguous.push(range);
  }
  return contiguous;
}

export interface SealResult {
  /** Per stream: events sealed by this call. */
  sealed: Record<string, number>;
}

/** Seals every event partition's committed events that are not sealed yet. */
export async function sealLog(layout: LakeLayout): Promise<SealResult> {
  const [meta, head] = await Promise.all([readLogMeta(layout), readHead(layout.headFile)]);
  const result: SealResult = { sealed: {} };
  if (!meta || !head) return result;
  const duck = await Duck.open();
  try {
    for (const stream of partitionStreams(meta.partitions)) {
      const streamHead = head.streams[stream];
      const from = (await sealedRanges(layout, stream)).at(-1)?.last ?? 0;
      if (!streamHead || streamHead.sequence <= from) continue;
      const cursor = new StreamCursor(layout.streamDir(stream), from);
      for (let lines = await cursor.next(EVENTS_PER_FILE, streamHead); lines.length > 0; lines = await cursor.next(EVENTS_PER_FILE, streamHead)) {
        const first = cursor.nextSequence - lines.length;
        await sealRange(duck, layout, stream, first, cursor.nextSequence - 1, lines);
        result.sealed[stream] = (result.sealed[stream] ?? 0) + lines.length;
      }
    }
  } finally {
    duck.close();
  }
  return result;
}

/** One range: lines to NDJSON, DuckDB to Parquet (sorted as logged), then into the lake atomically. */
async function sealRange(duck: Duck, layout: LakeLayout, stream: string, first: number, last: number, lines: string[]): Promise<void> {
  const base = path.join(os.tmpdir(), `eventlake-seal-${process.pid}-${randomUUID()}`);
  try {
    await fs.writeFile(`${base}.ndjson`, `${lines.join('\n')}\n`);
    const spec = SEALED_COLUMNS.map((c) => `${sqlString(c.name)}: ${sqlString(c.type)}`).join(', ');
    await duck.run(
      `COPY (SELECT * FROM read_json(${sqlString(`${base}.ndjson`)}, format = 'newline_delimited', columns = {${spec}}) ORDER BY sequence)
       TO ${sqlString(`${base}.parquet`)} (FORMAT parquet, COMPRESSION zstd)`,
    );
    const count = Number(await duck.scalar(`SELECT count(*) FROM read_parquet(${sqlString(`${base}.parquet`)})`));
    if (count !== lines.length) throw new Error(`sealing ${stream} ${first}-${last}: wrote ${count} of ${lines.length} events`);
    const name = `${String(first).padStart(20, '0')}-${String(last).padStart(20, '0')}.parquet`;
    const { storage, path: target } = locate(joinLocation(sealedDir(layout, stream), name));
    await storage.upload(`${base}.parquet`, target);
  } finally {
    await Promise.all([fs.rm(`${base}.ndjson`, { force: true }), fs.rm(`${base}.parquet`, { force: true })]);
  }
}
