import { COMMAND_STREAM } from '../lake/log/logMeta.js';
import { ENCODE_BATCH_CHARS } from '../lake/log/logWriter.js';
import type { CommandMemo } from './commandIdStore.js';
import type { DecisionLog } from './commandDecider.js';
import type { RejectionCode } from './envelope.js';

/** NDJSON records encoded into one buffer of their own (its memory can be handed to another thread). */
export class NdjsonBytes {
  private buffer: Buffer;
  private used = 0;
  /** Lines not encoded yet (see ENCODE_BATCH_CHARS). */
  private pending = '';
  private lines = 0;

  constructor(expectedBytes = 64 * 1024) {
    this.buffer = Buffer.allocUnsafeSlow(expectedBytes);
  }

  add(line: string): void {
    this.pending += `${line}\n`;
    this.lines += 1;
    if (this.pending.length >= ENCODE_BATCH_CHARS) this.encodePending();
  }

  get count(): number {
    return this.lines;
  }

  /** End offset of each record, for cutting the bytes back into records (a JSON line holds no raw newline). */
  ends(): Int32Array {
    this.encodePending();
    const ends = new Int32Array(this.lines);
    let from = 0;
    for (let i = 0; i < ends.length; i++) from = ends[i] = this.buffer.indexOf(0x0a, from) + 1;
    return ends;
  }

  /** The records' bytes: a view of a buffer that owns its ArrayBuffer (transferable). */
  bytes(): Uint8Array {
    this.encodePending();
    return new Uint8Array(this.buffer.buffer, 0, this.used);
  }

  /** Lines added since the last encode go into the buffer together (see ENCODE_BATCH_CHARS). */
  private encodePending(): void {
    if (this.pending === '') return;
    const most = this.pending.length * 3; // UTF-8 needs at most 3 bytes per UTF-16 unit
    if (this.used + most > this.buffer.length) {
      const larger = Buffer.allocUnsafeSlow(Math.max(2 * this.buffer.length, this.used + most));
      this.buffer.copy(larger, 0, 0, this.used);
      this.buffer = larger;
    }
    this.used += this.buffer.write(this.pending, this.used, 'utf8');
    this.pending = '';
  }
}

/** One event stream's records of a batch, with the sequence of the first. */
export interface EncodedStream {
  stream: string;
  first: number;
  count: number;
  bytes: Uint8Array;
  lastTimestamp: string | null;
}

/**
 * A decision log that keeps a batch's records in buffers instead of staging them: a decider
 * thread's (its events, in the partitions it owns, and its commands' records, whose command log
 * sequences the ingester's thread assigned in arrival order), or the ingester thread's own for
 * the commands it refuses before routing. The writer stages them later, in arrival order.
 */
export class BufferedDecisionLog implements DecisionLog {
  private readonly nextEvent = new Map<string, number>();
  private events = new Map<string, { first: number; lines: NdjsonBytes; lastTimestamp: string | null }>();
  private records = new NdjsonBytes();
  private sequence = 0;
  ids: string[] = [];
  private sequences: number[] = [];
  private rejected: number[] = [];
  private codes: (RejectionCode | null)[] = [];
  private eventCounts: number[] = [];
  lastReceived: string | null = null;

  /** `nextSequences`: the next sequence of each event stream this log may write. */
  constructor(nextSequences: Record<string, number> = {}) {
    for (const [stream, next] of Object.entries(nextSequences)) this.nextEvent.set(stream, next);
  }

  /** The command about to be decided gets command log record `sequence`. */
  setCommandSequence(sequence: number): void {
    this.sequence = sequence;
  }

  commandSequence(): number {
    return this.sequence;
  }

  eventSequence(stream: string): number {
    const next = this.nextEvent.get(stream);
    if (next === undefined) throw new Error(`log stream ${stream} is not this decider's`);
    this.nextEvent.set(stream, next + 1);
    return next;
  }

  stage(stream: string, sequence: number, line: string, timestamp: string | null): void {
    if (stream === COMMAND_STREAM) {
      this.records.add(line);
      this.lastReceived = timestamp;
      return;
    }
    let staged = this.events.get(stream);
    if (!staged) this.events.set(stream, (staged = { first: sequence, lines: new NdjsonBytes(), lastTimestamp: null }));
    staged.lines.add(line);
    staged.lastTimestamp = timestamp;
  }

  recorded(commandId: string, memo: CommandMemo, events: number): void {
    this.ids.push(commandId);
    this.sequences.push(memo.sequence);
    this.rejected.push(memo.status === 'rejected' ? 1 : 0);
    if (memo.status === 'rejected') this.codes.push(memo.code);
    this.eventCounts.push(events);
  }

  /** Everything buffered since the last call, and a fresh start. */
  take(): DecidedRecords {
    const taken: DecidedRecords = {
      events: [...this.events].map(([stream, s]) => ({ stream, first: s.first, count: s.lines.count, bytes: s.lines.bytes(), lastTimestamp: s.lastTimestamp })),
      records: this.records.bytes(),
      recordEnds: this.records.ends(),
      ids: this.ids,
      sequences: Float64Array.from(this.sequences),
      rejected: Uint8Array.from(this.rejected),
      rejectedCodes: this.codes,
      eventCounts: Int32Array.from(this.eventCounts),
      lastReceived: this.lastReceived,
    };
    this.events = new Map();
    this.records = new NdjsonBytes();
    this.ids = [];
    this.sequences = [];
    this.rejected = [];
    this.codes = [];
    this.eventCounts = [];
    this.lastReceived = null;
    return taken;
  }
}

/** A batch's records as a decider made them, in its arrival order (sent between threads as is). */
export interface DecidedRecords {
  events: EncodedStream[];
  /** The command log records, one per decided command, newline-terminated. */
  records: Uint8Array;
  recordEnds: Int32Array;
  /**
   * Per record: the id it is recorded under, its command log sequence, whether it was rejected
   * and how many events it made; then the code of each rejected one, in order. Typed arrays, not
   * a memo object per command: they cross between threads as one copy each, not a clone per object.
   */
  ids: string[];
  sequences: Float64Array;
  rejected: Uint8Array;
  rejectedCodes: (RejectionCode | null)[];
  eventCounts: Int32Array;
  /** The last record's `received` (the command stream's timestamp if it is the group's last). */
  lastReceived: string | null;
}
