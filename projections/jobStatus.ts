import type { Action } from '../lake/delta/actions.js';
import { loadSnapshot as loadTableSnapshot, readCommit } from '../lake/delta/deltaTable.js';
import type { Snapshot } from '../lake/delta/snapshot.js';
import { listDeadLetters } from './deadLetters.js';
import { definitionHash } from './definitionHash.js';
import { builtVersion, lastApplied } from './jobCommits.js';
import { hubTxns, UNSET } from './hubPositions.js';
import { readJobState } from './jobState.js';
import type { LakeLayout } from '../lake/layout.js';
import { readHead } from '../lake/log/logHead.js';
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
  /** Log records not yet applied. */
  lagEvents: number;
  /** Business time of the newest record minus that of the last applied one (0 when caught up). */
  lagSeconds: number;
  /** When the job last ran, and how it ended. */
  lastRun: string | null;
  lastError: string | null;
  /** Open dead letters (events the projection threw on). */
  deadLetters: number;
  /** Projection version and definition hash the table was built with (null: no table yet). */
  builtVersion: number | null;
  /** Why the read model does not match the code, if it does not. */
  warning: string | null;
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

export async function jobStatus(layout: LakeLayout, job: Job): Promise<JobStatus> {
  const tableDir = layout.tableDir(job.output);
  const [snapshot, meta, head, runState, letters] = await Promise.all([
    loadTableSnapshot(tableDir),
    readLogMeta(layout),
    readHead(layout.headFile),
    readJobState(layout, job.name),
    listDeadLetters(layout, job.name),
  ]);
  const status: JobStatus = {
    job: job.name,
    projection: job.projection,
    projectionVersion: job.definition.version,
    table: tableDir,
    tableVersion: snapshot.version,
    checkpoint: {},
    lagEvents: 0,
    lagSeconds: 0,
    lastRun: runState.lastRunAt ?? (snapshot.commitTimestamp ? new Date(snapshot.commitTimestamp).toISOString() : null),
    lastError: runState.lastOutcome === 'failed' ? runState.lastError : null,
    deadLetters: letters.length,
    builtVersion: builtVersion(snapshot),
    warning: definitionWarning(job, snapshot),
    lastCommit: await lastDataCommit(tableDir, snapshot.version),
  };
  if (!meta || !head) return status;
  const applied = await lastApplied(tableDir, snapshot);
  const fromHub = hubProgress(snapshot, job);
  if (fromHub) status.hub = fromHub.partitions;
  if (job.source === 'eventhubs') status.hubOversized = await oversizedOnHubs(layout, snapshot, job);
  for (const stream of sourceStreams(job, meta.partitions)) {
    // On the hub, a lake stream's events arrive through every hub partition: the furthest
    // watermark is how far it got (a lower bound of the lag, as other partitions may trail).
    const position = Math.max(snapshot.txns.get(checkpointAppId(job, stream))?.version ?? 0, fromHub?.watermarks[stream] ?? 0);
    const streamHead = head.streams[stream];
    status.checkpoint[stream] = position;
    const behind = Math.max(0, streamHead.sequence - position);
    status.lagEvents += behind;
    if (behind > 0 && streamHead.lastTimestamp) {
      const appliedAt = applied[stream]?.timestamp;
      const from = appliedAt ? Date.parse(appliedAt) : firstTimestamp(head);
      status.lagSeconds = Math.max(status.lagSeconds, (Date.parse(streamHead.lastTimestamp) - from) / 1000);
    }
  }
  return status;
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
function firstTimestamp(head: NonNullable<Awaited<ReturnType<typeof readHead>>>): number {
  const times = Object.values(head.streams).flatMap((s) => (s.lastTimestamp ? [Date.parse(s.lastTimestamp)] : []));
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
