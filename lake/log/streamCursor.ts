import { locate } from '../storage/locations.js';
import type { StreamHead } from './logHead.js';
import { listSegments, segmentFor, segmentPath } from './segments.js';

const CHUNK_BYTES = 4 * 1024 * 1024;
const NEWLINE = 0x0a;

/**
 * Reads one stream forward from a sequence, never past the committed head, so a reader never
 * sees a torn or uncommitted tail. Keeps its byte position between calls: a run that reads many
 * batches scans each segment once.
 */
export class StreamCursor {
  private segments: number[] = [];
  private segment = 0;
  private byteOffset = 0;
  /** Sequence of the next record this cursor will return. */
  nextSequence: number;
  private positioned = false;

  constructor(
    private readonly streamDir: string,
    afterSequence: number,
  ) {
    this.nextSequence = afterSequence + 1;
  }

  /** Up to `max` committed records (raw JSON lines) after the last one returned. */
  async next(max: number, head: StreamHead): Promise<string[]> {
    if (this.nextSequence > head.sequence || max <= 0) return [];
    if (!this.positioned) await this.position();
    const lines: string[] = [];
    while (lines.length < max && this.nextSequence <= head.sequence) {
      const end = this.segment === head.segment ? head.offset : await this.segmentSize();
      if (this.byteOffset >= end) {
        if (!(await this.advanceSegment())) break;
        continue;
      }
      const read = await this.readLines(end, max - lines.length);
      for (const line of read) lines.push(line);
      this.nextSequence += read.length;
    }
    return lines;
  }

  private async position(): Promise<void> {
    this.segments = await listSegments(this.streamDir);
    const segment = segmentFor(this.segments, this.nextSequence);
    if (segment === undefined) throw new Error(`no segment in ${this.streamDir} holds sequence ${this.nextSequence}`);
    this.segment = segment;
    this.byteOffset = await this.skipLines(this.nextSequence - segment);
    this.positioned = true;
  }

  private async advanceSegment(): Promise<boolean> {
    const following = this.segments.find((s) => s > this.segment) ?? (await this.refreshSegments());
    if (following === undefined || following !== this.nextSequence) return false;
    this.segment = following;
    this.byteOffset = 0;
    return true;
  }

  private async refreshSegments(): Promise<number | undefined> {
    this.segments = await listSegments(this.streamDir);
    return this.segments.find((s) => s > this.segment);
  }

  private async segmentSize(): Promise<number> {
    const { storage, path } = locate(segmentPath(this.streamDir, this.segment));
    return (await storage.size(path)) ?? 0;
  }

  /** Up to `length` bytes of the current segment from `offset`. */
  private read(offset: number, length: number): Promise<Buffer> {
    const { storage, path } = locate(segmentPath(this.streamDir, this.segment));
    return storage.read(path, { offset, length });
  }

  /** Byte offset just past the first `count` lines of the current segment. */
  private async skipLines(count: number): Promise<number> {
    if (count === 0) return 0;
    let offset = 0;
    let remaining = count;
    for (;;) {
      const chunk = await this.read(offset, CHUNK_BYTES);
      if (chunk.length === 0) throw new Error(`segment ${this.segment} of ${this.streamDir} ends before line ${count}`);
      let at = -1;
      while (remaining > 0 && (at = chunk.indexOf(NEWLINE, at + 1)) !== -1) remaining--;
      if (remaining === 0) return offset + at + 1;
      offset += chunk.length;
    }
  }

  private async readLines(end: number, max: number): Promise<string[]> {
    const lines: string[] = [];
    while (lines.length < max && this.byteOffset < end) {
      const length = Math.min(CHUNK_BYTES, end - this.byteOffset);
      const chunk = await this.read(this.byteOffset, length);
      let start = 0;
      let at: number;
      while (lines.length < max && (at = chunk.indexOf(NEWLINE, start)) !== -1) {
        lines.push(chunk.toString('utf8', start, at));
        start = at + 1;
      }
      if (start === 0) {
        if (chunk.length < CHUNK_BYTES) throw new Error(`unterminated record at byte ${this.byteOffset} of ${this.streamDir}`);
        throw new Error(`a record longer than ${CHUNK_BYTES} bytes at byte ${this.byteOffset} of ${this.streamDir}`);
      }
      this.byteOffset += start;
    }
    return lines;
  }
}
