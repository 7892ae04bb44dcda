import { setTimeout as delay } from 'node:timers/promises';
import type { CheckpointStore, EventHubConsumerClientOptions } from '@azure/event-hubs';
import { loadSnapshot } from '../lake/delta/deltaTable.js';
import type { LakeLayout } from '../lake/layout.js';
import { LockHeldError } from '../lake/lock.js';
import { readLogMeta } from '../lake/log/logMeta.js';
import type { EventHubsConfig } from '../lake/stream/eventHubsConnection.js';
import { isOnHub } from './hubPositions.js';
import { readHub } from './hubReader.js';
import { runJob } from './jobRunner.js';
import type { Job } from './jobSource.js';

export interface HubRunOptions {
  eventHubs?: EventHubsConfig;
  /** Ownership shared by the process's instances (a BlobCheckpointStore); without it this instance reads every partition. */
  ownership?: CheckpointStore;
  /** Events handed over per batch (default: the smallest batchSize of the jobs, at most 5,000). */
  maxBatchSize?: number;
  /** Called after each committed batch. */
  onCommit?: (job: Job, partitionId: string, applied: number) => void;
  /** Called with errors the SDK or a batch reported (the partition is retried from the tables' positions). */
  onError?: (jobs: Job[], error: Error) => void;
  /** Passed to the consumer client (e.g. loadBalancingOptions). */
  consumerOptions?: EventHubConsumerClientOptions;
  env?: NodeJS.ProcessEnv;
}

export interface HubRunResult {
  job: string;
  hub: string;
  /** Events applied, and hub copies skipped as already applied. */
  applied: number;
  skipped: number;
  commits: number;
}

/**
 * A job that reads Event Hubs. Until it has a hub position it catches up from the lake log (the
 * hub keeps only days); its first hub batch per partition then starts at the forwarder's
 * hand-over mark. After that the lake log is read for it only for what the hub no longer holds
 * (see HubJobTable), and by a rebuild.
 */
export async function catchUpFromLake(layout: LakeLayout, job: Job, hub: string): Promise<void> {
  const snapshot = await loadSnapshot(layout.tableDir(job.output));
  if (isOnHub(snapshot, job, hub)) return;
  for (;;) {
    try {
      await runJob(layout, job, { mode: 'incremental' });
      return;
    } catch (error) {
      // Another instance is catching up: wait for it, then find nothing left to do.
      if (!(error instanceof LockHeldError)) throw error;
      await delay(200);
    }
  }
}

/** Runs the jobs from the hub, one reader for all, until every partition reaches the last event enqueued when it started. */
export async function runHubJobsToEnd(layout: LakeLayout, jobs: Job[], options: HubRunOptions): Promise<HubRunResult[]> {
  return consumeHub(layout, jobs, options, new AbortController(), true);
}

/** Runs the jobs from the hub, one reader for all, until `signal` aborts. */
export async function runHubJobs(layout: LakeLayout, jobs: Job[], options: HubRunOptions, signal: AbortSignal): Promise<HubRunResult[]> {
  const controller = new AbortController();
  signal.addEventListener('abort', () => controller.abort(), { once: true });
  if (signal.aborted) controller.abort();
  return consumeHub(layout, jobs, options, controller, false);
}

/** One job to the hub's end (see runHubJobsToEnd). */
export async function runHubJobToEnd(layout: LakeLayout, job: Job, options: HubRunOptions): Promise<HubRunResult> {
  return (await runHubJobsToEnd(layout, [job], options))[0];
}

/** One job until `signal` aborts (see runHubJobs). */
export async function runHubJob(layout: LakeLayout, job: Job, options: HubRunOptions, signal: AbortSignal): Promise<HubRunResult> {
  return (await runHubJobs(layout, [job], options, signal))[0];
}

async function consumeHub(layout: LakeLayout, jobs: Job[], options: HubRunOptions, controller: AbortController, toEnd: boolean): Promise<HubRunResult[]> {
  if (jobs.length === 0) return [];
  const meta = await readLogMeta(layout);
  if (!meta) throw new Error(`jobs ${jobs.map((job) => job.name).join(', ')}: the lake ${layout.root} has no log yet`);
  return readHub(layout, jobs, meta.partitions, options, controller, toEnd, (job, hub) => catchUpFromLake(layout, job, hub));
}
