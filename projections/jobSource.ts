import type { LogHead } from '../lake/log/logHead.js';
import { COMMAND_STREAM, partitionStreams } from '../lake/log/logMeta.js';
import type { StreamCursor } from '../lake/log/streamCursor.js';
import type { DomainRegistry } from '../domains/registry.js';
import type { JobConfig } from './jobsConfig.js';
import type { Projection } from './projection.js';

/** A configured job with its projection looked up, and how to lift old event shapes (if any upcasters). */
export type Job = JobConfig & { definition: Projection; upcast: DomainRegistry['upcast'] };

/** The checkpoint's identity: a new projection version starts a new checkpoint. */
export function checkpointAppId(job: Job, stream: string): string {
  return `${job.name}@${job.definition.version}/${stream}`;
}

/** The log streams a job reads: every event partition, or the command log. */
export function sourceStreams(job: Job, partitions: number): string[] {
  return job.definition.source === 'commands' ? [COMMAND_STREAM] : partitionStreams(partitions);
}

/** The last sequence and business time reached in a stream. */
export interface Position {
  sequence: number;
  timestamp: string | null;
}

export interface Batch {
  /** Raw JSON log records, stream after stream, each stream in sequence order. */
  lines: string[];
  advanced: Map<string, Position>;
}

/**
 * The next batch: up to `perStream` records from each stream. A key's records all live in one
 * stream (partitioned by aggregate id), so per-stream order is all a projection needs.
 */
export async function readBatch(streams: string[], cursors: Map<string, StreamCursor>, perStream: number, head: LogHead): Promise<Batch> {
  const batch: Batch = { lines: [], advanced: new Map() };
  for (const stream of streams) {
    const cursor = cursors.get(stream)!;
    const lines = await cursor.next(perStream, head.streams[stream]);
    if (lines.length === 0) continue;
    for (const line of lines) batch.lines.push(line);
    batch.advanced.set(stream, { sequence: cursor.nextSequence - 1, timestamp: businessTime(lines[lines.length - 1]) });
  }
  return batch;
}

/** Business time of a log record: `timestamp` of an event, `received` of a command record. */
function businessTime(line: string): string | null {
  const record = JSON.parse(line) as { timestamp?: string; received?: string | null };
  return record.timestamp ?? record.received ?? null;
}

const EVENT_TYPE = '"eventType":"';

/**
 * Only the lines whose event type is wanted, read without parsing: the writer serializes
 * `eventType` right after `eventId`, so the first `"eventType":"` in a line is the envelope's.
 */
export function linesOfEventTypes(lines: string[], eventTypes: string[] | undefined): string[] {
  if (!eventTypes) return lines;
  const wanted = new Set(eventTypes);
  return lines.filter((line) => {
    const at = line.indexOf(EVENT_TYPE);
    if (at < 0) return false;
    const start = at + EVENT_TYPE.length;
    return wanted.has(line.slice(start, line.indexOf('"', start)));
  });
}
