import { setTimeout as delay } from 'node:timers/promises';
import {
  earliestEventPosition, type CheckpointStore, type EventHubConsumerClient, type EventHubConsumerClientOptions, type EventPosition,
  type PartitionContext, type ReceivedEventData,
} from '@azure/event-hubs';
import { loadSnapshot } from '../lake/delta/deltaTable.js';
import type { LakeLayout } from '../lake/layout.js';
import { LockHeldError } from '../lake/lock.js';
import { logger } from '../lake/logger.js';
import { readLogMeta } from '../lake/log/logMeta.js';
import { redactedError } from '../lake/redact.js';
import { openConsumer, type EventHubsConfig } from '../lake/stream/eventHubsConnection.js';
import { HubJobTable } from './hubJob.js';
import { resumeFromTable } from './hubOwnership.js';
import { isOnHub, UNSET, type HubPosition } from './hubPositions.js';
import { runJob } from './jobRunner.js';
import type { Job } from './jobSource.js';

export interface HubRunOptions {
  eventHubs?: EventHubsConfig;
  /** Ownership shared by the job's instances (a BlobCheckpointStore); without it this instance reads every partition. */
  ownership?: CheckpointStore;
  /** Events handed over per batch (default: the job's batchSize, at most 5,000). */
  maxBatchSize?: number;
  /** Called after each committed batch. */
  onCommit?: (job: Job, partitionId: string, applied: number) => void;
  /** Called with errors the SDK or a batch reported (the partition is retried from the table's position). */
  onError?: (job: Job, error: Error) => void;
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
 * hand-over mark. After that the lake log is never read again for it, except by a rebuild.
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

/** Runs the job from the hub until every partition reaches the last event enqueued when it started. */
export async function runHubJobToEnd(layout: LakeLayout, job: Job, options: HubRunOptions): Promise<HubRunResult> {
  const controller = new AbortController();
  return consumeHub(layout, job, options, controller, true);
}

/** Runs the job from the hub until `signal` aborts. */
export async function runHubJob(layout: LakeLayout, job: Job, options: HubRunOptions, signal: AbortSignal): Promise<HubRunResult> {
  const controller = new AbortController();
  signal.addEventListener('abort', () => controller.abort(), { once: true });
  if (signal.aborted) controller.abort();
  return consumeHub(layout, job, options, controller, false);
}

async function consumeHub(layout: LakeLayout, job: Job, options: HubRunOptions, controller: AbortController, toEnd: boolean): Promise<HubRunResult> {
  const meta = await readLogMeta(layout);
  if (!meta) throw new Error(`job ${job.name}: the lake ${layout.root} has no log yet`);
  const startPositions: Record<string, EventPosition> = {};
  let table: HubJobTable | undefined;
  const store = options.ownership ? resumeFromTable(options.ownership, () => refreshStartPositions(table!, partitionIds, startPositions)) : undefined;
  const { consumer, hubName } = await openConsumer(options.eventHubs, store, options.consumerOptions, options.env);
  const result: HubRunResult = { job: job.name, hub: hubName, applied: 0, skipped: 0, commits: 0 };
  let partitionIds: string[] = [];
  try {
    partitionIds = await consumer.getPartitionIds();
    await catchUpFromLake(layout, job, hubName);
    table = await HubJobTable.open(layout, job, hubName, meta.partitions);
    await refreshStartPositions(table, partitionIds, startPositions);
    const ends = toEnd ? await lastEnqueued(consumer, partitionIds) : null;
    const done = async () => ends !== null && (await reachedEnds(table!, ends));
    if (await done()) return result;
    let failure: Error | null = null;
    let inFlight = 0;
    const subscription = consumer.subscribe({
      processEvents: async (events: ReceivedEventData[], context: PartitionContext) => {
        if (events.length === 0 || controller.signal.aborted) return;
        inFlight += 1;
        try {
          const batch = await table!.apply(context.partitionId, events);
          result.applied += batch.applied;
          result.skipped += batch.skipped;
          if (batch.committed) {
            result.commits += 1;
            options.onCommit?.(job, context.partitionId, batch.applied);
          }
        } catch (error) {
          if (!toEnd) throw error; // the SDK reports it and reads the partition again from the table's position
          failure ??= redactedError(error);
          controller.abort();
          return;
        } finally {
          inFlight -= 1;
        }
        if (await done()) controller.abort();
      },
      processError: async (error: Error) => {
        const clean = redactedError(error);
        logger.warn({ job: job.name, hub: hubName, error: clean.message }, 'reading the job from Event Hubs failed; the partition resumes from the table');
        options.onError?.(job, clean);
        if (toEnd && !isOwnershipChange(error)) {
          failure ??= clean;
          controller.abort();
        }
      },
    }, { startPosition: startPositions, maxBatchSize: options.maxBatchSize ?? Math.min(job.batchSize, 5000), maxWaitTimeInSeconds: 1 });
    await new Promise<void>((resolve) => (controller.signal.aborted ? resolve() : controller.signal.addEventListener('abort', () => resolve(), { once: true })));
    // Let batches being applied end before the partitions close (a failed run stops the others' too).
    while (inFlight > 0) await delay(20);
    await subscription.close();
    if (failure) throw failure;
    return result;
  } finally {
    await consumer.close();
    await table?.close();
  }
}

/** Where each partition starts: after the table's position (or the hand-over mark). */
async function refreshStartPositions(table: HubJobTable, partitionIds: string[], into: Record<string, EventPosition>): Promise<void> {
  for (const [id, position] of await table.positions(partitionIds)) into[id] = startAfter(position);
}

function startAfter(position: HubPosition): EventPosition {
  return position.sequence === UNSET ? earliestEventPosition : { sequenceNumber: position.sequence, isInclusive: false };
}

async function lastEnqueued(consumer: EventHubConsumerClient, partitionIds: string[]): Promise<Map<string, number>> {
  const ends = new Map<string, number>();
  for (const id of partitionIds) ends.set(id, (await consumer.getPartitionProperties(id)).lastEnqueuedSequenceNumber);
  return ends;
}

async function reachedEnds(table: HubJobTable, ends: Map<string, number>): Promise<boolean> {
  const positions = await table.positions([...ends.keys()]);
  return [...ends].every(([id, end]) => positions.get(id)!.sequence >= end);
}

/** A partition moving to another instance is normal while instances balance. */
function isOwnershipChange(error: Error): boolean {
  return (error as { code?: string }).code === 'ReceiverDisconnectedError' || /stolen|ownership/i.test(error.message);
}
