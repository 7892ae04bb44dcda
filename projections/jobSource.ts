import type { LogHead } from '../lake/log/logHead.js';
import { COMMAND_STREAM, partitionStreams } from '../lake/log/logMeta.js';
import { parseLogLine, type LineSpan } from '../lake/log/logDamage.js';
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
  /** The same records, parsed once for all the jobs of a pass. */
  records: BatchRecords;
  advanced: Map<string, Position>;
}

/** Where each stream's run of a batch's lines was read from, so a damaged one can be named. */
interface StreamPart {
  stream: string;
  /** Index in the batch of the stream's first line. */
  start: number;
  spans: LineSpan[];
}

/**
 * The next batch: up to `perStream` records from each stream. A key's records all live in one
 * stream (partitioned by aggregate id), so per-stream order is all a projection needs.
 */
export async function readBatch(streams: string[], cursors: Map<string, StreamCursor>, perStream: number, head: LogHead): Promise<Batch> {
  const lines: string[] = [];
  const parts: StreamPart[] = [];
  const batch: Batch = { lines, records: new BatchRecords(lines, (i) => parseBatchLine(parts, lines, i)), advanced: new Map() };
  for (const stream of streams) {
    const cursor = cursors.get(stream)!;
    const read = await cursor.next(perStream, head.streams[stream]);
    if (read.length === 0) continue;
    parts.push({ stream, start: lines.length, spans: cursor.spans });
    for (const line of read) lines.push(line);
    batch.advanced.set(stream, { sequence: cursor.nextSequence - 1, timestamp: businessTime(batch.records.parse(lines.length - 1)) });
  }
  return batch;
}

/** Parses line `i` of a batch; a damaged one is refused naming its stream, segment and offset. */
function parseBatchLine(parts: StreamPart[], lines: string[], i: number): unknown {
  try {
    return JSON.parse(lines[i]);
  } catch {
    let part = parts[0];
    for (const p of parts) if (p.start <= i) part = p;
    const own = lines.slice(part.start, i + 1);
    return parseLogLine(part.stream, part.spans, own, own.length - 1);
  }
}

/** Business time of a log record: `timestamp` of an event, `received` of a command record. */
function businessTime(record: unknown): string | null {
  const { timestamp, received } = record as { timestamp?: string; received?: string | null };
  return timestamp ?? received ?? null;
}

const EVENT_TYPE = '"eventType":"';

/**
 * Only the lines whose event type is wanted, read without parsing: the writer serializes
 * `eventType` right after `eventId`, so the first `"eventType":"` in a line is the envelope's.
 */
export function linesOfEventTypes(lines: string[], eventTypes: string[] | undefined): string[] {
  if (!eventTypes) return lines;
  const wanted = new Set(eventTypes);
  return lines.filter((line) => isWanted(wanted, eventTypeOf(line)));
}

const isWanted = (wanted: Set<string>, type: string | undefined) => type !== undefined && wanted.has(type);

function eventTypeOf(line: string): string | undefined {
  const at = line.indexOf(EVENT_TYPE);
  if (at < 0) return undefined;
  const start = at + EVENT_TYPE.length;
  return line.slice(start, line.indexOf('"', start));
}

/** Some of a batch's records, in batch order: the raw lines and the same records parsed. */
export interface RecordSelection {
  lines: string[];
  /** Parsed records, shared with the other jobs of the pass: projections must not mutate them. */
  records(): unknown[];
  /**
   * Calls `fn` on each record in turn (as `records()` would give them); a batch read by one job
   * alone parses each as it goes and keeps none (BatchRecords.readAlone).
   */
  each?(fn: (record: unknown, index: number) => void): void;
}

/** A job that takes a batch's records one at a time (BatchRecords.feed). */
export interface RecordTaker {
  /** The event types it reads (every record when absent). */
  eventTypes?: string[];
  take(record: unknown, line: string): void;
}

const NOT_PARSED = Symbol('not parsed');

/**
 * A batch's records, each line scanned for its event type and parsed at most once however many
 * jobs of a pass read it: parsing per job was a sixth of a rebuild's CPU (profile of issue 7).
 */
export class BatchRecords {
  private parsed: unknown[] | undefined;
  private types: (string | undefined)[] | undefined;
  private keep = true;

  /** `parseLine` says where a line that does not parse lies in the log (JSON.parse by default). */
  constructor(
    private readonly lines: string[],
    private readonly parseLine: (i: number) => unknown = (i) => JSON.parse(lines[i]),
  ) {}

  /** Line `i` parsed now, not kept (the batch's last line, read for its business time). */
  parse(i: number): unknown {
    return this.parsed?.[i] ?? this.parseLine(i);
  }

  /** The records of these event types (every record when none are given). */
  select(eventTypes: string[] | undefined): RecordSelection {
    const indices = eventTypes ? this.indicesOf(new Set(eventTypes)) : this.lines.map((_, i) => i);
    return {
      lines: indices.map((i) => this.lines[i]),
      records: () => indices.map((i) => this.record(i)),
      each: (fn) => indices.forEach((i, n) => fn(this.record(i), n)),
    };
  }

  /**
   * Only one job reads this batch (command_status alone reads the command log): nothing is
   * shared, so a record is parsed when it is asked for and not kept. A job that takes its records
   * one at a time (`each`) then holds one record, not the batch's: parsed records that outlive a
   * young-generation collection are copied and promoted, and holding 25,000 of them made V8's
   * collection the largest cost of reading command records (measured: ~6 against ~13 us a record
   * parsed, turned into rows and serialized).
   */
  readAlone(): void {
    this.keep = false;
  }

  /** Bytes of the lines of these event types (every line when none are given). */
  selectedBytes(eventTypes: string[] | undefined): number {
    if (!eventTypes) return this.lines.reduce((sum, line) => sum + line.length, 0);
    return this.indicesOf(new Set(eventTypes)).reduce((sum, i) => sum + this.lines[i].length, 0);
  }

  /**
   * Hands every record, in batch order, to each taker that reads its event type: a line is parsed
   * once, given to all of them, and let go before the next is parsed, so a batch's records die in
   * the young generation instead of living, all of them, until every job has taken the batch
   * (selected whole, 25,000 records were copied by each scavenge and promoted, and the old
   * generation's collections then walked them). A taker that throws (its projection halting on a
   * record, or a line that does not parse) is handed nothing more; returns each taker's error.
   */
  feed(takers: (RecordTaker | null)[]): unknown[] {
    const errors: unknown[] = takers.map(() => undefined);
    const failed = takers.map((taker) => taker === null);
    const wanted = takers.map((taker) => (taker?.eventTypes ? new Set(taker.eventTypes) : undefined));
    if (wanted.some(Boolean)) this.types ??= this.lines.map(eventTypeOf);
    for (let i = 0; i < this.lines.length; i++) {
      let record: unknown = NOT_PARSED;
      for (let t = 0; t < takers.length; t++) {
        const only = wanted[t];
        if (failed[t] || (only && !isWanted(only, this.types![i]))) continue;
        try {
          if (record === NOT_PARSED) record = this.parsed?.[i] ?? this.parseLine(i);
          takers[t]!.take(record, this.lines[i]);
        } catch (error) {
          failed[t] = true;
          errors[t] = error;
        }
      }
    }
    return errors;
  }

  private indicesOf(wanted: Set<string>): number[] {
    this.types ??= this.lines.map(eventTypeOf);
    const indices: number[] = [];
    this.types.forEach((type, i) => {
      if (isWanted(wanted, type)) indices.push(i);
    });
    return indices;
  }

  /** Forgets the parsed records (each job keeps those it selected), so they need not outlive the batch's DuckDB work. */
  release(): void {
    this.parsed = undefined;
  }

  private record(i: number): unknown {
    // Parsed on first use, so a line no job of the pass wants is never parsed.
    if (!this.keep) return this.parseLine(i);
    this.parsed ??= new Array<unknown>(this.lines.length);
    if (this.parsed[i] === undefined) this.parsed[i] = this.parseLine(i);
    return this.parsed[i];
  }
}
