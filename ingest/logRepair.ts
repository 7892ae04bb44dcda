import type { LakeLayout } from '../lake/layout.js';
import { acquireLock } from '../lake/lock.js';
import { readHeadState, replaceHead, type LogHead, type StreamHead } from '../lake/log/logHead.js';
import { COMMAND_STREAM, partitionOf, partitionStream, readLogMeta, type LogMeta } from '../lake/log/logMeta.js';
import { listSegmentFiles, segmentPath } from '../lake/log/segments.js';
import { logger } from '../lake/logger.js';
import { locate } from '../lake/storage/locations.js';
import type { CommandRecord, EventEnvelope } from './envelope.js';

/*
 * `eventlake log repair`: a new log/HEAD from the segments' own records, for a head that is
 * missing, empty, or damaged while records lie beyond it. Nothing is invented and nothing is
 * deleted here (the next ingest trims what lies past the new head, as after any crash):
 *
 * - each stream keeps its longest run of whole records from sequence 1: a line that parses, is a
 *   record of that stream and holds the sequence its place gives it;
 * - the streams are then cut where they agree. The ingester commits a group of commands as one:
 *   every touched segment is synced before the head, so a committed group is whole in every
 *   stream, and only the last, uncommitted group can be partial. Walking the command log, a
 *   completed command is kept only when all its events follow in its partition, in order; events
 *   after the last kept command's are dropped. A command logged without its events would be
 *   answered as done, events without their command would be decided again on a replay.
 *
 * What would be dropped besides a torn or unfinished tail (a damaged line with whole records after
 * it, records the old head had committed) is loss: refused unless the operator accepts it.
 */

export interface StreamRepair {
  /** Records kept (the new head's sequence). */
  kept: number;
  /** Whole records found after the kept ones: dropped, as the rest of an uncommitted group or past damage. */
  dropped: number;
  /** Why the stream's valid run ended before its last byte, if it did. */
  stoppedAt: { segment: string; offset: number; reason: string } | null;
}

export interface RepairPlan {
  head: LogHead;
  streams: Record<string, StreamRepair>;
  /** Committed or whole records the new head leaves out other than a torn or uncommitted tail; empty when none. */
  losses: string[];
}

export class RepairRefusedError extends Error {}

export interface RepairOptions {
  /** Plan only: write nothing. */
  dryRun?: boolean;
  /** Write the head even when it leaves out more than a torn or uncommitted tail. */
  acceptLoss?: boolean;
  /**
   * Readers of the log past the planned head (job checkpoints, the forwarder), in words: records
   * they read would be left out, which is loss too. Given by the CLI, which knows the readers.
   */
  readersAhead?: (head: LogHead) => Promise<string[]>;
}

/** Plans (and unless `dryRun`, writes) a new head; refuses losses unless `acceptLoss`. Holds the log writer's lock meanwhile. */
export async function repairLog(layout: LakeLayout, options: RepairOptions = {}): Promise<RepairPlan & { written: boolean }> {
  const meta = await readLogMeta(layout);
  if (!meta) throw new RepairRefusedError(`no lake log at ${layout.logDir} (no log/meta.json): nothing to repair`);
  const lock = await acquireLock(layout.lockFile('log-writer'), 'the lake log writer (log repair)');
  try {
    const plan = await planRepair(layout, meta);
    for (const reader of (await options.readersAhead?.(plan.head)) ?? []) plan.losses.push(`${reader} (read past the new head)`);
    if (plan.losses.length > 0 && !options.acceptLoss && !options.dryRun) {
      throw new RepairRefusedError(
        `repairing would lose records: ${plan.losses.join('; ')}. Restore the damaged segment from a backup, or accept the loss with --accept-loss ` +
          '(then rebuild the jobs that read past the new head, and check the forwarder\'s checkpoint)',
      );
    }
    if (options.dryRun) return { ...plan, written: false };
    await replaceHead(layout.headFile, plan.head);
    logger.warn({ head: layout.headFile, commit: plan.head.commit, streams: plan.streams }, 'log repair: wrote a new head from the segments');
    return { ...plan, written: true };
  } finally {
    await lock.release();
  }
}

async function planRepair(layout: LakeLayout, meta: LogMeta): Promise<RepairPlan> {
  const scans = new Map(meta.streams.map((stream) => [stream, new StreamScan(layout.streamDir(stream), stream)]));
  const cut = await consistentCut(scans.get(COMMAND_STREAM)!, meta, scans);
  const streams: Record<string, StreamRepair> = {};
  const heads: Record<string, StreamHead> = {};
  const losses: string[] = [];
  const { head: old } = await readHeadState(layout.headFile).catch(() => ({ head: null }));
  for (const [stream, scan] of scans) {
    const kept = cut.get(stream)!;
    await scan.finish();
    streams[stream] = { kept: kept.sequence, dropped: scan.valid - kept.sequence, stoppedAt: scan.stoppedAt };
    heads[stream] = kept;
    if (scan.wholeAfterStop > 0) losses.push(`${stream}: ${scan.wholeAfterStop} whole record(s) after damage at byte ${scan.stoppedAt!.offset} of ${scan.stoppedAt!.segment} (${scan.stoppedAt!.reason})`);
    const committed = old?.streams[stream]?.sequence ?? 0;
    if (kept.sequence < committed) losses.push(`${stream}: the old head committed sequence ${committed}, only ${kept.sequence} can be kept`);
  }
  const head: LogHead = { commit: (old?.commit ?? 0) + 1, committedAt: new Date().toISOString(), streams: heads };
  return { head, streams, losses };
}

/**
 * The command log's longest prefix whose completed commands have all their events, in order, in
 * their partitions; per stream, the head of that cut.
 */
async function consistentCut(commands: StreamScan, meta: LogMeta, scans: Map<string, StreamScan>): Promise<Map<string, StreamHead>> {
  const cut = new Map([...scans.keys()].map((stream) => [stream, scans.get(stream)!.position()]));
  for (let record = await commands.next(); record; record = await commands.next()) {
    const command = record as unknown as CommandRecord;
    const events = command.status === 'completed' ? command.eventIds : [];
    const stream = events.length > 0 ? partitionStream(partitionOf(command.aggregateId ?? '', meta.partitions)) : null;
    if (stream && !(await followsInOrder(scans.get(stream)!, command, events))) break;
    cut.set(COMMAND_STREAM, commands.position());
    if (stream) cut.set(stream, scans.get(stream)!.position());
  }
  return cut;
}

/** Whether the partition's next records are exactly the command's events; false when it ends first. */
async function followsInOrder(partition: StreamScan, command: CommandRecord, eventIds: string[]): Promise<boolean> {
  for (const eventId of eventIds) {
    const event = (await partition.next()) as unknown as EventEnvelope | null;
    if (!event) return false;
    if (event.eventId !== eventId || event.causationId !== command.commandId) {
      throw new RepairRefusedError(
        `the log's streams disagree: command ${command.commandId} (command log sequence ${command.sequence}) lists event ${eventId}, ` +
          `but ${partition.stream} holds ${event.eventId} of command ${event.causationId} at sequence ${event.sequence}; this is not a crash's torn tail: restore the log from a backup`,
      );
    }
  }
  return true;
}

const CHUNK = 4 * 1024 * 1024;
const NEWLINE = 0x0a;

/**
 * One stream's whole records from sequence 1, read forward on demand: each line must parse, be a
 * record of this stream and hold the sequence its place gives it. Stops at the first that is not.
 */
class StreamScan {
  /** Records read and found whole so far. */
  valid = 0;
  stoppedAt: StreamRepair['stoppedAt'] = null;
  /** Lines after the stop that still parse as records: what a cut there would lose. */
  wholeAfterStop = 0;
  private segments: { first: number; size: number }[] | null = null;
  private segmentIndex = 0;
  private offset = 0;
  private pending: string[] = [];
  private pendingOffsets: number[] = [];
  private pendingAt = 0;
  private lastEnd = { segment: 1, offset: 0, timestamp: null as string | null };
  private ended = false;

  constructor(
    private readonly dir: string,
    readonly stream: string,
  ) {}

  /** The head after the records returned so far. */
  position(): StreamHead {
    return { sequence: this.valid, segment: this.lastEnd.segment, offset: this.lastEnd.offset, lastTimestamp: this.lastEnd.timestamp };
  }

  /** The next whole record, or null at the end of the valid run. */
  async next(): Promise<Record<string, unknown> | null> {
    if (this.ended) return null;
    const line = await this.nextLine();
    if (!line) return this.end(null);
    const expected = this.valid + 1;
    if (line.start === 0 && line.segment !== expected) {
      return this.end({ offset: line.start, reason: `the segment begins at sequence ${line.segment}, ${expected} expected` }, line.segment);
    }
    const problem = this.problemOf(line.text, expected);
    if (typeof problem === 'string') return this.end({ offset: line.start, reason: problem }, line.segment);
    this.valid = expected;
    this.lastEnd = { segment: line.segment, offset: line.end, timestamp: (problem.timestamp ?? problem.received ?? null) as string | null };
    return problem;
  }

  /** Reads the rest of the stream, counting whole records after a stop (for the loss report). */
  async finish(): Promise<void> {
    while (await this.next());
    if (!this.stoppedAt) return;
    for (let line = await this.nextLine(); line; line = await this.nextLine()) {
      if (line.text === null) continue;
      try {
        const record = JSON.parse(line.text) as { sequence?: unknown };
        if (typeof record.sequence === 'number') this.wholeAfterStop += 1;
      } catch {
        // not a record: more of the damage
      }
    }
  }

  private end(stop: { offset: number; reason: string } | null, segment?: number): null {
    this.ended = true;
    if (stop) this.stoppedAt = { segment: segmentPath(this.dir, segment!), ...stop };
    return null;
  }

  /** A parsed record of this stream holding `expected`, or why the line is not one. */
  private problemOf(text: string | null, expected: number): string | Record<string, unknown> {
    if (text === null) return 'an unfinished last line (torn write)';
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(text) as Record<string, unknown>;
    } catch (error) {
      return `not valid JSON (${(error as Error).message})`;
    }
    if (record === null || typeof record !== 'object') return 'not a record';
    if (record.sequence !== expected) return `holds sequence ${String(record.sequence)}, ${expected} expected`;
    const ofThisStream = this.stream === COMMAND_STREAM ? typeof record.commandId === 'string' : typeof record.eventId === 'string' && `p${String(record.partition)}` === this.stream;
    return ofThisStream ? record : `not a record of stream ${this.stream}`;
  }

  /** The next line (text null: bytes without a line end at the very end), with where it lies. */
  private async nextLine(): Promise<{ text: string | null; segment: number; start: number; end: number } | null> {
    this.segments ??= await listSegmentFiles(this.dir);
    for (;;) {
      const segment = this.segments[this.segmentIndex];
      if (!segment) return null;
      if (this.pendingAt < this.pending.length) {
        const start = this.pendingOffsets[this.pendingAt];
        const text = this.pending[this.pendingAt++];
        return { text, segment: segment.first, start, end: start + Buffer.byteLength(text) + 1 };
      }
      if (this.offset >= segment.size) {
        this.segmentIndex += 1;
        this.offset = 0;
        continue;
      }
      const torn = await this.readLines(segment);
      if (torn !== null) return { text: null, segment: segment.first, start: torn, end: segment.size };
    }
  }

  /** Fills `pending` from the segment; returns the offset of an unterminated last line, if that is all that is left. */
  private async readLines(segment: { first: number; size: number }): Promise<number | null> {
    const { storage, path } = locate(segmentPath(this.dir, segment.first));
    let length = Math.min(CHUNK, segment.size - this.offset);
    let chunk = await storage.read(path, { offset: this.offset, length });
    while (chunk.lastIndexOf(NEWLINE) === -1 && this.offset + length < segment.size) {
      length = Math.min(length * 2, segment.size - this.offset); // a record longer than a chunk
      chunk = await storage.read(path, { offset: this.offset, length });
    }
    const lastNewline = chunk.lastIndexOf(NEWLINE);
    if (lastNewline === -1) {
      const start = this.offset;
      this.offset = segment.size;
      return start;
    }
    this.pending = [];
    this.pendingOffsets = [];
    this.pendingAt = 0;
    let start = 0;
    for (let at = chunk.indexOf(NEWLINE); at !== -1 && at <= lastNewline; at = chunk.indexOf(NEWLINE, start)) {
      this.pending.push(chunk.toString('utf8', start, at));
      this.pendingOffsets.push(this.offset + start);
      start = at + 1;
    }
    this.offset += start;
    return null;
  }
}
