import readline from 'node:readline';
import type { Readable } from 'node:stream';
import type { Ingester, Outcome } from './ingester.js';

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
  onProgress?: (bytesRead: number) => void;
}

/**
 * Ingests NDJSON commands line by line. A bad line is reported and the run goes on; everything
 * counted in the summary is durable when this resolves. Blank lines are skipped.
 */
export async function ingestNdjson(ingester: Ingester, input: Readable, sourceName: string, options: FileIngestOptions = {}): Promise<IngestSummary> {
  const summary: IngestSummary = { accepted: 0, rejected: 0, duplicates: 0, events: 0, errors: [] };
  const groupSize = options.groupSize ?? 10_000;
  const lines = readline.createInterface({ input, crlfDelay: Infinity });
  let lineNumber = 0;
  let bytes = 0;
  let sinceCommit = 0;
  let durableThrough = 0;
  const commit = async () => {
    try {
      await ingester.commit();
    } catch (error) {
      throw new FileIngestError(sourceName, durableThrough, error as Error);
    }
    durableThrough = lineNumber;
    sinceCommit = 0;
    options.onProgress?.(bytes);
  };
  for await (const text of lines) {
    lineNumber += 1;
    bytes += Buffer.byteLength(text) + 1;
    if (text.trim() === '') continue;
    count(summary, ingester.decideLine(text, `file:${sourceName}:${lineNumber}`), lineNumber);
    if (++sinceCommit >= groupSize) await commit();
  }
  await commit();
  return summary;
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
