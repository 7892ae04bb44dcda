/** How an operator gets out of a damaged log; every refusal of the log points here. */
export const REPAIR_HINT = 'see "Repairing the log" in README.md';

/**
 * A committed record that cannot be read as it was written: zeroed or missing bytes, a line gone
 * from the middle of a segment. Names where, so an operator can look, restore the segment from a
 * backup, or cut the log there with `eventlake log repair`.
 */
export class LogDamageError extends Error {
  constructor(
    readonly stream: string,
    /** Location of the segment file. */
    readonly segment: string,
    readonly offset: number,
    problem: string,
  ) {
    super(`lake log stream ${stream} is damaged at byte ${offset} of ${segment}: ${problem}; ${REPAIR_HINT}`);
  }
}

/** Segments without a commit point, or a commit point that may have lost an acknowledged commit. */
export class LogHeadError extends Error {}

/** Where a line of a `StreamCursor.next()` result lies: the segment its run of lines came from. */
export interface LineSpan {
  /** Index in the returned lines of the first line read from this segment. */
  index: number;
  sequence: number;
  segment: string;
  offset: number;
}

/**
 * The segment and byte offset of `lines[index]`, from the spans `StreamCursor` reported for them:
 * the span's start plus the UTF-8 length of the lines before it. Only errors call it.
 */
export function locateLine(spans: LineSpan[], lines: string[], index: number): { sequence: number; segment: string; offset: number } {
  let span: LineSpan = { index: 0, sequence: 0, segment: '(unknown segment)', offset: 0 };
  for (const s of spans) if (s.index <= index) span = s;
  let offset = span.offset;
  for (let i = span.index; i < index; i++) offset += Buffer.byteLength(lines[i]) + 1;
  return { sequence: span.sequence + (index - span.index), segment: span.segment, offset };
}

/** Parses a log line, or throws LogDamageError saying where it lies. */
export function parseLogLine<T = unknown>(stream: string, spans: LineSpan[], lines: string[], index: number): T {
  try {
    return JSON.parse(lines[index]) as T;
  } catch (error) {
    const at = locateLine(spans, lines, index);
    throw new LogDamageError(stream, at.segment, at.offset, `record ${at.sequence} is not valid JSON (${(error as Error).message})`);
  }
}
