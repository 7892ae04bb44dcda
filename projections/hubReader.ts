import { setTimeout as delay } from 'node:timers/promises';
import {
  earliestEventPosition, type CheckpointStore, type EventHubConsumerClient, type EventPosition, type PartitionContext,
  type PartitionProperties, type ReceivedEventData,
} from '@azure/event-hubs';
import type { LakeLayout } from '../lake/layout.js';
import { logger } from '../lake/logger.js';
import { redactedError } from '../lake/redact.js';
import { openConsumer } from '../lake/stream/eventHubsConnection.js';
import { readCheckpoint } from '../lake/stream/forwarderCheckpoint.js';
import { checkHubPartitions, HubPartitionsChangedError } from '../lake/stream/hubPartitionLayout.js';
import { HubJobTable, PastHubEndError, type HubBatchResult } from './hubJob.js';
import { jobSetTag, ownerIdFor, OwnershipConflictError, resumeFromTable } from './hubOwnership.js';
import type { HubPosition } from './hubPositions.js';
import type { HubRunOptions, HubRunResult } from './hubRunner.js';
import type { Job } from './jobSource.js';

/** The SDK's default: an owner that did not renew its claim for this long has left. */
const OWNERSHIP_EXPIRATION_MS = 60_000;

/**
 * One reader of the hub for every hub job of a process: each partition the process owns (all of
 * them without an ownership store) is read ONCE, by one receiver, and each batch is handed to
 * every job's table. Why not one consumer per job: on one consumer group, N jobs would open N
 * receivers per partition (the service allows 5 without an owner level), and with an ownership
 * store they would claim partitions from each other as if they were instances of one job. A
 * partition starts after the least advanced job's position; the jobs further on skip what they
 * already applied (HubJobTable checks every batch against its table).
 */
export async function readHub(
  layout: LakeLayout, jobs: Job[], lakePartitions: number, options: HubRunOptions, controller: AbortController, toEnd: boolean,
  catchUp: (job: Job, hub: string) => Promise<void>,
): Promise<HubRunResult[]> {
  const startPositions: Record<string, EventPosition> = {};
  const tables: HubJobTable[] = [];
  let partitionIds: string[] = [];
  const tag = jobSetTag(jobs.map((job) => job.name));
  const expirationMs = options.consumerOptions?.loadBalancingOptions?.partitionOwnershipExpirationIntervalInMs ?? OWNERSHIP_EXPIRATION_MS;
  const refresh = () => refreshStartPositions(tables, partitionIds, startPositions);
  const store: CheckpointStore | undefined = options.ownership
    ? resumeFromTable(options.ownership, refresh, { tag, jobs: jobs.map((job) => job.name), expirationMs })
    : undefined;
  const { consumer, hubName } = await openConsumer(options.eventHubs, store, { ...options.consumerOptions, identifier: ownerIdFor(tag) }, options.env);
  const results = new Map(jobs.map((job) => [job, { job: job.name, hub: hubName, applied: 0, skipped: 0, commits: 0 } satisfies HubRunResult]));
  try {
    partitionIds = await consumer.getPartitionIds();
    checkHubPartitions(hubName, (await readCheckpoint(layout, hubName)).hubPartitions, partitionIds);
    for (const job of jobs) await catchUp(job, hubName);
    for (const job of jobs) tables.push(await HubJobTable.open(layout, job, hubName, lakePartitions, partitionIds));
    const properties = await partitionProperties(consumer, partitionIds);
    for (const table of tables) await table.meetHub(properties);
    await refresh();
    const ends = toEnd ? new Map(properties.map((p) => [p.partitionId, p.lastEnqueuedSequenceNumber])) : null;
    const done = async () => ends !== null && (await reachedEnds(tables, ends));
    if (await done()) return [...results.values()];

    let failure: Error | null = null;
    const fail = (error: unknown) => {
      failure ??= redactedError(explained(error));
      controller.abort();
    };
    let inFlight = 0;
    const subscription = consumer.subscribe({
      processEvents: async (events: ReceivedEventData[], context: PartitionContext) => {
        if (events.length === 0 || controller.signal.aborted) return;
        if (!partitionIds.includes(context.partitionId)) {
          // The SDK found partitions added since the start: the forwarder does not hash onto them.
          return fail(new HubPartitionsChangedError(`event hub ${hubName} gained partition ${context.partitionId} while the jobs read it; restart them (they will say what to do)`));
        }
        inFlight += 1;
        try {
          const outcomes = await Promise.allSettled(tables.map((table) => table.apply(context.partitionId, events)));
          outcomes.forEach((outcome, i) => {
            if (outcome.status === 'fulfilled') count(results.get(tables[i].job)!, outcome.value, options, tables[i].job, context.partitionId);
          });
          const positions = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value.position] : []));
          if (positions.length === tables.length) startPositions[context.partitionId] = startAfter(least(positions));
          const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
          if (failed) {
            if (toEnd || isFatal(failed.reason)) return fail(failed.reason);
            // The SDK reports it and reads the partition again, from the least advanced table.
            await refresh();
            throw failed.reason;
          }
        } finally {
          inFlight -= 1;
        }
        if (await done()) controller.abort();
      },
      processError: async (error: Error) => {
        if (isOwnershipChange(error)) return;
        const clean = redactedError(error);
        logger.warn({ jobs: jobs.map((j) => j.name), hub: hubName, error: clean.message }, 'reading Event Hubs failed; the partition resumes from the tables');
        options.onError?.(jobs, clean);
        if (toEnd || isFatal(error)) fail(error);
      },
    }, { startPosition: startPositions, maxBatchSize: options.maxBatchSize ?? Math.min(...jobs.map((job) => job.batchSize), 5000), maxWaitTimeInSeconds: 1 });
    await new Promise<void>((resolve) => (controller.signal.aborted ? resolve() : controller.signal.addEventListener('abort', () => resolve(), { once: true })));
    // Let batches being applied end before the partitions close (a failed run stops the others' too).
    while (inFlight > 0) await delay(20);
    await subscription.close();
    if (failure) throw failure;
    return [...results.values()];
  } finally {
    await consumer.close();
    for (const table of tables) await table.close();
  }
}

function count(result: HubRunResult, batch: HubBatchResult, options: HubRunOptions, job: Job, partitionId: string): void {
  result.applied += batch.applied;
  result.skipped += batch.skipped;
  if (!batch.committed) return;
  result.commits += 1;
  options.onCommit?.(job, partitionId, batch.applied);
}

/** Where each partition starts: after the least advanced table's position (or hand-over mark). */
async function refreshStartPositions(tables: HubJobTable[], partitionIds: string[], into: Record<string, EventPosition>): Promise<void> {
  if (tables.length === 0) return;
  const all = await Promise.all(tables.map((table) => table.positions(partitionIds)));
  for (const id of partitionIds) into[id] = startAfter(least(all.map((positions) => positions.get(id)!)));
}

function least(positions: HubPosition[]): HubPosition {
  return positions.reduce((a, b) => (b.sequence < a.sequence ? b : a));
}

/** After a position; a negative one (not positioned, or filled from the lake only) reads from the first event held. */
function startAfter(position: HubPosition): EventPosition {
  return position.sequence < 0 ? earliestEventPosition : { sequenceNumber: position.sequence, isInclusive: false };
}

async function partitionProperties(consumer: EventHubConsumerClient, partitionIds: string[]): Promise<PartitionProperties[]> {
  const properties: PartitionProperties[] = [];
  for (const id of partitionIds) properties.push(await consumer.getPartitionProperties(id));
  return properties;
}

async function reachedEnds(tables: HubJobTable[], ends: Map<string, number>): Promise<boolean> {
  for (const table of tables) {
    const positions = await table.positions([...ends.keys()]);
    if (![...ends].every(([id, end]) => positions.get(id)!.sequence >= end)) return false;
  }
  return true;
}

/** A partition moving to another instance (a receiver with the same owner level took it) is normal while instances balance. */
function isOwnershipChange(error: Error): boolean {
  return (error as { code?: string }).code === 'ReceiverDisconnectedError' && /is getting disconnected|ownership/i.test(error.message);
}

const NO_LEVEL_REFUSED = /non-epoch receiver is not allowed/i;

/** Errors no retry can mend: the process must stop and say why. */
function isFatal(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return error instanceof OwnershipConflictError || error instanceof HubPartitionsChangedError || error instanceof PastHubEndError
    || code === 'ArgumentOutOfRangeError' || code === 'QuotaExceededError' || NO_LEVEL_REFUSED.test((error as Error).message ?? '');
}

/** The service's words, and what to do about them. */
function explained(error: unknown): unknown {
  const code = (error as { code?: string }).code;
  const message = (error as Error).message ?? String(error);
  if (code === 'QuotaExceededError') {
    return new Error(`${message} (More than 5 processes read this consumer group without partition ownership: configure eventHubs.ownership so instances share the partitions, or give each its own consumer group.)`);
  }
  if (NO_LEVEL_REFUSED.test(message)) {
    return new Error(`${message} (Other instances read this consumer group with partition ownership: configure the same eventHubs.ownership here, or use another consumer group.)`);
  }
  return error;
}
