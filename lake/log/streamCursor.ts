import { locate } from '../storage/locations.js';
import { LogDamageError, type LineSpan } from './logDamage.js';
import type { StreamHead } from './logHead.js';
import { SegmentReader } from './segmentReader.js';
import { listSegments, segmentFor, segmentPath } from './segments.js';

const CHUNK_BYTES = 4 * 1024 * 1024;
/** The first chunk `skipLinesBack` reads; each next one is twice as large, up to CHUNK_BYTES. */
const BACK_CHUNK_BYTES = 64 * 1024;
const NEWLINE = 0x0a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/**
 * Reads one stream forward from a sequence, never past the committed head, so a reader never
 * sees a torn or uncommitted tail. Keeps its byte position between calls: a run that reads many
 * batches scans each segment once.
 *
 * Damage is refused with its place named (LogDamageError: stream, segment, byte offset), never
 * read past: a record's sequence is its line index, so a line lost from the middle of a segment
 * would silently shift every later record onto another's sequence. What is checked costs little
 * beside the read: no NUL byte (JSON never holds one raw; zeroed blocks are what a crash or a
 * disk leaves), every line a `{...}` object, the last record of each chunk parsed and holding
 * the sequence its place says, segments following each other without a gap, and the committed
 * offset reached exactly at the committed sequence.
 */
export class StreamCursor {
  private segments: number[] = [];
  private segment = 0;
  private byteOffset = 0;
  /** Sequence of the next record this cursor will return. */
  nextSequence: number;
  private positioned = false;
  /** Where the lines of the last `next()` came from, for errors found later in them. */
  spans: LineSpan[] = [];
  readonly stream: string;
  /** The records' bytes, read through one buffer that keeps what a read fetched past the last line taken. */
  private readonly lineBytes = new SegmentReader(CHUNK_BYTES);

  constructor(
    private readonly streamDir: string,
    afterSequence: number,
  ) {
    this.nextSequence = afterSequence + 1;
    this.stream = streamDir.slice(streamDir.lastIndexOf('/') + 1);
  }

  /** Up to `max` committed records (raw JSON lines) after the last one returned. */
  async next(max: number, head: StreamHead): Promise<string[]> {
    this.spans = [];
    if (this.nextSequence > head.sequence || max <= 0) return [];
    if (!this.positioned) await this.position(head);
    const lines: string[] = [];
    while (lines.length < max && this.nextSequence <= head.sequence) {
      const atHead = this.segment === head.segment;
      const end = atHead ? head.offset : await this.segmentSize();
      if (this.byteOffset >= end) {
        if (atHead) throw this.damage(`the committed offset ${head.offset} is reached at sequence ${this.nextSequence - 1}, but the head commits sequence ${head.sequence}`);
        await this.advanceSegment(head);
        continue;
      }
      this.spans.push({ index: lines.length, sequence: this.nextSequence, segment: this.segmentLocation(), offset: this.byteOffset });
      const read = await this.readLines(end, max - lines.length);
      for (const line of read) lines.push(line);
    }
    return lines;
  }

  /**
   * Finds the byte where `nextSequence` begins by counting lines from the nearer end of its
   * segment: a run that resumes near the head (an incremental run, a live pass) reads only the
   * lines after its checkpoint instead of the segment's up to 128 MiB before it (4 s of a 1M-event
   * incremental run was this scan). A segment's end is known: the head's committed offset, or a
   * rolled segment's size, whose last line is the sequence before the next segment's first.
   */
  private async position(head: StreamHead): Promise<void> {
    this.segments = await listSegments(this.streamDir);
    const segment = segmentFor(this.segments, this.nextSequence);
    if (segment === undefined) throw new LogDamageError(this.stream, this.streamDir, 0, `no segment holds sequence ${this.nextSequence}`);
    this.segment = segment;
    const before = this.nextSequence - segment;
    const end = await this.segmentEnd(head);
    const after = end ? end.last - this.nextSequence + 1 : Infinity;
    if (after < before) {
      this.byteOffset = await this.skipLinesBack(end!.offset, after);
      await this.checkFirstLine(end!.offset);
    } else this.byteOffset = await this.skipLines(before);
    this.positioned = true;
  }

  /** Counted back from the end, the first line must hold `nextSequence`: else lines were added or lost after it. */
  private async checkFirstLine(end: number): Promise<void> {
    // One line is wanted: a small read first, a whole chunk only for a record longer than it.
    let chunk = await this.read(this.byteOffset, Math.min(BACK_CHUNK_BYTES, end - this.byteOffset));
    if (chunk.indexOf(NEWLINE) === -1) chunk = await this.read(this.byteOffset, Math.min(CHUNK_BYTES, end - this.byteOffset));
    const lineEnd = chunk.indexOf(NEWLINE);
    const found = lineEnd === -1 ? undefined : sequenceOf(chunk.toString('utf8', 0, lineEnd));
    if (found !== this.nextSequence) {
      throw this.damage(`the record in the place of sequence ${this.nextSequence}, counted back from the committed end, holds ${String(found ?? 'no sequence')}: records were lost or added after it`);
    }
  }

  /** The current segment's committed end: its byte length and last sequence (undefined: not known). */
  private async segmentEnd(head: StreamHead): Promise<{ offset: number; last: number } | undefined> {
    if (this.segment === head.segment) return { offset: head.offset, last: head.sequence };
    const following = this.segments.find((s) => s > this.segment);
    if (following === undefined || following > head.segment) return undefined;
    return { offset: await this.segmentSize(), last: following - 1 };
  }

  /** Moves to the segment that must begin at `nextSequence`; anything else is a gap. */
  private async advanceSegment(head: StreamHead): Promise<void> {
    const following = this.segments.find((s) => s > this.segment) ?? (await this.refreshSegments());
    if (following !== this.nextSequence) {
      const what = following === undefined ? `no segment follows it, though the head commits sequence ${head.sequence}` : `the next segment begins at sequence ${following}`;
      throw this.damage(`the segment ends after sequence ${this.nextSequence - 1}, and ${what}`);
    }
    this.segment = following;
    this.byteOffset = 0;
  }

  private async refreshSegments(): Promise<number | undefined> {
    this.segments = await listSegments(this.streamDir);
    return this.segments.find((s) => s > this.segment);
  }

  private segmentLocation(): string {
    return segmentPath(this.streamDir, this.segment);
  }

  private damage(problem: string, offset = this.byteOffset): LogDamageError {
    return new LogDamageError(this.stream, this.segmentLocation(), offset, problem);
  }

  private async segmentSize(): Promise<number> {
    const { storage, path } = locate(this.segmentLocation());
    return (await storage.size(path)) ?? 0;
  }

  /** Up to `length` bytes of the current segment from `offset`. */
  private read(offset: number, length: number): Promise<Buffer> {
    const { storage, path } = locate(this.segmentLocation());
    return storage.read(path, { offset, length });
  }

  /** Byte offset just past the first `count` lines of the current segment. */
  private async skipLines(count: number): Promise<number> {
    if (count === 0) return 0;
    let offset = 0;
    let remaining = count;
    for (;;) {
      const chunk = await this.read(offset, CHUNK_BYTES);
      if (chunk.length === 0) throw this.damage(`the segment ends after ${count - remaining} records, before sequence ${this.nextSequence}`, offset);
      let at = -1;
      while (remaining > 0 && (at = chunk.indexOf(NEWLINE, at + 1)) !== -1) remaining--;
      if (remaining === 0) return offset + at + 1;
      offset += chunk.length;
    }
  }

  /**
   * Byte offset where the last `count` lines before `end` (just past a line end) begin. A line
   * counted wrong (lines lost or added after it) is caught as the lines are read: each chunk's
   * last record must hold the sequence its place gives it.
   */
  private async skipLinesBack(end: number, count: number): Promise<number> {
    // The line end at `end - 1` closes the last line; the one before the first wanted line is count + 1 back.
    let remaining = count + 1;
    // Chunks grow from BACK_CHUNK_BYTES: an incremental run resumes a few hundred KB from the end,
    // and a whole CHUNK_BYTES read per stream (a fresh 4 MiB buffer, every page faulted in) was
    // ~5,000 of the ~27,000 page faults of a 7-job run over 10 new events.
    for (let chunkEnd = end, size = BACK_CHUNK_BYTES; chunkEnd > 0; size = Math.min(CHUNK_BYTES, size * 2)) {
      const start = Math.max(0, chunkEnd - size);
      const chunk = await this.read(start, chunkEnd - start);
      if (chunk.length < chunkEnd - start) throw this.damage(`the segment holds ${start + chunk.length} bytes, ${end} are committed`, start);
      for (let at = chunk.length; at > 0; ) {
        at = chunk.lastIndexOf(NEWLINE, at - 1);
        if (at === -1) break;
        if (--remaining === 0) return start + at + 1;
      }
      chunkEnd = start;
    }
    // The wanted lines begin the segment.
    if (remaining === 1) return 0;
    throw this.damage(`the segment holds ${count - remaining + 1} records before its committed end, ${count} are expected after sequence ${this.nextSequence - 1}`, 0);
  }

  private async readLines(end: number, max: number): Promise<string[]> {
    const lines: string[] = [];
    while (lines.length < max && this.byteOffset < end) {
      const length = Math.min(CHUNK_BYTES, end - this.byteOffset);
      // A view of the reader's buffer: the lines are copied out of it (toString) before the next read.
      const chunk = await this.lineBytes.read(this.segmentLocation(), this.byteOffset, length);
      const first = lines.length;
      let start = 0;
      let lastStart = 0;
      let at: number;
      while (lines.length < max && (at = chunk.indexOf(NEWLINE, start)) !== -1) {
        if (chunk[start] !== OPEN_BRACE || chunk[at - 1] !== CLOSE_BRACE) {
          throw this.damage(`record ${this.nextSequence + lines.length - first} is not one JSON object on its line`, this.byteOffset + start);
        }
        lines.push(chunk.toString('utf8', start, at));
        lastStart = start;
        start = at + 1;
      }
      if (start === 0) {
        if (chunk.length < length) throw this.damage(`the segment holds ${this.byteOffset + chunk.length} bytes, ${end} are committed`);
        if (chunk.length < CHUNK_BYTES) throw this.damage('the last committed record has no line end');
        throw this.damage(`a record longer than ${CHUNK_BYTES} bytes`);
      }
      const nul = chunk.subarray(0, start).indexOf(0);
      if (nul !== -1) throw this.damage('a NUL byte (zeroed or lost data)', this.byteOffset + nul);
      this.checkSequence(chunk, start, lines[lines.length - 1], this.nextSequence + lines.length - first - 1, lastStart);
      this.byteOffset += start;
      this.nextSequence += lines.length - first;
    }
    return lines;
  }

  /**
   * The chunk's last record (at `lastStart`) holds the sequence its place gives it; else lines
   * were lost or added before it, and the first misplaced record of the chunk is named.
   */
  private checkSequence(chunk: Buffer, end: number, line: string, expected: number, lastStart: number): void {
    const found = sequenceOf(line);
    if (found === expected) return;
    if (found === undefined) throw this.damage(`record ${expected} is not valid JSON or has no sequence`, this.byteOffset + lastStart);
    const starts = [0];
    for (let at = chunk.indexOf(NEWLINE); at !== -1 && at + 1 < end; at = chunk.indexOf(NEWLINE, at + 1)) starts.push(at + 1);
    const first = expected - (starts.length - 1);
    // Records before the damage hold their own sequence, those after it another: find the first.
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const middle = Math.floor((low + high) / 2);
      if (sequenceOf(chunk.toString('utf8', starts[middle], starts[middle + 1] - 1)) === first + middle) low = middle + 1;
      else high = middle;
    }
    const text = chunk.toString('utf8', starts[low], (starts[low + 1] ?? end) - 1);
    throw this.damage(`the record in the place of sequence ${first + low} holds ${String(sequenceOf(text) ?? 'no sequence')}: records were lost or added before it`, this.byteOffset + starts[low]);
  }
}

/** A log line's `sequence`, or undefined when it is not a JSON record with one. */
function sequenceOf(line: string): number | undefined {
  try {
    const sequence = (JSON.parse(line) as { sequence?: unknown }).sequence;
    return typeof sequence === 'number' ? sequence : undefined;
  } catch {
    return undefined;
  }
}
