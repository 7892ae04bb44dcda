/**
 * The receivers attached to the Event Hubs test server: each reads one partition for one
 * consumer group from a start position, as far as the client's credit allows, and keeps
 * up as events arrive. Owner levels (`com.microsoft:epoch`) decide who may read a
 * partition of a group, as the service decides it:
 * - a receiver with owner level e2 disconnects the ones with e1 <= e2 (amqp:link:stolen),
 *   and is refused when one with a higher level is attached;
 * - a receiver without an owner level is refused while one with a level is attached.
 */
import type { Connection, Sender } from 'rhea';
import { deliveryOf, linkStolen } from './eventHubsAmqp.js';
import type { Partition } from './eventHubsPartitions.js';

export class PartitionReader {
  private unsent: { sent: boolean }[] = [];
  private unsubscribe: () => void = () => {};

  constructor(
    readonly sender: Sender,
    readonly connection: Connection,
    readonly partition: Partition,
    readonly consumerGroup: string,
    /** Index in the partition of the next event to send. */
    private next: number,
    readonly ownerLevel: number | undefined,
    /** Whether to send last-enqueued-event info (`com.microsoft:enable-receiver-runtime-metric`). */
    private readonly runtimeMetric: boolean,
  ) {}

  /** Consumer group and partition: the unit owner levels apply to. */
  get slot(): string {
    return `${this.consumerGroup.toLowerCase()}/${this.partition.id}`;
  }

  start(): void {
    this.unsubscribe = this.partition.onAppend(() => this.pump());
    this.pump();
  }

  stop(): void {
    this.unsubscribe();
  }

  /** Sends what the client has given credit for; rhea counts credit down only as frames go out. */
  pump(): void {
    if (!this.sender.is_open()) return;
    this.unsent = this.unsent.filter((delivery) => !delivery.sent);
    const events = this.partition.events;
    let credit = (this.sender as Sender & { credit: number }).credit - this.unsent.length;
    while (credit > 0 && this.next < events.length) {
      const last = this.runtimeMetric ? events[events.length - 1] : undefined;
      this.unsent.push(this.sender.send(deliveryOf(events[this.next++], last)));
      credit--;
    }
  }
}

export class Readers {
  private readonly bySlot = new Map<string, PartitionReader[]>();

  /** Attaches a reader under the owner-level rules; returns why it is refused, if it is. */
  admit(reader: PartitionReader): string | undefined {
    const current = (this.bySlot.get(reader.slot) ?? []).filter((r) => r.sender.is_open());
    const levels = current.map((r) => r.ownerLevel).filter((level): level is number => level !== undefined);
    const highest = levels.length ? Math.max(...levels) : undefined;
    if (reader.ownerLevel === undefined) {
      if (highest !== undefined) return `A receiver with owner level ${highest} is attached to ${reader.slot}; one without an owner level cannot be.`;
      this.bySlot.set(reader.slot, [...current, reader]);
    } else {
      if (highest !== undefined && highest > reader.ownerLevel) {
        return `A receiver with the higher owner level ${highest} is attached to ${reader.slot}.`;
      }
      for (const old of current) {
        old.stop();
        old.sender.close({ condition: linkStolen, description: `A receiver with owner level ${reader.ownerLevel} took ${reader.slot} over.` });
      }
      this.bySlot.set(reader.slot, [reader]);
    }
    reader.start();
    return undefined;
  }

  remove(reader: PartitionReader): void {
    reader.stop();
    this.bySlot.set(reader.slot, (this.bySlot.get(reader.slot) ?? []).filter((r) => r !== reader));
  }

  all(): PartitionReader[] {
    return [...this.bySlot.values()].flat();
  }

  of(sender: Sender): PartitionReader | undefined {
    return this.all().find((reader) => reader.sender === sender);
  }
}
