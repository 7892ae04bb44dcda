import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * A stream is a folder of NDJSON segment files, each named by the sequence of its first record
 * (zero-padded so that name order is sequence order). One JSON record per line; a record's line
 * index within its segment is `sequence - firstSequence`, so no separate index is needed.
 */
const SEGMENT_SUFFIX = '.ndjson';

export function segmentName(firstSequence: number): string {
  return `${String(firstSequence).padStart(20, '0')}${SEGMENT_SUFFIX}`;
}

export function segmentPath(streamDir: string, firstSequence: number): string {
  return path.join(streamDir, segmentName(firstSequence));
}

/** First sequences of the stream's segments, ascending. */
export async function listSegments(streamDir: string): Promise<number[]> {
  let names: string[];
  try {
    names = await fs.readdir(streamDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return names
    .filter((n) => /^\d{20}\.ndjson$/.test(n))
    .map((n) => Number(n.slice(0, 20)))
    .sort((a, b) => a - b);
}

/** The segment holding `sequence`: the last one starting at or before it. */
export function segmentFor(segments: number[], sequence: number): number | undefined {
  let found: number | undefined;
  for (const first of segments) {
    if (first > sequence) break;
    found = first;
  }
  return found;
}

/** fsync a directory so that a file created or removed in it survives a power cut. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
