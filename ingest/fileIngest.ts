import type { Readable } from 'node:stream';
import type { Ingester, Outcome } from './ingester.js';
import { DEFAULT_DECIDERS, DeciderPool, type MergedBatch } from './deciderPool.js';
import { lineBatches, type LineBatch } from './ndjsonLines.js';

/** One refused line, as `eventlake ingest --json` reports it. */
export interface IngestError {
  line: number;
  command_id: string | null;
  code: string;
  message: string;
}

/** The design's summary of an ingest run. */
export interface IngestSummary {
  accepted: number;
  rejected: number;
  duplicates: number;
  events: number;
  errors: IngestError[];
}

export interface FileIngestOptions {
  /** Lines decided per group commit: one fsync per stream covers them all. */
  groupSize?: number;
  /** After each group commit: bytes and commands (lines) read and durable so far. */
  onProgress?: (bytesRead: number, commands: number) => void;
  /**
   * Threads that decide commands, each owning a set of log partitions (default DEFAULT_DECIDERS).
   * 1 decides on this thread; more need the ingester's domains loaded from a config.
   */
  deciders?: number;
}

/**
 * Ingests NDJSON commands line by line. A bad line is reported and the run goes on; everything
 * counted in the summary is durable when this resolves. Blank lines are skipped.
 */
export async function ingestNdjson(ingester: Ingester, input: Readable, sourceName: string, options: FileIngestOptions = {}): Promise<IngestSummary> {
  const deciders = options.deciders ?? DEFAULT_DECIDERS;
  if (!Number.isInteger(deciders) || deciders < 1) throw new Error(`deciders must be a whole number from 1, not ${deciders}`);
  return deciders === 1 ? ingestOnThisThread(ingester, input, sourceName, options) : ingestWithDeciders(ingester, input, sourceName, deciders, options);
}

async function ingestOnThisThread(ingester: Ingester, input: Readable, sourceName: string, options: FileIngestOptions): Promise<IngestSummary> {
  const summary: IngestSummary = { accepted: 0, rejected: 0, duplicates: 0, events: 0, errors: [] };
  const groupSize = options.groupSize ?? 10_000;
  const commits = new OverlappedCommits(ingester, sourceName);
  const lines = new FileLines();
  let sinceCommit = 0;
  for await (const batch of lineBatches(input)) for (const { text, lineNumber } of lines.commandLines(batch)) {
    if (ingester.failed) await commits.settle(); // throws the failed commit's FileIngestError
    count(summary, ingester.decideLine(text, `file:${sourceName}:${lineNumber}`), lineNumber);
    if (++sinceCommit >= groupSize) {
      const durableBytes = lines.bytes;
      await commits.start(lineNumber, () => options.onProgress?.(durableBytes, lineNumber));
      sinceCommit = 0;
    }
  }
  await commits.start(lines.count, () => options.onProgress?.(lines.bytes, lines.count));
  await commits.settle();
  return summary;
}

/**
 * The same with decider threads (`DeciderPool`): this thread reads, parses and routes lines, and
 * stages each batch the deciders answer, in order; a group commit starts once `groupSize` lines
 * are staged, with the next batches decided meanwhile.
 */
async function ingestWithDeciders(ingester: Ingester, input: Readable, sourceName: string, deciders: number, options: FileIngestOptions): Promise<IngestSummary> {
  const summary: IngestSummary = { accepted: 0, rejected: 0, duplicates: 0, events: 0, errors: [] };
  const groupSize = options.groupSize ?? 10_000;
  const commits = new OverlappedCommits(ingester, sourceName);
  const pool = await DeciderPool.start(ingester.decidingFor(), deciders, `file:${sourceName}:`);
  let completed = false;
  const lines = new FileLines();
  let stagedThrough = 0;
  let committedThrough = 0;
  const mergeOne = async () => {
    const merged = await pool.mergeNext();
    add(summary, merged);
    stagedThrough = merged.throughLine;
    if (stagedThrough - committedThrough >= groupSize) {
      const [durableBytes, durableLines] = [lines.bytes, stagedThrough];
      await commits.start(stagedThrough, () => options.onProgress?.(durableBytes, durableLines));
      committedThrough = stagedThrough;
    }
  };
  try {
    for await (const batch of lineBatches(input)) for (const { text, lineNumber } of lines.commandLines(batch)) {
      if (ingester.failed) await commits.settle(); // throws the failed commit's FileIngestError
      pool.route(text, lineNumber);
      // Two batches per decider in flight: each has the next while this thread merges.
      while (pool.inFlight > 2 * deciders) await mergeOne();
    }
    pool.dispatch();
    while (pool.inFlight > 0) await mergeOne();
    await commits.start(lines.count, () => options.onProgress?.(lines.bytes, lines.count));
    await commits.settle();
    completed = true;
  } catch (error) {
    // The deciders' states may be ahead of what was staged: nothing more is written from this
    // ingester (no commit, no snapshot) until recover() rebuilds its write model from the log.
    ingester.abandon(error as Error);
    throw error;
  } finally {
    await pool.close({ keepAggregates: completed });
  }
  return summary;
}

/**
 * A file's lines numbered from 1 across its batches, blank ones passed over; counts the lines and
 * bytes read. A plain generator per batch: an async one per line would add an await per command.
 */
class FileLines {
  count = 0;
  bytes = 0;

  *commandLines(batch: LineBatch): Generator<{ text: string; lineNumber: number }> {
    this.bytes += batch.bytes;
    for (const text of batch.lines) {
      this.count += 1;
      if (text.trim() !== '') yield { text, lineNumber: this.count };
    }
  }
}

function add(summary: IngestSummary, merged: MergedBatch): void {
  summary.accepted += merged.accepted;
  summary.rejected += merged.rejected;
  summary.duplicates += merged.duplicates;
  summary.events += merged.events;
  for (const error of merged.errors) summary.errors.push(error);
}

/**
 * Group commits with one in flight while the next group is decided, so the fdatasyncs run on the
 * other core instead of stalling decisions (the main thread sat idle for 8% of a 1M-line ingest).
 * Safe: the log keeps decision order (one commit at a time, each taking what was staged before
 * it), nothing is reported durable before its commit resolves, and after a failed commit the
 * ingester refuses further work, so nothing decided after it is ever written.
 */
class OverlappedCommits {
  private inflight: Promise<void> = Promise.resolve();
  private durableThrough = 0;

  constructor(
    private readonly ingester: Ingester,
    private readonly sourceName: string,
  ) {}

  /** Waits for the commit in flight, then starts committing everything decided through `line`. */
  async start(line: number, onDurable: () => void): Promise<void> {
    await this.inflight;
    const commit = this.ingester.commit().then(
      () => {
        this.durableThrough = line;
        onDurable();
      },
      (error: Error) => {
        throw new FileIngestError(this.sourceName, this.durableThrough, error);
      },
    );
    commit.catch(() => undefined); // awaited by the next start() or settle(); not an unhandled rejection meanwhile
    this.inflight = commit;
  }

  /** Resolves when the commit in flight is durable; throws its FileIngestError if it failed. */
  async settle(): Promise<void> {
    await this.inflight;
  }
}

/** The ingester failed part way: says how far the file is durably ingested and how to go on. */
export class FileIngestError extends Error {
  constructor(
    readonly source: string,
    readonly durableThroughLine: number,
    readonly cause: Error,
  ) {
    super(
      `${cause.message}. Lines 1-${durableThroughLine} of ${source} are durably ingested; ` +
        're-run the same file once the cause is fixed (already ingested command ids are skipped as duplicates)',
    );
  }
}

function count(summary: IngestSummary, outcome: Outcome, line: number): void {
  if (outcome.status === 'accepted') {
    summary.accepted += 1;
    summary.events += outcome.events.length;
  } else if (outcome.status === 'duplicate') {
    summary.duplicates += 1;
  } else {
    summary.rejected += 1;
    summary.errors.push({ line, command_id: outcome.commandId, code: outcome.code, message: outcome.message });
  }
}
