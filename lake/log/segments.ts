import { joinLocation, locate } from '../storage/locations.js';

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
  return joinLocation(streamDir, segmentName(firstSequence));
}

/** First sequences of the stream's segments, ascending. */
export async function listSegments(streamDir: string): Promise<number[]> {
  const { storage, path } = locate(streamDir);
  const names = (await storage.list(path)).map((e) => e.name);
  return names
    .filter((n) => /^\d{20}\.ndjson$/.test(n))
    .map((n) => Number(n.slice(0, 20)))
    .sort((a, b) => a - b);
}

/** The stream's segment files with their sizes, ascending by first sequence. */
export async function listSegmentFiles(streamDir: string): Promise<{ first: number; size: number }[]> {
  const { storage, path } = locate(streamDir);
  return (await storage.list(path))
    .filter((e) => /^\d{20}\.ndjson$/.test(e.name))
    .map((e) => ({ first: Number(e.name.slice(0, 20)), size: e.size }))
    .sort((a, b) => a.first - b.first);
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
