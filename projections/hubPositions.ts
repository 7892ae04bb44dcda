import type { Snapshot } from '../lake/delta/snapshot.js';
import { partitionStreams } from '../lake/log/logMeta.js';
import { markReachedBy, type HandOverMark } from '../lake/stream/forwarderCheckpoint.js';
import { checkpointAppId, type Job } from './jobSource.js';

/**
 * Where a job reading Event Hubs stands in one hub partition, kept as Delta `txn` actions in the
 * same commit as the output (so output and position move together):
 *   `<job>@<version>/hub:<hub>/<partition>`        the last hub sequence number applied;
 *   `<job>@<version>/hub:<hub>/<partition>/<lake stream>`  the last lake sequence applied from
 *   that lake stream through that hub partition.
 * The forwarder sends each lake stream's events to a hub partition in lake order, so a re-sent
 * event (at-least-once delivery) is exactly one at or below its watermark.
 */
export interface HubPosition {
  /** Last hub sequence number applied; -1: read the partition from its earliest event. */
  sequence: number;
  /** Per lake stream: the last lake sequence applied through this hub partition. */
  watermarks: Record<string, number>;
}

/** A hub sequence of -1 in the table means "not positioned": a rebuild resets the hub positions so. */
export const UNSET = -1;

/**
 * A hub sequence of -2: the partition's watermarks were moved by taking events the hub no longer
 * holds from the lake (see HubJobTable), before any hub event was applied through it. The
 * watermarks count; the hub is read from its first retained event.
 */
export const FILLING_FROM_LAKE = -2;

export function hubAppId(job: Job, hub: string, partitionId: string, stream?: string): string {
  const base = `${job.name}@${job.definition.version}/hub:${hub}/${partitionId}`;
  return stream ? `${base}/${stream}` : base;
}

/** The position committed in the table for a hub partition, or null when the job has not read it. */
export function committedHubPosition(snapshot: Snapshot, job: Job, hub: string, partitionId: string, lakePartitions: number): HubPosition | null {
  const sequence = snapshot.txns.get(hubAppId(job, hub, partitionId))?.version;
  if (sequence === undefined || sequence === UNSET) return null;
  const watermarks: Record<string, number> = {};
  for (const stream of partitionStreams(lakePartitions)) watermarks[stream] = snapshot.txns.get(hubAppId(job, hub, partitionId, stream))?.version ?? 0;
  return { sequence, watermarks };
}

/** One hub `txn` of a job's table, its id taken apart. */
export interface HubTxn {
  appId: string;
  hub: string;
  partitionId: string;
  /** The lake stream of a watermark; undefined for the partition's hub sequence. */
  stream?: string;
  version: number;
}

/** Every hub `txn` of the job's current projection version in the snapshot (reset ones included). */
export function hubTxns(snapshot: Snapshot, job: Job): HubTxn[] {
  const prefix = `${job.name}@${job.definition.version}/hub:`;
  const found: HubTxn[] = [];
  for (const [appId, txn] of snapshot.txns) {
    if (!appId.startsWith(prefix)) continue;
    const [hub, partitionId, stream] = appId.slice(prefix.length).split('/');
    found.push({ appId, hub, partitionId, stream, version: txn.version });
  }
  return found;
}

/** True once any hub partition (of `hub`, or of any hub) holds a position: from then on the job must not read the lake log. */
export function isOnHub(snapshot: Snapshot, job: Job, hub?: string): boolean {
  return hubTxns(snapshot, job).some((t) => t.stream === undefined && t.version !== UNSET && (hub === undefined || t.hub === hub));
}

/** The job's lake positions (what it applied from the lake log before switching to the hub). */
export function lakePositions(snapshot: Snapshot, job: Job, lakePartitions: number): Record<string, number> {
  return Object.fromEntries(partitionStreams(lakePartitions).map((stream) => [stream, snapshot.txns.get(checkpointAppId(job, stream))?.version ?? 0]));
}

export class HandOverError extends Error {}

/**
 * Where a hub partition starts for a job that so far read the lake: after the hub position of the
 * latest forwarder mark the job's lake positions have reached, with the lake positions as
 * watermarks (the hub's copies of what the lake already gave are skipped).
 */
export function handOverPosition(job: Job, hub: string, partitionId: string, lake: Record<string, number>, marks: HandOverMark[]): HubPosition {
  const mark = markReachedBy(marks, lake);
  if (!mark) {
    throw new HandOverError(
      `job ${job.name} cannot switch to event hub ${hub}: the forwarder has recorded no hand-over mark at or before the job's lake positions ` +
        `(${JSON.stringify(lake)}; ${marks.length} marks kept). Run \`eventlake forward\` so the hub holds the lake's events, then retry.`,
    );
  }
  return { sequence: mark.hub[partitionId] ?? UNSET, watermarks: { ...lake } };
}
