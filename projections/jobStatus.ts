import type { Action } from '../lake/delta/actions.js';
import { loadSnapshot as loadTableSnapshot, readCommit } from '../lake/delta/deltaTable.js';
import type { Snapshot } from '../lake/delta/snapshot.js';
import { listDeadLetters } from './deadLetters.js';
import { definitionHash } from './definitionHash.js';
import { builtVersion, lastApplied } from './jobCommits.js';
import { hubTxns, UNSET } from './hubPositions.js';
import { readJobState } from './jobState.js';
import type { LakeLayout } from '../lake/layout.js';
import { readCommittedHead } from '../lake/log/committedHead.js';
import type { LogHead } from '../lake/log/logHead.js';
import { aheadMessage, jobPositions, positionsAhead } from './logConsumers.js';
import { readLogMeta } from '../lake/log/logMeta.js';
import type { OversizedEvent } from '../lake/stream/claimCheck.js';
import { readCheckpoint } from '../lake/stream/forwarderCheckpoint.js';
import { checkpointAppId, sourceStreams, type Job } from './jobSource.js';

/** Where a job stands against the log, as `eventlake status` shows it. */
export interface JobStatus {
  job: string;
  projection: string;
  projectionVersion: number;
  table: string;
  /** Delta table version (-1: never run). */
  tableVersion: number;
  /** Last applied sequence per log stream. */
  checkpoint: Record<string, number>;
  /** Log records not yet applied (null: unknown, see `error`). */
  lagEvents: number | null;
  /**
   * Business time of the newest record minus that of the last applied one (0 when caught up;
   * null: unknown, see `error`).
   */
  lagSeconds: number | null;
  /** When the job last ran, and how it ended. */
  lastRun: string | null;
  lastError: string | null;
  /** Open dead letters (events the projection threw on). */
  deadLetters: number;
  /** Projection version and definition hash the table was built with (null: no table yet). */
  builtVersion: number | null;
  /** Why the read model does not match the code, if it does not. */
  warning: string | null;
  /**
   * Why this job's status is incomplete or the job cannot run: its table cannot be read, or it
   * has read past the log's head. One job's problem never hides the others' status.
   */
  error: string | null;
  /** A job reading Event Hubs: the last hub sequence applied per hub partition. */
  hub?: Record<string, number>;
  /**
   * A job reading Event Hubs: events the forwarder sent to its hub as claim checks (larger than a
   * hub message; the job takes them from the lake, other hub readers must too), the newest.
   */
  hubOversized?: OversizedEvent[];
  /**
   * The last commit that changed rows: bytes of the files (and deletion vectors) it wrote, and of
   * the files it replaced by rewritten copies (copy-on-write), so the cost of a batch shows.
   */
  lastCommit: { version: number; operation: string; bytesWritten: number; bytesRewritten: number } | null;
}

/**
 * Where a job stands. Throws only for the log itself (a missing head): a problem of this job
 * (a truncated commit in its table, a checkpoint past the head) is reported in `error`.
 */
export async function jobStatus(layout: LakeLayout, job: Job): Promise<JobStatus> {
  const tableDir = layout.tableDir(job.output);
  const [meta, head, runState, letters] = await Promise.all([readLogMeta(layout), readCommittedHead(layout), readJobState(layout, job.name), listDeadLetters(layout, job.name)]);
  const status: JobStatus = {
    job: job.name,
    projection: job.projection,
    projectionVersion: job.definition.version,
    table: tableDir,
    tableVersion: -1,
    checkpoint: {},
    lagEvents: 0,
    lagSeconds: 0,
    lastRun: runState.lastRunAt,
    lastError: runState.lastOutcome === 'failed' && runState.lastError ? runState.lastError.toWellFormed() : null,
    deadLetters: letters.length,
    builtVersion: null,
    warning: null,
    lastCommit: null,
    error: null,
  };
  let snapshot: Snapshot;
  try {
    snapshot = await loadTableSnapshot(tableDir);
  } catch (error) {
    return { ...status, lagEvents: null, lagSeconds: null, error: `cannot read the table ${tableDir}: ${(error as Error).message}`.toWellFormed() };
  }
  status.tableVersion = snapshot.version;
  status.lastRun ??= snapshot.commitTimestamp ? new Date(snapshot.commitTimestamp).toISOString() : null;
  status.builtVersion = builtVersion(snapshot);
  status.warning = definitionWarning(job, snapshot);
  status.lastCommit = await lastDataCommit(tableDir, snapshot.version);
  const ahead = positionsAhead(jobPositions(job, snapshot), head);
  if (ahead.length > 0) status.error = aheadMessage(`job ${job.name}`, ahead);
  if (!meta || !head) return status;
  // Without the last commit's record of business times, lag in seconds counts from the oldest stream (a lower bound).
  const applied = await lastApplied(tableDir, snapshot).catch(() => ({}) as Awaited<ReturnType<typeof lastApplied>>);
  const fromHub = hubProgress(snapshot, job);
  if (fromHub) status.hub = fromHub.partitions;
  if (job.source === 'eventhubs') status.hubOversized = await oversizedOnHubs(layout, snapshot, job);
  let lagEvents = 0;
  let lagSeconds = 0;
  for (const stream of sourceStreams(job, meta.partitions)) {
    // On the hub, a lake stream's events arrive through every hub partition: the furthest
    // watermark is how far it got (a lower bound of the lag, as other partitions may trail).
    const position = Math.max(snapshot.txns.get(checkpointAppId(job, stream))?.version ?? 0, fromHub?.watermarks[stream] ?? 0);
    const streamHead = head.streams[stream];
    status.checkpoint[stream] = position;
    const behind = Math.max(0, streamHead.sequence - position);
    lagEvents += behind;
    const newest = timeMillis(streamHead.lastTimestamp);
    if (behind > 0 && newest !== null) {
      const from = timeMillis(applied[stream]?.timestamp ?? null) ?? firstTimestamp(head);
      lagSeconds = Math.max(lagSeconds, (newest - from) / 1000);
    }
  }
  // Past the head, "behind" means nothing: the lag is unknown until the log is repaired.
  return status.error ? { ...status, lagEvents: null, lagSeconds: null } : { ...status, lagEvents, lagSeconds };
}

/**
 * A logged business time in epoch ms. Records logged before ingest refused leap seconds may hold
 * "...:60" (Date.parse gives NaN, and lag was shown as NaN): that is the next second. Null for
 * what is not a time at all.
 */
function timeMillis(text: string | null): number | null {
  if (!text) return null;
  const parsed = Date.parse(text);
  if (!Number.isNaN(parsed)) return parsed;
  const leap = Date.parse(text.replace(/(\d\d:\d\d):60/, '$1:59'));
  return Number.isNaN(leap) ? null : leap + 1000;
}

/** The newest commit that changed rows (compaction only rearranges them), looking a few versions back. */
async function lastDataCommit(tableDir: string, latest: number): Promise<JobStatus['lastCommit']> {
  for (let version = latest; version >= Math.max(0, latest - 5); version--) {
    const actions = await readCommit(tableDir, version).catch(() => [] as Action[]);
    const operation = actions.find((a): a is Extract<Action, { commitInfo: unknown }> => 'commitInfo' in a)?.commitInfo.operation;
    if (!operation || operation === 'OPTIMIZE') continue;
    let bytesWritten = 0;
    let bytesRewritten = 0;
    for (const action of actions) {
      if ('add' in action) bytesWritten += action.add.deletionVector ? action.add.deletionVector.sizeInBytes : action.add.size;
      if ('remove' in action && !action.remove.deletionVector && action.remove.dataChange) bytesRewritten += action.remove.size ?? 0;
    }
    return { version, operation, bytesWritten, bytesRewritten };
  }
  return null;
}

/** Hub positions and, per lake stream, the furthest watermark over the hub partitions; null when not on a hub. */
function hubProgress(snapshot: Snapshot, job: Job): { partitions: Record<string, number>; watermarks: Record<string, number> } | null {
  const partitions: Record<string, number> = {};
  const watermarks: Record<string, number> = {};
  for (const { partitionId, stream, version } of hubTxns(snapshot, job)) {
    if (version === UNSET) continue;
    if (stream) watermarks[stream] = Math.max(watermarks[stream] ?? 0, version);
    else partitions[partitionId] = version;
  }
  return Object.keys(partitions).length > 0 ? { partitions, watermarks } : null;
}

/** What the forwarder recorded as sent by claim check to the hubs the job reads. */
async function oversizedOnHubs(layout: LakeLayout, snapshot: Snapshot, job: Job): Promise<OversizedEvent[]> {
  const hubs = [...new Set(hubTxns(snapshot, job).map((t) => t.hub))];
  const recorded = await Promise.all(hubs.map(async (hub) => (await readCheckpoint(layout, hub)).oversized ?? []));
  return recorded.flat();
}

/** With nothing applied yet, lag counts from the oldest stream's last record (a lower bound). */
function firstTimestamp(head: LogHead): number {
  const times = Object.values(head.streams).flatMap((s) => {
    const time = timeMillis(s.lastTimestamp);
    return time === null ? [] : [time];
  });
  return times.length ? Math.min(...times) : Date.now();
}

/** A table built by other code than the code now configured, said in words. */
function definitionWarning(job: Job, snapshot: Snapshot): string | null {
  const config = snapshot.metadata?.configuration ?? {};
  const version = config['eventlake.projectionVersion'];
  if (version === undefined) return null;
  if (Number(version) !== job.definition.version) {
    return `table built by ${job.projection}@${version}, code is @${job.definition.version}: the next run rebuilds it`;
  }
  if (config['eventlake.definitionHash'] !== definitionHash(job.definition)) {
    return `the projection's code changed without a version bump (built ${config['eventlake.definitionHash']}, code ${definitionHash(job.definition)}): bump its version to rebuild`;
  }
  return null;
}
