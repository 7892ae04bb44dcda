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

/** Staged bytes go into a small first chunk (most HTTP commits are small), then 1 MiB ones. */
const FIRST_STAGING_CHUNK = 64 * 1024;
const STAGING_CHUNK = 1024 * 1024;

/**
 * A stream's staged records, UTF-8 encoded as they are staged. Holding them as strings until the
 * commit kept ~20,000 strings per group alive across young-generation GCs, which copied and then
 * promoted each of them: a tenth of ingest's time (writing each line into a buffer at once costs
 * a quarter of that; measured on a 1M-command file).
 */
class StagedStream {
  private readonly full: Buffer[] = [];
  private chunk = Buffer.allocUnsafe(FIRST_STAGING_CHUNK);
  private used = 0;
  count = 0;
  lastSequence = 0;
  lastTimestamp: string | null = null;

  add(line: string): void {
    const most = line.length * 3 + 1; // UTF-8 needs at most 3 bytes per UTF-16 unit
    if (this.used + most > this.chunk.length) {
      this.full.push(this.chunk.subarray(0, this.used));
      this.chunk = Buffer.allocUnsafe(Math.max(STAGING_CHUNK, most));
      this.used = 0;
    }
    this.used += this.chunk.write(line, this.used, 'utf8');
    this.chunk[this.used++] = 0x0a;
    this.count += 1;
  }

  /** Every staged record as NDJSON bytes, newline-terminated. */
  bytes(): Buffer {
    const last = this.chunk.subarray(0, this.used);
    return this.full.length === 0 ? last : Buffer.concat([...this.full, last]);
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

  /** Reserves the next sequence of `stream` for a record about to be staged. */
  assignSequence(stream: string): number {
    const sequence = this.nextSequence.get(stream);
    if (sequence === undefined) throw new Error(`unknown log stream ${stream}`);
    this.nextSequence.set(stream, sequence + 1);
    return sequence;
  }

  /** Stages one record (a JSON line holding the sequence just assigned) for the next commit. */
  stage(stream: string, sequence: number, line: string, timestamp: string | null): void {
    let staged = this.staged.get(stream);
    if (!staged) this.staged.set(stream, (staged = new StagedStream()));
    staged.add(line);
    staged.lastSequence = sequence;
    staged.lastTimestamp = timestamp;
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
