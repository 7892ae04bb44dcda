import { setTimeout as delay } from 'node:timers/promises';
import type { EventData, EventHubProducerClient } from '@azure/event-hubs';
import type { LakeLayout } from '../layout.js';
import { acquireLock, type Lock } from '../lock.js';
import { logger } from '../logger.js';
import { readCommittedHead } from '../log/committedHead.js';
import type { StreamHead } from '../log/logHead.js';
import { partitionOf, partitionStreams, readLogMeta } from '../log/logMeta.js';
import { StreamCursor } from '../log/streamCursor.js';
import { redact, redactedError } from '../redact.js';
import { claimCheckFor, keepRecentOversized, type OversizedEvent } from './claimCheck.js';
import { openProducer, type EventHubsConfig } from './eventHubsConnection.js';
import { keepRecentMarks, readCheckpoint, writeCheckpoint, type ForwarderCheckpoint } from './forwarderCheckpoint.js';
import { checkHubPartitions, HubPartitionsChangedError } from './hubPartitionLayout.js';

/**
 * The outbox forwarder: tails the lake log's event partitions and publishes every event to an
 * event hub, so the hub carries exactly the lake's events (the lake stays the system of record).
 *
 * Each event goes to the hub partition its aggregate id hashes to (so an aggregate's events share
 * a hub partition and keep their order), body = the envelope as logged, and application properties
 * aggregateId, lakePartition, lakeSequence, eventType, eventId (also the AMQP message id).
 *
 * Why a partition id rather than the SDK's partition key: a key-routed batch holds one key, so
 * keyed sends of many aggregates run concurrently and land in a hub partition in any order. Sent
 * by partition id, one lake partition's events reach each hub partition in lake order (each hub
 * partition's batches go one after another), so a consumer dedupes exactly with one watermark per
 * (hub partition, lake partition) instead of remembering every event (see projections/hubSource.ts).
 * The service cannot take both a key and a partition id, so the key is in the properties.
 *
 * Delivery is at least once: the checkpoint per lake partition is written after the batches it
 * covers were accepted, so a crash in between re-sends them, in order, from the checkpoint on.
 * Each round that has something to send first checks that the hub still has the partitions it
 * hashes onto (hubPartitionLayout.ts) and records a hand-over mark (see forwarderCheckpoint.ts).
 * An event larger than a hub message goes as a claim check (claimCheck.ts).
 */
export interface ForwarderOptions {
  layout: LakeLayout;
  /** Where to publish; default: EVENTLAKE_EVENTHUBS_CONNECTION_STRING. */
  eventHubs?: EventHubsConfig;
  /** Use this producer instead of opening one (the forwarder does not close it). */
  producer?: EventHubProducerClient;
  /** Lake records read per partition before they are sent and checkpointed (default 1000). */
  readBatch?: number;
  /** Hub partitions sent to at once (default 16); each one's batches go one after another. */
  concurrency?: number;
  env?: NodeJS.ProcessEnv;
}

export interface ForwardResult {
  hub: string;
  /** Events published by this call. */
  sent: number;
  /** sendBatch calls made. */
  batches: number;
  /** Per lake stream that moved: its checkpoint before and after. */
  streams: Record<string, { from: number; to: number }>;
  /** Events larger than a hub message, sent as claim checks by this call. */
  oversized: OversizedEvent[];
}

export interface RunForwarderOptions extends ForwarderOptions {
  /** Pause after a round that found nothing new, or failed (default 1000 ms). */
  intervalMs?: number;
  /** Called after every round that published something. */
  onRound?: (result: ForwardResult) => void;
  /** Called with a (secret-free) error when a round failed; the loop goes on. */
  onError?: (error: Error) => void;
}

export interface ForwarderTotals {
  sent: number;
  batches: number;
  rounds: number;
  errors: number;
}

/** Forwards everything committed in the lake log up to its head now, then returns. */
export async function forwardOnce(options: ForwarderOptions): Promise<ForwardResult> {
  const forwarder = await EventHubsForwarder.open(options);
  try {
    return await forwarder.forward();
  } finally {
    await forwarder.close();
  }
}

/** Forwards until `signal` aborts, polling the lake log's head every `intervalMs` when idle. */
export async function runForwarder(options: RunForwarderOptions, signal: AbortSignal): Promise<ForwarderTotals> {
  const forwarder = await EventHubsForwarder.open(options);
  const totals: ForwarderTotals = { sent: 0, batches: 0, rounds: 0, errors: 0 };
  try {
    while (!signal.aborted) {
      let sent = 0;
      try {
        const result = await forwarder.forward();
        totals.rounds += 1;
        totals.sent += sent = result.sent;
        totals.batches += result.batches;
        if (sent > 0) options.onRound?.(result);
      } catch (error) {
        // Retrying cannot help: the operator has to move to a new hub (the error says how).
        if (error instanceof HubPartitionsChangedError) throw error;
        totals.errors += 1;
        const clean = redactedError(error);
        logger.error({ hub: forwarder.hub, error: clean.message }, 'forwarding lake events to Event Hubs failed; will retry');
        options.onError?.(clean);
      }
      if (sent === 0) await delay(options.intervalMs ?? 1000, undefined, { signal }).catch(() => undefined);
    }
  } finally {
    await forwarder.close();
  }
  return totals;
}

/** One published event and where it came from in the lake. */
interface Outgoing {
  hubPartition: string;
  envelope: LoggedEvent;
  stream: string;
  sequence: number;
  event: EventData;
}

/** The fields of the logged envelope the forwarder itself needs (storage knows no domain). */
interface LoggedEvent {
  eventId: string;
  eventType: string;
  aggregateId: string;
  partition: number;
  sequence: number;
}

export class EventHubsForwarder {
  /** Open cursors keep their byte position between rounds; dropped after a failure. */
  private readonly cursors = new Map<string, StreamCursor>();
  private checkpointWrites: Promise<void> = Promise.resolve();

  private constructor(
    private readonly options: ForwarderOptions,
    private readonly producer: EventHubProducerClient,
    private readonly ownsProducer: boolean,
    readonly hub: string,
    private readonly secrets: string[],
    private readonly lock: Lock,
    private readonly checkpoint: ForwarderCheckpoint,
    private readonly hubPartitions: string[],
  ) {}

  static async open(options: ForwarderOptions): Promise<EventHubsForwarder> {
    const opened = options.producer
      ? { producer: options.producer, hubName: options.producer.eventHubName, secrets: [] as string[] }
      : await openProducer(options.eventHubs, options.env);
    let lock: Lock | undefined;
    try {
      lock = await acquireLock(options.layout.lockFile(`forwarder-${opened.hubName}`), `the Event Hubs forwarder to ${opened.hubName}`);
      const checkpoint = await readCheckpoint(options.layout, opened.hubName);
      const hubPartitions = await opened.producer.getPartitionIds();
      checkHubPartitions(opened.hubName, checkpoint.hubPartitions, hubPartitions);
      checkpoint.hubPartitions ??= hubPartitions;
      return new EventHubsForwarder(options, opened.producer, !options.producer, opened.hubName, opened.secrets, lock, checkpoint, hubPartitions);
    } catch (error) {
      await lock?.release();
      if (!options.producer) await opened.producer.close();
      throw error;
    }
  }

  /** Publishes every committed event after the checkpoint, up to the head as read now. */
  async forward(): Promise<ForwardResult> {
    const result: ForwardResult = { hub: this.hub, sent: 0, batches: 0, streams: {}, oversized: [] };
    const { layout } = this.options;
    // Segments without a head are refused here as by every reader of the log.
    const [meta, head] = await Promise.all([readLogMeta(layout), readCommittedHead(layout)]);
    if (!meta || !head) return result;
    const streams = partitionStreams(meta.partitions);
    if (streams.some((stream) => (head.streams[stream]?.sequence ?? 0) > (this.checkpoint.streams[stream]?.sequence ?? 0))) await this.recordMark(streams);
    const outcomes = await Promise.allSettled(streams.map((stream, partition) => this.forwardStream(stream, partition, head.streams[stream], result)));
    const failed = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [{ stream: streams[i], reason: o.reason as Error }] : []));
    for (const { stream } of failed) this.cursors.delete(stream); // resume from the checkpoint next time
    if (failed.length > 0) {
      const { stream, reason } = failed[0];
      throw new Error(`forwarding lake stream ${stream} to event hub ${this.hub} failed: ${redact(reason.message, this.secrets)}`);
    }
    if (result.sent > 0) logger.info({ hub: this.hub, sent: result.sent, batches: result.batches }, 'forwarded lake events to Event Hubs');
    return result;
  }

  private async forwardStream(stream: string, partition: number, streamHead: StreamHead | undefined, result: ForwardResult): Promise<void> {
    if (!streamHead) return;
    const from = this.checkpoint.streams[stream]?.sequence ?? 0;
    if (from > streamHead.sequence) {
      logger.warn({ hub: this.hub, stream, checkpoint: from, head: streamHead.sequence }, 'forwarder checkpoint is ahead of the lake log; nothing to send until the log passes it');
      return;
    }
    let cursor = this.cursors.get(stream);
    if (!cursor || cursor.nextSequence !== from + 1) {
      cursor = new StreamCursor(this.options.layout.streamDir(stream), from);
      this.cursors.set(stream, cursor);
    }
    for (;;) {
      const first = cursor.nextSequence;
      const lines = await cursor.next(this.options.readBatch ?? 1000, streamHead);
      if (lines.length === 0) return;
      const outgoing = lines.map((line, i) => toOutgoing(line, stream, partition, first + i, this.hubPartitions));
      result.batches += await this.publish(outgoing, result.oversized);
      const last = first + lines.length - 1;
      await this.saveCheckpoint({ stream, sequence: last });
      result.sent += lines.length;
      result.streams[stream] = { from: result.streams[stream]?.from ?? from, to: last };
    }
  }

  /**
   * Events are grouped per hub partition (in log order within each group); the groups are sent
   * concurrently, each group's batches one after another, so within a hub partition the lake's
   * order holds, even across a failure (a failed group sends nothing after its failed batch).
   * An event that does not fit an empty batch goes as a claim check, noted in `oversized`.
   * Returns the number of sendBatch calls.
   */
  private async publish(outgoing: Outgoing[], oversized: OversizedEvent[]): Promise<number> {
    const groups = new Map<string, Outgoing[]>();
    for (const item of outgoing) {
      const group = groups.get(item.hubPartition);
      if (group) group.push(item);
      else groups.set(item.hubPartition, [item]);
    }
    let batches = 0;
    await inPool([...groups.entries()], this.options.concurrency ?? 16, async ([partitionId, items]) => {
      let batch = await this.producer.createBatch({ partitionId });
      for (const item of items) {
        if (batch.tryAdd(item.event)) continue;
        if (batch.count > 0) {
          await this.producer.sendBatch(batch);
          batches += 1;
          batch = await this.producer.createBatch({ partitionId });
          if (batch.tryAdd(item.event)) continue;
        }
        if (!batch.tryAdd(claimCheckFor(item.event))) {
          throw new Error(`lake event ${item.stream}/${item.sequence}: not even its claim check fits one Event Hubs message (${batch.maxSizeInBytes} bytes)`);
        }
        oversized.push(this.noteOversized(item, batch.maxSizeInBytes));
      }
      if (batch.count > 0) {
        await this.producer.sendBatch(batch);
        batches += 1;
      }
    });
    return batches;
  }

  /** Records an event sent as a claim check; the checkpoint written after its batch keeps it. */
  private noteOversized(item: Outgoing, limit: number): OversizedEvent {
    const noted: OversizedEvent = {
      stream: item.stream, sequence: item.sequence, eventId: item.envelope.eventId, eventType: item.envelope.eventType,
      aggregateId: item.envelope.aggregateId, bytes: Buffer.byteLength(JSON.stringify(item.envelope)), limit, at: new Date().toISOString(),
    };
    logger.warn({ hub: this.hub, ...noted }, 'lake event larger than one Event Hubs message: sent as a claim check (readers take it from the lake)');
    const kept = (this.checkpoint.oversized ?? []).filter((o) => o.stream !== noted.stream || o.sequence !== noted.sequence);
    if (kept.length === (this.checkpoint.oversized ?? []).length) this.checkpoint.oversizedCount = (this.checkpoint.oversizedCount ?? 0) + 1;
    this.checkpoint.oversized = keepRecentOversized([...kept, noted]);
    return noted;
  }

  /**
   * Notes where the hub stands now that nothing of this forwarder is in flight: everything up to
   * the checkpoint is at or before each partition's last sequence number, and everything after
   * the checkpoint will be sent after it. A job that caught up from the lake to at least the
   * mark's lake positions can start reading the hub right after the mark's hub positions.
   */
  private async recordMark(streams: string[]): Promise<void> {
    // A running forwarder notices partitions added to the hub before it sends anything more.
    const now = (await this.producer.getEventHubProperties()).partitionIds;
    checkHubPartitions(this.hub, this.checkpoint.hubPartitions, now);
    const hub: Record<string, number> = {};
    for (const id of this.hubPartitions) hub[id] = (await this.producer.getPartitionProperties(id)).lastEnqueuedSequenceNumber;
    const lake = Object.fromEntries(streams.map((stream) => [stream, this.checkpoint.streams[stream]?.sequence ?? 0]));
    this.checkpoint.marks = keepRecentMarks([...(this.checkpoint.marks ?? []), { lake, hub, at: new Date().toISOString() }]);
    await this.saveCheckpoint();
  }

  /** Checkpoint writes are serialized; each writes the latest positions of every stream. */
  private async saveCheckpoint(advanced?: { stream: string; sequence: number }): Promise<void> {
    if (advanced) this.checkpoint.streams[advanced.stream] = { sequence: advanced.sequence };
    const write = this.checkpointWrites.catch(() => undefined).then(() => {
      this.checkpoint.updatedAt = new Date().toISOString();
      return writeCheckpoint(this.options.layout, { ...this.checkpoint, streams: { ...this.checkpoint.streams } });
    });
    this.checkpointWrites = write;
    await write;
  }

  async close(): Promise<void> {
    try {
      await this.checkpointWrites.catch(() => undefined);
      if (this.ownsProducer) await this.producer.close();
    } finally {
      await this.lock.release();
    }
  }
}

function toOutgoing(line: string, stream: string, partition: number, sequence: number, hubPartitions: string[]): Outgoing {
  const envelope = JSON.parse(line) as LoggedEvent & Record<string, unknown>;
  if (envelope.partition !== partition || envelope.sequence !== sequence) {
    throw new Error(`lake record ${stream}/${sequence} says it is partition ${envelope.partition}, sequence ${envelope.sequence}`);
  }
  return {
    hubPartition: hubPartitions[partitionOf(envelope.aggregateId, hubPartitions.length)],
    envelope,
    stream,
    sequence,
    event: {
      body: envelope,
      contentType: 'application/json',
      messageId: envelope.eventId,
      properties: { aggregateId: envelope.aggregateId, lakePartition: partition, lakeSequence: sequence, eventType: envelope.eventType, eventId: envelope.eventId },
    },
  };
}

/** Runs `work` over `items`, at most `limit` at a time; after a failure starts nothing new, and rethrows it once all running work ended. */
async function inPool<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | null = null;
  const worker = async () => {
    while (!failure && next < items.length) {
      const item = items[next++];
      try {
        await work(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure) throw (failure as { error: unknown }).error;
}
