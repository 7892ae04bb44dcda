/**
 * The Event Hubs test server's storage: in-memory partitions of an event hub, each an
 * append-only array of events with the numbering the real service gives them
 * (gap-free sequence numbers from 0, byte offsets as strings, monotonic enqueued times),
 * retention that expires the oldest events (on demand: `expire`), and the start-position
 * filters receivers send (`apache.org:selector-filter:string`).
 *
 * Consumer groups hold no state here: as on the real service, a reader's position is the
 * reader's business (the filter it attaches with), so every group sees every event.
 */
import { createHash } from 'node:crypto';
import type { Message } from 'rhea';

/** One event as the hub stored it: the publisher's AMQP message plus the service's numbering. */
export interface StoredEvent {
  partition: string;
  /** 0-based, gap-free within the partition. */
  sequenceNumber: number;
  /** Byte position of the event in the partition, as a decimal string (x-opt-offset). */
  offset: string;
  enqueuedTime: Date;
  partitionKey?: string;
  /** The AMQP body as sent: a Buffer for the data section the SDK uses for JSON/bytes. */
  body: unknown;
  /** The AMQP application properties as sent (EventData.properties). */
  properties?: Record<string, unknown>;
  /** The publisher's message as decoded, redelivered to receivers with annotations added. */
  message: Message;
}

export class Partition {
  /** The events still retained, oldest first (retention removes from the front). */
  readonly events: StoredEvent[] = [];
  private nextOffset = 0;
  /** Sequence number of the last event ever enqueued (-1: never used); retention does not reset it. */
  private lastSequence = -1;
  private last: StoredEvent | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(readonly id: string) {}

  append(message: Message, encodedSize: number): StoredEvent {
    const now = Date.now();
    // Enqueued times never go backwards, so "enqueued after T" filters stay meaningful.
    const enqueuedTime = new Date(this.last ? Math.max(now, this.last.enqueuedTime.getTime()) : now);
    const partitionKey = message.message_annotations?.['x-opt-partition-key'];
    const event: StoredEvent = {
      partition: this.id,
      sequenceNumber: ++this.lastSequence,
      offset: String(this.nextOffset),
      enqueuedTime,
      partitionKey: typeof partitionKey === 'string' ? partitionKey : undefined,
      body: message.body && typeof message.body === 'object' && 'content' in message.body
        ? (message.body as { content: unknown }).content
        : message.body,
      properties: message.application_properties,
      message,
    };
    this.nextOffset += encodedSize;
    this.events.push(event);
    this.last = event;
    for (const listener of this.listeners) listener();
    return event;
  }

  /**
   * Retention: the oldest `count` retained events expire. The beginning sequence number moves
   * past them; the last enqueued sequence number, offset and time stay (the service keeps
   * reporting them for a partition emptied by expiry).
   */
  expire(count: number): void {
    this.events.splice(0, Math.min(count, this.events.length));
  }

  /** Sequence number of the first retained event, or where the next one will be. */
  get beginSequence(): number {
    return this.events[0]?.sequenceNumber ?? this.lastSequence + 1;
  }

  get lastEnqueuedSequence(): number {
    return this.lastSequence;
  }

  /** Offset of the last event ever enqueued (-1: never used). */
  get lastEnqueuedOffset(): number {
    return this.last ? Number(this.last.offset) : -1;
  }

  /** The retained event with this sequence number, or undefined (expired or not yet enqueued). */
  at(sequenceNumber: number): StoredEvent | undefined {
    const index = sequenceNumber - (this.events[0]?.sequenceNumber ?? 0);
    return index >= 0 ? this.events[index] : undefined;
  }

  /** Called after every append; returns the unsubscribe function. */
  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * The AMQP map `$management` answers for `com.microsoft:partition` READ. A partition never
   * used answers last -1, offset "-1", time 1970 and begin 0 (our choice); one emptied by
   * retention answers is_partition_empty with begin = last = its last sequence number, as the
   * service does (recorded against real Event Hubs; see docs/azure-test-servers.md).
   */
  properties(hubName: string): Record<string, unknown> {
    const used = this.last !== undefined;
    const empty = this.events.length === 0;
    return {
      name: hubName,
      partition: this.id,
      type: 'com.microsoft:partition',
      begin_sequence_number: empty ? Math.max(0, this.lastSequence) : this.events[0].sequenceNumber,
      last_enqueued_sequence_number: this.lastSequence,
      last_enqueued_offset: used ? this.last!.offset : '-1',
      last_enqueued_time_utc: used ? this.last!.enqueuedTime : new Date(0),
      is_partition_empty: empty,
    };
  }
}

/** The partition a keyed event goes to. Stable for a key, not Azure's own hash. */
export function partitionForKey(key: string, partitionCount: number): number {
  return createHash('sha256').update(key).digest().readUInt32BE(0) % partitionCount;
}

const selectorPattern =
  /^amqp\.annotation\.(x-opt-offset|x-opt-sequence-number|x-opt-enqueued-time)\s*(>=|>)\s*'([^']*)'$/i;

/** A start position the service refuses: the link is closed with this AMQP error. */
export class StartPositionError extends Error {
  readonly condition = 'com.microsoft:argument-out-of-range';
}

/**
 * Parses the SQL-like selector the SDKs send, e.g. `amqp.annotation.x-opt-offset > '-1'`
 * (earliest), `... x-opt-offset > '@latest'`, `... x-opt-sequence-number >= '41'`,
 * `... x-opt-enqueued-time > '1700000000000'` (ms since epoch), and returns the sequence number
 * of the first event the reader gets. As the service does: a position before the first retained
 * event starts at the first retained one; a sequence number or offset past the last enqueued
 * one is refused (StartPositionError, in the service's words). Throws on any other selector.
 */
export function parseStartFilter(selector: string): (partition: Partition) => number {
  const match = selectorPattern.exec(selector.trim());
  if (!match) throw new Error(`unsupported selector filter: ${selector}`);
  const [, field, operator, value] = match;
  const inclusive = operator === '>=';
  const after = (n: number, limit: number) => (inclusive ? n >= limit : n > limit);
  switch (field.toLowerCase()) {
    case 'x-opt-offset':
      if (value === '@latest') return (partition) => partition.lastEnqueuedSequence + 1;
      return (partition) => {
        const lastOffset = partition.lastEnqueuedOffset;
        if (Number(value) > lastOffset) {
          throw new StartPositionError(`The supplied offset '${value}' is invalid. The last offset in the system is '${lastOffset}'`);
        }
        return firstSequence(partition, (e) => after(Number(e.offset), Number(value)));
      };
    case 'x-opt-sequence-number':
      return (partition) => {
        const last = partition.lastEnqueuedSequence;
        if (Number(value) > last) {
          throw new StartPositionError(`The supplied sequence number '${value}' is invalid. The last sequence number in the system is '${last}'`);
        }
        return firstSequence(partition, (e) => after(e.sequenceNumber, Number(value)));
      };
    default:
      return (partition) => firstSequence(partition, (e) => after(e.enqueuedTime.getTime(), Number(value)));
  }
}

/** The first retained event that passes, else the sequence number the next event will get. */
function firstSequence(partition: Partition, test: (event: StoredEvent) => boolean): number {
  const event = partition.events.find(test);
  return event ? event.sequenceNumber : partition.lastEnqueuedSequence + 1;
}
