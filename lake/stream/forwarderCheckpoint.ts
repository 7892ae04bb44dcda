import { safeName, type LakeLayout } from '../layout.js';
import { NotFoundError } from '../storage/lakeStorage.js';
import { joinLocation, locate } from '../storage/locations.js';
import type { OversizedEvent } from './claimCheck.js';

/**
 * How far the forwarder has published each lake partition into one event hub: the last lake
 * sequence of every stream whose sendBatch succeeded. Kept in the lake, beside the log it
 * describes (`forwarder/<hub>/checkpoint.json`), and replaced atomically (temp + rename), so a
 * reader sees the previous checkpoint or the next, never a torn one. It only ever lags what was
 * sent (written after the send), which makes delivery at least once: a crash between a send
 * and its checkpoint re-sends that batch, and consumers dedupe by (lakePartition, lakeSequence).
 */
export interface ForwarderCheckpoint {
  hub: string;
  /** Per lake stream (`p0`, `p1`, ...): the last sequence known to be in the hub. */
  streams: Record<string, { sequence: number }>;
  /** Hand-over marks, oldest first (see HandOverMark). */
  marks?: HandOverMark[];
  /** The hub partition ids aggregates are hashed onto, recorded on the first send (see hubPartitionLayout.ts). */
  hubPartitions?: string[];
  /** Events larger than a hub message, sent as claim checks (the newest; see claimCheck.ts). */
  oversized?: OversizedEvent[];
  /** How many events went as claim checks in all. */
  oversizedCount?: number;
  updatedAt: string;
}

/**
 * A moment when the forwarder had nothing in flight: every lake event up to `lake` (per stream)
 * was in the hub at or before `hub` (per hub partition: its last sequence number, -1 when
 * empty), and every later lake event was sent after it. A job that applied the lake up to at
 * least `lake` switches to the hub by reading each partition after `hub`, skipping what it
 * already applied from the lake: no gap, no duplicate.
 */
export interface HandOverMark {
  lake: Record<string, number>;
  hub: Record<string, number>;
  at: string;
}

/** Marks kept: enough that a job catching up from the lake finds one at or before its position. */
const MARKS_KEPT = 200;

export function keepRecentMarks(marks: HandOverMark[]): HandOverMark[] {
  return marks.slice(-MARKS_KEPT);
}

/** The latest mark the job's lake positions have reached in every stream, or null. */
export function markReachedBy(marks: HandOverMark[], applied: Record<string, number>): HandOverMark | null {
  for (let i = marks.length - 1; i >= 0; i--) {
    if (Object.entries(marks[i].lake).every(([stream, sequence]) => (applied[stream] ?? 0) >= sequence)) return marks[i];
  }
  return null;
}

export function checkpointLocation(layout: LakeLayout, hub: string): string {
  return joinLocation(layout.root, 'forwarder', safeName(hub, 'event hub'), 'checkpoint.json');
}

export async function readCheckpoint(layout: LakeLayout, hub: string): Promise<ForwarderCheckpoint> {
  const location = checkpointLocation(layout, hub);
  const { storage, path } = locate(location);
  try {
    const stored = JSON.parse((await storage.read(path)).toString('utf8')) as ForwarderCheckpoint;
    if (stored.hub !== hub || typeof stored.streams !== 'object') throw new Error(`it is not a checkpoint of hub ${hub}`);
    return stored;
  } catch (error) {
    if (error instanceof NotFoundError) return { hub, streams: {}, updatedAt: new Date(0).toISOString() };
    throw new Error(`cannot read the forwarder checkpoint ${location}: ${(error as Error).message}`);
  }
}

/** Durable and atomic: LocalStorage fsyncs and renames, ADLS renames a flushed temp file. */
export async function writeCheckpoint(layout: LakeLayout, checkpoint: ForwarderCheckpoint): Promise<void> {
  const { storage, path } = locate(checkpointLocation(layout, checkpoint.hub));
  await storage.replace(path, `${JSON.stringify(checkpoint, null, 2)}\n`);
}
