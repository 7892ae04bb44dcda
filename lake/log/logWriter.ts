import { failpoint } from '../failpoints.js';
import type { LakeLayout } from '../layout.js';
import type { LeaseTiming } from '../lakeLease.js';
import { acquireLock, type Lock } from '../lock.js';
import { emptyHead, openHeadWriter, type HeadWriter, type LogHead, type StreamHead } from './logHead.js';
import { headToRecover, recoverStream } from './logRecovery.js';
import { openLogMeta, type LogMeta } from './logMeta.js';
import { segmentPath } from './segments.js';
import type { Appender } from '../storage/lakeStorage.js';
import { locate } from '../storage/locations.js';

export interface LogWriterOptions {
  /** Partition count for a new lake (an existing lake keeps its own). */
  partitions?: number;
  /** Start a new segment once the current one would pass this size. */
  segmentBytes?: number;
  /**
   * Called with the committed head before anything beyond it is trimmed; throwing refuses the
   * open. The CLI and the service pass a check that no consumer (job checkpoint, forwarder) has
   * read past it: the log cannot know its readers, the layer that knows both can.
   */
  verifyHead?: (head: LogHead | null) => Promise<void>;
  /**
   * A commit whose head write this process saw fail (a short write on a full disk damages its
   * slot): a damaged slot beyond the valid one is then known to be that unacknowledged commit,
   * and is trimmed like any uncommitted tail instead of being refused. Passed by `recover()`.
   */
  unacknowledgedCommit?: number | null;
  /** The writer's lease on a remote lake (default 60 s, renewed every 20 s). */
  lease?: LeaseTiming;
}

/** A stream's first staging buffer (most HTTP commits are small); it doubles as a group needs. */
const FIRST_STAGING_BYTES = 64 * 1024;

/**
 * Staged lines are encoded this many UTF-16 units at a time, not one by one: a line built by
 * concatenation is a rope that one Buffer write per line flattens and encodes separately, which
 * cost 1-4 us per line (8% of ingest's CPU at 200k commands); appended to one string and written
 * together, the same lines cost a quarter of that (measured at 200k lines).
 */
export const ENCODE_BATCH_CHARS = 16 * 1024;

/**
 * A stream's staged records, UTF-8 encoded as they are staged, in one buffer per group commit.
 * Holding them as strings until the commit kept ~20,000 strings per group alive across
 * young-generation GCs, which copied and then promoted each of them: a tenth of ingest's time.
 * Chunks joined at commit time cost another 5% (Buffer.concat of the group, measured at 200k
 * commands); one buffer, grown by doubling and reused by later groups (`StagingBuffers`), is
 * appended as it is.
 */
class StagedStream {
  private used = 0;
  /** Lines not encoded yet (see ENCODE_BATCH_CHARS). */
  private pending = '';
  count = 0;
  lastSequence = 0;
  lastTimestamp: string | null = null;

  constructor(
    private buffer: Buffer,
    private readonly pool: StagingBuffers,
  ) {}

  add(line: string): void {
    this.pending += `${line}\n`;
    this.count += 1;
    if (this.pending.length >= ENCODE_BATCH_CHARS) this.encodePending();
  }

  /** Records already encoded elsewhere (a decider thread): newline-terminated NDJSON bytes. */
  addEncoded(bytes: Uint8Array, count: number): void {
    this.encodePending();
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.used);
    this.used += bytes.length;
    this.count += count;
  }

  private reserve(bytes: number): void {
    if (this.used + bytes <= this.buffer.length) return;
    const larger = this.pool.take(Math.max(2 * this.buffer.length, this.used + bytes));
    this.buffer.copy(larger, 0, 0, this.used);
    this.pool.give(this.buffer);
    this.buffer = larger;
  }

  /** Lines staged since the last encode go into the buffer, in order. */
  private encodePending(): void {
    if (this.pending === '') return;
    this.reserve(this.pending.length * 3); // UTF-8 needs at most 3 bytes per UTF-16 unit
    this.used += this.buffer.write(this.pending, this.used, 'utf8');
    this.pending = '';
  }

  /** Every staged record as NDJSON bytes, newline-terminated (a view of the staging buffer). */
  bytes(): Buffer {
    this.encodePending();
    return this.buffer.subarray(0, this.used);
  }

  /** Hands the buffer back once its bytes are written. */
  release(): void {
    this.pool.give(this.buffer);
  }
}

/**
 * Staging buffers kept between group commits, so a steady ingest allocates none: a group stages
 * while the previous one is written, so about two per stream are in use.
 */
class StagingBuffers {
  private readonly spare: Buffer[] = [];

  constructor(private readonly keep: number) {}

  take(atLeast: number): Buffer {
    const index = this.spare.findIndex((b) => b.length >= atLeast);
    if (index >= 0) return this.spare.splice(index, 1)[0];
    return Buffer.allocUnsafeSlow(Math.max(FIRST_STAGING_BYTES, atLeast));
  }

  give(buffer: Buffer): void {
    this.spare.push(buffer);
    // Keep the largest: a group's streams need about the same sizes next time.
    if (this.spare.length > this.keep) this.spare.sort((a, b) => b.length - a.length).pop();
  }
}

/**
 * The only writer of the lake log. Records are staged in memory with their sequence already
 * assigned, then `commit()` makes a whole group durable at once (group commit): append to every
 * touched stream, fdatasync them in parallel, then write the head, which is the commit point.
 * Readers never look past the head, so a crash before the head write leaves only an invisible
 * tail, which `open` trims.
 */
export class LogWriter {
  private readonly nextSequence = new Map<string, number>();
  private staged = new Map<string, StagedStream>();
  private readonly stagingBuffers: StagingBuffers;
  private readonly appenders = new Map<string, { segment: number; appender: Appender }>();
  private failure: Error | null = null;
  private headWriteFailed: number | null = null;

  private constructor(
    private readonly layout: LakeLayout,
    readonly meta: LogMeta,
    private committed: LogHead,
    private readonly headWriter: HeadWriter,
    private readonly lock: Lock,
    private readonly segmentBytes: number,
  ) {
    for (const [stream, head] of Object.entries(committed.streams)) this.nextSequence.set(stream, head.sequence + 1);
    this.stagingBuffers = new StagingBuffers(2 * meta.streams.length);
  }

  /**
   * Takes the writer's lock (and, on a remote lake, its lease), recovers every stream to the
   * committed head and opens for writing. `heldLock` reopens with a lock this process still holds
   * (recovery after a failed commit), so no other machine can slip in between; it stays the
   * caller's if opening fails.
   */
  static async open(layout: LakeLayout, options: LogWriterOptions = {}, heldLock?: Lock): Promise<LogWriter> {
    const lock = heldLock ?? (await acquireLock(layout.lockFile('log-writer'), 'the lake log writer', options.lease).catch((error: NodeJS.ErrnoException) => {
      throw readOnlyLake(layout, error);
    }));
    try {
      const meta = await openLogMeta(layout, options.partitions);
      const committed = await headToRecover(layout, meta, options.unacknowledgedCommit ?? null);
      await options.verifyHead?.(committed);
      const head = committed ?? emptyHead(meta.streams);
      for (const stream of meta.streams) {
        head.streams[stream] ??= emptyHead([stream]).streams[stream];
        await recoverStream(layout.streamDir(stream), stream, head.streams[stream]);
      }
      const headWriter = await openHeadWriter(layout.headFile);
      // A new log's head (every stream empty) is written before its first record: a reader then
      // never finds records without a head, which it must refuse as damage (committedHead.ts).
      // Without it, a job reading while the first commit was under way saw segments and no head.
      if (!committed) await headWriter.write(head);
      return new LogWriter(layout, meta, head, headWriter, lock, options.segmentBytes ?? 128 * 1024 * 1024);
    } catch (error) {
      if (!heldLock) await lock.release();
      throw readOnlyLake(layout, error as NodeJS.ErrnoException);
    }
  }

  /** The commit whose head write failed (never acknowledged), if the writer stopped there. */
  get unacknowledgedCommit(): number | null {
    return this.headWriteFailed;
  }

  /** The last durable commit point. */
  get head(): LogHead {
    return this.committed;
  }

  /** The sequence the next record staged in `stream` gets. */
  nextSequenceOf(stream: string): number {
    const sequence = this.nextSequence.get(stream);
    if (sequence === undefined) throw new Error(`unknown log stream ${stream}`);
    return sequence;
  }

  /** Reserves the next sequence of `stream` for a record about to be staged. */
  assignSequence(stream: string): number {
    const sequence = this.nextSequence.get(stream);
    if (sequence === undefined) throw new Error(`unknown log stream ${stream}`);
    this.nextSequence.set(stream, sequence + 1);
    return sequence;
  }

  /** Stages one record (a JSON line holding the sequence just assigned) for the next commit. */
  stage(stream: string, sequence: number, line: string, timestamp: string | null): void {
    const staged = this.stagedStream(stream);
    staged.add(line);
    staged.lastSequence = sequence;
    staged.lastTimestamp = timestamp;
  }

  /**
   * Stages `count` records encoded elsewhere (a decider thread), holding sequences `first` to
   * `first + count - 1` of `stream`, reserved here as `assignSequence` would: a gap or an overlap
   * with what is staged is refused, so the stream stays gap-free whoever encoded its records.
   */
  stageEncoded(stream: string, first: number, count: number, bytes: Uint8Array, lastTimestamp: string | null): void {
    if (count === 0) return;
    const next = this.nextSequence.get(stream);
    if (next !== first) throw new Error(`records ${first}-${first + count - 1} of log stream ${stream} staged where ${next} is next`);
    this.nextSequence.set(stream, first + count);
    const staged = this.stagedStream(stream);
    staged.addEncoded(bytes, count);
    staged.lastSequence = first + count - 1;
    staged.lastTimestamp = lastTimestamp;
  }

  private stagedStream(stream: string): StagedStream {
    let staged = this.staged.get(stream);
    if (!staged) this.staged.set(stream, (staged = new StagedStream(this.stagingBuffers.take(FIRST_STAGING_BYTES), this.stagingBuffers)));
    return staged;
  }

  /**
   * Makes everything staged durable and visible. After a failure the writer refuses all work.
   * On a remote lake the writer's lease must be ours before the commit starts and still ours
   * when the head is written: a commit that cannot prove it wrote as the only writer is not
   * acknowledged (a new writer elsewhere may have read the head already).
   */
  async commit(): Promise<LogHead> {
    if (this.failure) throw new Error(`the log writer stopped after an earlier failure: ${this.failure.message}`);
    if (this.staged.size === 0) return this.committed;
    const staged = this.staged;
    this.staged = new Map();
    const next: LogHead = { ...this.committed, commit: this.committed.commit + 1, streams: { ...this.committed.streams } };
    try {
      await this.lock.ensureHeld();
      await Promise.all([...staged].map(([stream, s]) => this.appendStream(stream, s, next)));
      next.committedAt = new Date().toISOString();
      this.headWriteFailed = next.commit; // until the write is known to be done
      await this.headWriter.write(next);
      this.headWriteFailed = null;
      this.lock.assertHeld();
    } catch (error) {
      this.failure = error as Error;
      throw error;
    }
    this.committed = next;
    return next;
  }

  private async appendStream(stream: string, staged: StagedStream, next: LogHead): Promise<void> {
    const data = staged.bytes();
    const previous = next.streams[stream];
    const firstSequence = staged.lastSequence - staged.count + 1;
    const roll = previous.offset > 0 && previous.offset + data.length > this.segmentBytes;
    const segment = roll ? firstSequence : previous.segment;
    const offset = roll ? 0 : previous.offset;
    const appender = await this.segmentAppender(stream, segment);
    if (appender.length !== offset) {
      throw new Error(`log segment ${segmentPath(this.layout.streamDir(stream), segment)} holds ${appender.length} bytes, ${offset} expected: another writer?`);
    }
    failpoint('log.append');
    await appender.append(data);
    staged.release();
    const head: StreamHead = { sequence: staged.lastSequence, segment, offset: offset + data.length, lastTimestamp: staged.lastTimestamp };
    next.streams[stream] = head;
  }

  private async segmentAppender(stream: string, segment: number): Promise<Appender> {
    const open = this.appenders.get(stream);
    if (open?.segment === segment) return open.appender;
    await open?.appender.close();
    const { storage, path } = locate(segmentPath(this.layout.streamDir(stream), segment));
    const appender = await storage.openAppender(path);
    this.appenders.set(stream, { segment, appender });
    return appender;
  }

  /** Closes the files and releases the lock; with `keepLock`, hands the lock back instead (to reopen with it). */
  async close(options: { keepLock?: boolean } = {}): Promise<Lock | null> {
    for (const { appender } of this.appenders.values()) await appender.close().catch(() => undefined);
    this.appenders.clear();
    await this.headWriter.close().catch((error: Error) => {
      if (!options.keepLock) throw error;
    });
    if (options.keepLock) return this.lock;
    await this.lock.release();
    return null;
  }
}

/** A lake that cannot be written at all gets one clear sentence; anything else passes through. */
function readOnlyLake(layout: LakeLayout, error: NodeJS.ErrnoException): Error {
  if (error.code === 'EROFS' || error.code === 'EACCES' || error.code === 'EPERM') {
    return new Error(`cannot write to the lake at ${layout.root}: ${error.message}`);
  }
  return error;
}
