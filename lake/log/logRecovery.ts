import type { LakeLayout } from '../layout.js';
import { logger } from '../logger.js';
import { locate } from '../storage/locations.js';
import { refuseHeadlessSegments } from './committedHead.js';
import { LogDamageError, LogHeadError, REPAIR_HINT } from './logDamage.js';
import { readHeadState, type LogHead, type StreamHead } from './logHead.js';
import type { LogMeta } from './logMeta.js';
import { listSegmentFiles, segmentPath } from './segments.js';

/**
 * The head the writer may trim to, judged before anything is trimmed. Refused (LogHeadError):
 * segments without a head, and a damaged head slot while records lie beyond the valid one. That
 * slot may have held the newest commit, already acknowledged and read by consumers; trimming to
 * the older slot once cut 10,000 acknowledged commands and handed their sequences to new ones.
 * (A torn head write from a power cut looks the same; `eventlake log repair` keeps that group,
 * which was durable, and a client's retry of it is answered as a duplicate.)
 */
export async function headToRecover(layout: LakeLayout, meta: LogMeta, unacknowledgedCommit: number | null = null): Promise<LogHead | null> {
  const { head, damagedSlot } = await readHeadState(layout.headFile);
  if (!head) {
    await refuseHeadlessSegments(layout);
    return null;
  }
  if (damagedSlot && unacknowledgedCommit === head.commit + 1) {
    logger.warn({ head: layout.headFile, commit: unacknowledgedCommit }, 'recovery: the head write of the last, unacknowledged commit failed; its records are trimmed');
  } else if (damagedSlot) {
    const beyond = await bytesBeyondHead(layout, meta, head);
    if (beyond.length > 0) {
      throw new LogHeadError(
        `a slot of ${layout.headFile} is damaged, and records lie beyond the other slot's commit ${head.commit} (${beyond.join(', ')}): ` +
          `the damaged slot may have held a newer, acknowledged commit, so nothing is trimmed. Run \`eventlake log repair\`; ${REPAIR_HINT}`,
      );
    }
    logger.warn({ head: layout.headFile, commit: head.commit }, 'a log head slot is damaged, but no record lies beyond the valid one: the next commit overwrites it');
  }
  return head;
}

/** Streams with bytes past their committed end, as "p0: 512 bytes". */
async function bytesBeyondHead(layout: LakeLayout, meta: LogMeta, head: LogHead): Promise<string[]> {
  const beyond: string[] = [];
  for (const stream of meta.streams) {
    const committed = head.streams[stream] ?? { segment: 1, offset: 0 };
    const bytes = (await listSegmentFiles(layout.streamDir(stream)))
      .map((s) => (s.first > committed.segment ? s.size : s.first === committed.segment ? Math.max(0, s.size - committed.offset) : 0))
      .reduce((a, b) => a + b, 0);
    if (bytes > 0) beyond.push(`${stream}: ${bytes} bytes`);
  }
  return beyond;
}

/**
 * Brings a stream back to its committed head: segments begun after the head are removed and the
 * current segment is cut to the committed offset. What is cut was never acknowledged. Then checks
 * what it can see cheaply, the last committed record of every segment, so damage there is named
 * now rather than by a projection later.
 */
export async function recoverStream(dir: string, stream: string, head: StreamHead): Promise<void> {
  const segments = await listSegmentFiles(dir);
  for (const { first, size } of segments) {
    const file = segmentPath(dir, first);
    const { storage, path } = locate(file);
    if (first > head.segment) {
      logger.warn({ stream, file }, 'recovery: removed a segment begun after the last commit');
      await storage.delete(path);
    } else if (first === head.segment && size > head.offset) {
      logger.warn({ stream, file, bytes: size - head.offset }, 'recovery: trimmed an uncommitted or torn tail');
      await storage.truncate(path, head.offset);
    }
  }
  if (head.sequence === 0) return;
  const kept = segments.filter((s) => s.first <= head.segment);
  const current = kept.at(-1);
  if (current?.first !== head.segment || current.size < head.offset) {
    const holds = current?.first === head.segment ? `holds ${current.size} bytes` : 'is missing';
    throw new LogDamageError(stream, segmentPath(dir, head.segment), head.offset, `the segment ${holds}, ${head.offset} bytes were committed`);
  }
  for (const [i, { first, size }] of kept.entries()) {
    const last = i + 1 < kept.length ? kept[i + 1].first - 1 : head.sequence;
    await checkLastRecord(stream, segmentPath(dir, first), first === head.segment ? head.offset : size, last);
  }
}

const TAIL_BYTES = 64 * 1024;

/** The record ending at `end` is a whole JSON line holding `sequence`. */
async function checkLastRecord(stream: string, file: string, end: number, sequence: number): Promise<void> {
  const { storage, path } = locate(file);
  let from = Math.max(0, end - TAIL_BYTES);
  let tail = await storage.read(path, { offset: from, length: end - from });
  // A record longer than the tail read: read further back until its start (or the file's).
  while (from > 0 && lineStartBefore(tail) === 0) {
    from = Math.max(0, from - 16 * TAIL_BYTES);
    tail = await storage.read(path, { offset: from, length: end - from });
  }
  const start = lineStartBefore(tail);
  const damaged = (problem: string) => new LogDamageError(stream, file, from + start, `its last committed record (sequence ${sequence}) ${problem}`);
  if (tail.length === 0 || tail[tail.length - 1] !== 0x0a) throw damaged('has no line end');
  let record: { sequence?: unknown };
  try {
    record = JSON.parse(tail.toString('utf8', start, tail.length - 1)) as { sequence?: unknown };
  } catch (error) {
    throw damaged(`is not valid JSON (${(error as Error).message})`);
  }
  if (record.sequence !== sequence) throw damaged(`holds sequence ${String(record.sequence)}: records were lost or added before it`);
}

/** Where the last line of `tail` starts (0: no earlier line end in it). */
function lineStartBefore(tail: Buffer): number {
  return tail.length < 2 ? 0 : tail.lastIndexOf(0x0a, tail.length - 2) + 1;
}
