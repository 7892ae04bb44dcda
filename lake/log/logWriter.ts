import fs from 'node:fs/promises';
import { failpoint } from '../failpoints.js';
import type { LakeLayout } from '../layout.js';
import { acquireLock, type Lock } from '../lock.js';
import { logger } from '../logger.js';
import { emptyHead, readHead, writeHead, type LogHead, type StreamHead } from './logHead.js';
import { openLogMeta, type LogMeta } from './logMeta.js';
import { listSegments, segmentPath, syncDirectory } from './segments.js';

export interface LogWriterOptions {
  /** Partition count for a new lake (an existing lake keeps its own). */
  partitions?: number;
  /** Start a new segment once the current one would pass this size. */
  segmentBytes?: number;
}

interface StagedStream {
  lines: string[];
  lastSequence: number;
  lastTimestamp: string | null;
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
  private readonly handles = new Map<string, { segment: number; handle: fs.FileHandle }>();
  private failure: Error | null = null;

  private constructor(
    private readonly layout: LakeLayout,
    readonly meta: LogMeta,
    private committed: LogHead,
    private readonly headHandle: fs.FileHandle,
    private readonly lock: Lock,
    private readonly segmentBytes: number,
  ) {
    for (const [stream, head] of Object.entries(committed.streams)) this.nextSequence.set(stream, head.sequence + 1);
  }

  static async open(layout: LakeLayout, options: LogWriterOptions = {}): Promise<LogWriter> {
    const [meta, lock] = await Promise.all([
      openLogMeta(layout, options.partitions),
      acquireLock(layout.lockFile('log-writer'), 'the lake log writer'),
    ]).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'EROFS' || error.code === 'EACCES' || error.code === 'EPERM') {
        throw new Error(`cannot write to the lake at ${layout.root}: ${error.message}`);
      }
      throw error;
    });
    try {
      const head = (await readHead(layout.headFile)) ?? emptyHead(meta.streams);
      for (const stream of meta.streams) {
        head.streams[stream] ??= emptyHead([stream]).streams[stream];
        await recoverStream(layout.streamDir(stream), stream, head.streams[stream]);
      }
      const headHandle = await openForPositionalWrites(layout.headFile);
      return new LogWriter(layout, meta, head, headHandle, lock, options.segmentBytes ?? 128 * 1024 * 1024);
    } catch (error) {
      await lock.release();
      throw error;
    }
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
    if (!staged) this.staged.set(stream, (staged = { lines: [], lastSequence: 0, lastTimestamp: null }));
    staged.lines.push(line);
    staged.lastSequence = sequence;
    staged.lastTimestamp = timestamp;
  }

  get hasStaged(): boolean {
    return this.staged.size > 0;
  }

  /** Makes everything staged durable and visible. After a failure the writer refuses all work. */
  async commit(): Promise<LogHead> {
    if (this.failure) throw new Error(`the log writer stopped after an earlier failure: ${this.failure.message}`);
    if (this.staged.size === 0) return this.committed;
    const staged = this.staged;
    this.staged = new Map();
    const next: LogHead = { ...this.committed, commit: this.committed.commit + 1, streams: { ...this.committed.streams } };
    try {
      await Promise.all([...staged].map(([stream, s]) => this.appendStream(stream, s, next)));
      next.committedAt = new Date().toISOString();
      await writeHead(this.headHandle, next);
    } catch (error) {
      this.failure = error as Error;
      throw error;
    }
    this.committed = next;
    return next;
  }

  private async appendStream(stream: string, staged: StagedStream, next: LogHead): Promise<void> {
    const data = Buffer.from(`${staged.lines.join('\n')}\n`);
    const previous = next.streams[stream];
    const firstSequence = staged.lastSequence - staged.lines.length + 1;
    const roll = previous.offset > 0 && previous.offset + data.length > this.segmentBytes;
    const segment = roll ? firstSequence : previous.segment;
    const offset = roll ? 0 : previous.offset;
    const handle = await this.segmentHandle(stream, segment);
    failpoint('log.append');
    await writeFully(handle, data, offset);
    await handle.datasync();
    const head: StreamHead = { sequence: staged.lastSequence, segment, offset: offset + data.length, lastTimestamp: staged.lastTimestamp };
    next.streams[stream] = head;
  }

  private async segmentHandle(stream: string, segment: number): Promise<fs.FileHandle> {
    const open = this.handles.get(stream);
    if (open?.segment === segment) return open.handle;
    await open?.handle.close();
    const dir = this.layout.streamDir(stream);
    await fs.mkdir(dir, { recursive: true });
    const handle = await openForPositionalWrites(segmentPath(dir, segment));
    await syncDirectory(dir); // the new file's name must survive a power cut too
    this.handles.set(stream, { segment, handle });
    return handle;
  }

  async close(): Promise<void> {
    for (const { handle } of this.handles.values()) await handle.close();
    this.handles.clear();
    await this.headHandle.close();
    await this.lock.release();
  }
}

/**
 * write(2) may write less than asked (a disk filling up does exactly that before it answers
 * ENOSPC): keep writing until all bytes are down or the system says why not.
 */
async function writeFully(handle: fs.FileHandle, data: Buffer, position: number): Promise<void> {
  let written = 0;
  while (written < data.length) {
    const { bytesWritten } = await handle.write(data, written, data.length - written, position + written);
    if (bytesWritten === 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    written += bytesWritten;
  }
}

/** Creates the file if missing, then opens it without O_APPEND (which would ignore positions). */
async function openForPositionalWrites(file: string): Promise<fs.FileHandle> {
  await fs.writeFile(file, '', { flag: 'a' });
  return fs.open(file, 'r+');
}

/**
 * Brings a stream back to its committed head: segments begun after the head are removed and the
 * current segment is cut to the committed offset. What is cut was never acknowledged.
 */
async function recoverStream(dir: string, stream: string, head: StreamHead): Promise<void> {
  for (const segment of await listSegments(dir)) {
    const file = segmentPath(dir, segment);
    if (segment > head.segment) {
      logger.warn({ stream, file }, 'recovery: removed a segment begun after the last commit');
      await fs.rm(file);
      continue;
    }
    if (segment < head.segment) continue;
    const { size } = await fs.stat(file);
    if (size > head.offset) {
      logger.warn({ stream, file, bytes: size - head.offset }, 'recovery: trimmed an uncommitted or torn tail');
      await fs.truncate(file, head.offset);
    }
  }
  if (head.offset > 0) {
    const size = await fs.stat(segmentPath(dir, head.segment)).then((s) => s.size, () => -1);
    if (size < head.offset) {
      throw new Error(`lake log stream ${stream} is damaged: ${segmentPath(dir, head.segment)} holds ${size} bytes, ${head.offset} were committed`);
    }
  }
}
