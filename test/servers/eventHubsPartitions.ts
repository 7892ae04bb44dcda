/**
 * The Event Hubs test server's storage: in-memory partitions of an event hub, each an
 * append-only array of events with the numbering the real service gives them
 * (gap-free sequence numbers from 0, byte offsets as strings, monotonic enqueued times),
 * and the start-position filters receivers send (`apache.org:selector-filter:string`).
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

/** Where a receiver starts reading: the index of the first event it gets. */
export type StartPosition = (events: readonly StoredEvent[]) => number;

export class Partition {
  readonly events: StoredEvent[] = [];
  private nextOffset = 0;
  private readonly listeners = new Set<() => void>();

  constructor(readonly id: string) {}

  append(message: Message, encodedSize: number): StoredEvent {
    const previous = this.events[this.events.length - 1];
    const now = Date.now();
    // Enqueued times never go backwards, so "enqueued after T" filters stay meaningful.
    const enqueuedTime = new Date(previous ? Math.max(now, previous.enqueuedTime.getTime()) : now);
    const partitionKey = message.message_annotations?.['x-opt-partition-key'];
    const event: StoredEvent = {
      partition: this.id,
      sequenceNumber: this.events.length,
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
    for (const listener of this.listeners) listener();
    return event;
  }

  /** Called after every append; returns the unsubscribe function. */
  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The AMQP map `$management` answers for `com.microsoft:partition` READ. */
  properties(hubName: string): Record<string, unknown> {
    const last = this.events[this.events.length - 1];
    return {
      name: hubName,
      partition: this.id,
      type: 'com.microsoft:partition',
      begin_sequence_number: 0,
      last_enqueued_sequence_number: last ? last.sequenceNumber : -1,
      last_enqueued_offset: last ? last.offset : '-1',
      last_enqueued_time_utc: last ? last.enqueuedTime : new Date(0),
      is_partition_empty: last === undefined,
    };
  }
}

/** The partition a keyed event goes to. Stable for a key, not Azure's own hash. */
export function partitionForKey(key: string, partitionCount: number): number {
  return createHash('sha256').update(key).digest().readUInt32BE(0) % partitionCount;
}

const selectorPattern =
  /^amqp\.annotation\.(x-opt-offset|x-opt-sequence-number|x-opt-enqueued-time)\s*(>=|>)\s*'([^']*)'$/i;

/**
 * Parses the SQL-like selector the SDKs send, e.g. `amqp.annotation.x-opt-offset > '-1'`
 * (earliest), `... x-opt-offset > '@latest'`, `... x-opt-sequence-number >= '41'`,
 * `... x-opt-enqueued-time > '1700000000000'` (ms since epoch). Throws on anything else.
 */
export function parseStartFilter(selector: string): StartPosition {
  const match = selectorPattern.exec(selector.trim());
  if (!match) throw new Error(`unsupported selector filter: ${selector}`);
  const [, field, operator, value] = match;
  const inclusive = operator === '>=';
  const after = (n: number, limit: number) => (inclusive ? n >= limit : n > limit);
  switch (field.toLowerCase()) {
    case 'x-opt-offset':
      if (value === '@latest') return (events) => events.length;
      return (events) => firstIndex(events, (e) => after(Number(e.offset), Number(value)));
    case 'x-opt-sequence-number':
      return (events) => firstIndex(events, (e) => after(e.sequenceNumber, Number(value)));
    default:
      return (events) => firstIndex(events, (e) => after(e.enqueuedTime.getTime(), Number(value)));
  }
}

function firstIndex(events: readonly StoredEvent[], test: (event: StoredEvent) => boolean): number {
  const index = events.findIndex(test);
  return index === -1 ? events.length : index;
}
