import { loadSnapshot as loadTableSnapshot } from '../lake/delta/deltaTable.js';
import { lastApplied } from './jobCommits.js';
import type { LakeLayout } from '../lake/layout.js';
import { readHead } from '../lake/log/logHead.js';
import { readLogMeta } from '../lake/log/logMeta.js';
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
  /** When the table was last committed to. */
  lastRun: string | null;
}

export async function jobStatus(layout: LakeLayout, job: Job): Promise<JobStatus> {
  const tableDir = layout.tableDir(job.output);
  const [snapshot, meta, head] = await Promise.all([loadTableSnapshot(tableDir), readLogMeta(layout), readHead(layout.headFile)]);
  const status: JobStatus = {
    job: job.name,
    projection: job.projection,
    projectionVersion: job.definition.version,
    table: tableDir,
    tableVersion: snapshot.version,
    checkpoint: {},
    lagEvents: 0,
    lagSeconds: 0,
    lastRun: snapshot.commitTimestamp ? new Date(snapshot.commitTimestamp).toISOString() : null,
  };
  if (!meta || !head) return status;
  const applied = await lastApplied(tableDir, snapshot);
  for (const stream of sourceStreams(job, meta.partitions)) {
    const position = snapshot.txns.get(checkpointAppId(job, stream))?.version ?? 0;
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

/** With nothing applied yet, lag counts from the oldest stream's last record (a lower bound). */
function firstTimestamp(head: NonNullable<Awaited<ReturnType<typeof readHead>>>): number {
  const times = Object.values(head.streams).flatMap((s) => (s.lastTimestamp ? [Date.parse(s.lastTimestamp)] : []));
  return times.length ? Math.min(...times) : Date.now();
}
