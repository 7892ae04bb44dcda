import { loadSnapshot } from '../lake/delta/deltaTable.js';
import type { Snapshot } from '../lake/delta/snapshot.js';
import type { LakeLayout } from '../lake/layout.js';
import { REPAIR_HINT } from '../lake/log/logDamage.js';
import type { LogHead } from '../lake/log/logHead.js';
import { logger } from '../lake/logger.js';
import { joinLocation, locate } from '../lake/storage/locations.js';
import { readCheckpoint } from '../lake/stream/forwarderCheckpoint.js';
import { hubTxns, UNSET } from './hubPositions.js';
import { checkpointAppId, type Job } from './jobSource.js';

/*
 * The log's readers record how far they read: each job in its table's `txn` actions, the
 * forwarder in its checkpoint. The log can only move forward, so a reader past the head proves the
 * log lost commits it had (a damaged or replaced log/HEAD). Reusing those sequences would hand
 * new records to positions readers consider done: a job then applied 0 new events and showed lag
 * 0, and the forwarder never sent them. The log itself cannot know its readers (the command side
 * does not import the read side), so this check lives here and the CLI and the service hand it to
 * the log writer (`verifyHead`), `run` makes it before reading, and `status` shows it.
 */

/** One reader's recorded positions per log stream. */
export interface ConsumerPositions {
  /** "job orders", "forwarder to hub lake-events". */
  consumer: string;
  positions: Record<string, number>;
}

/** A reader whose position in a stream is past what the head commits. */
export class CheckpointAheadError extends Error {}

/** The streams where `positions` pass the head, said in words; empty when none do. */
export function positionsAhead(positions: Record<string, number>, head: LogHead | null): string[] {
  return Object.entries(positions)
    .filter(([stream, sequence]) => sequence > (head?.streams[stream]?.sequence ?? 0))
    .map(([stream, sequence]) => `${stream} read to ${sequence}, head at ${head?.streams[stream]?.sequence ?? 0}`);
}

export function aheadMessage(consumer: string, ahead: string[]): string {
  return (
    `${consumer} has read past the log's head (${ahead.join('; ')}): the log lost commits that were read (a damaged or replaced log/HEAD?). ` +
    `Refused, so no sequence is used twice. If the segments still hold those records, \`eventlake log repair\` restores the head; ${REPAIR_HINT}`
  );
}

/** Throws CheckpointAheadError when `positions` pass the head. */
export function refuseCheckpointsAhead(consumer: string, positions: Record<string, number>, head: LogHead | null): void {
  const ahead = positionsAhead(positions, head);
  if (ahead.length > 0) throw new CheckpointAheadError(aheadMessage(consumer, ahead));
}

const LAKE_STREAM = /^(p\d+|commands)$/;

/** A job's positions in its table as it stands: lake checkpoints and hub watermarks of its projection version. */
export function jobPositions(job: Job, snapshot: Snapshot): Record<string, number> {
  const positions: Record<string, number> = {};
  const prefix = checkpointAppId(job, '');
  for (const [appId, txn] of snapshot.txns) {
    const stream = appId.slice(prefix.length);
    if (appId.startsWith(prefix) && LAKE_STREAM.test(stream)) positions[stream] = txn.version;
  }
  for (const { stream, version } of hubTxns(snapshot, job)) {
    if (stream && version !== UNSET) positions[stream] = Math.max(positions[stream] ?? 0, version);
  }
  return positions;
}

/**
 * Every reader's positions recorded in the lake: the configured jobs' tables and the forwarder
 * checkpoints of every hub. A table that cannot be read is skipped with a warning: a broken read
 * model must not stop ingest (status reports it).
 */
export async function consumerPositions(layout: LakeLayout, jobs: Job[]): Promise<ConsumerPositions[]> {
  const found: ConsumerPositions[] = [];
  for (const job of jobs) {
    try {
      found.push({ consumer: `job ${job.name}`, positions: jobPositions(job, await loadSnapshot(layout.tableDir(job.output))) });
    } catch (error) {
      logger.warn({ job: job.name, err: error }, "cannot read the job's table to check its checkpoint against the log head");
    }
  }
  const forwarderDir = joinLocation(layout.root, 'forwarder');
  const { storage, path } = locate(forwarderDir);
  for (const hub of (await storage.list(path)).filter((e) => e.isDirectory)) {
    const checkpoint = await readCheckpoint(layout, hub.name);
    found.push({ consumer: `the forwarder to event hub ${hub.name}`, positions: Object.fromEntries(Object.entries(checkpoint.streams).map(([s, { sequence }]) => [s, sequence])) });
  }
  return found;
}

/** The log writer's `verifyHead`: refuses to open (and trim) when any reader is past the head. */
export function consumersWithinHead(layout: LakeLayout, jobs: Job[]): (head: LogHead | null) => Promise<void> {
  return async (head) => {
    for (const { consumer, positions } of await consumerPositions(layout, jobs)) refuseCheckpointsAhead(consumer, positions, head);
  };
}
