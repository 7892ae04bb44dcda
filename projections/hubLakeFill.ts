import type { LakeLayout } from '../lake/layout.js';
import type { LogHead } from '../lake/log/logHead.js';
import { partitionOf } from '../lake/log/logMeta.js';
import { StreamCursor } from '../lake/log/streamCursor.js';

/**
 * What a hub partition carried, read from the lake log instead: the events the forwarder hashed
 * onto that partition (their aggregate id onto its index among the hub's partitions, as
 * lake/stream/eventHubsForwarder.ts does). Used when the hub no longer holds events a job has not
 * applied (retention), and to open claim checks.
 */

/** A part of the lake's events of one hub partition, and the lake positions read through. */
export interface LakeChunk {
  /** Logged event lines, each stream's in lake order. */
  lines: string[];
  /** Per lake stream: every event of the hub partition up to here is in this or an earlier chunk. */
  watermarks: Record<string, number>;
  /** The last chunk: the watermarks are the head's. */
  final: boolean;
}

/**
 * The lake events of hub partition `hubIndex` (of `hubCount`) after `from` (per stream) up to the
 * head, in chunks of about `chunkSize` events. The last chunk (possibly empty) reaches the head.
 */
export async function* lakeEventsOfHubPartition(
  layout: LakeLayout, head: LogHead, from: Record<string, number>, hubIndex: number, hubCount: number, chunkSize: number,
): AsyncGenerator<LakeChunk> {
  const watermarks = { ...from };
  let pending: string[] = [];
  for (const stream of Object.keys(from)) {
    const streamHead = head.streams[stream];
    if (!streamHead) continue;
    const cursor = new StreamCursor(layout.streamDir(stream), from[stream]);
    for (;;) {
      const lines = await cursor.next(chunkSize, streamHead);
      if (lines.length === 0) break;
      for (const line of lines) if (partitionOf((JSON.parse(line) as { aggregateId: string }).aggregateId, hubCount) === hubIndex) pending.push(line);
      watermarks[stream] = cursor.nextSequence - 1;
      if (pending.length >= chunkSize) {
        yield { lines: pending, watermarks: { ...watermarks }, final: false };
        pending = [];
      }
    }
  }
  yield { lines: pending, watermarks, final: true };
}

/** The logged line of one lake event (to open a claim check); the head bounds what may be read. */
export async function lakeEventAt(layout: LakeLayout, head: LogHead, stream: string, sequence: number): Promise<string> {
  const streamHead = head.streams[stream];
  const [line] = streamHead ? await new StreamCursor(layout.streamDir(stream), sequence - 1).next(1, streamHead) : [];
  if (line === undefined) throw new Error(`claim check for lake event ${stream}/${sequence}: the lake log has no such committed event`);
  return line;
}
