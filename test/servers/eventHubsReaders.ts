/**
 * The receivers attached to the Event Hubs test server: each reads one partition for one
 * consumer group from a start position, as far as the client's credit allows, and keeps
 * up as events arrive. Who may read a partition of a group is decided as the service decides
 * it (quotes and references in docs/azure-test-servers.md):
 * - at most 5 receivers without an owner level per partition and consumer group: the 6th is
 *   refused with amqp:resource-limit-exceeded (the SDK's QuotaExceededError);
 * - a receiver with owner level (`com.microsoft:epoch`) e2 disconnects the ones with e1 <= e2
 *   and those without a level (amqp:link:stolen, the SDK's ReceiverDisconnectedError), and is
 *   refused when one with a higher level is attached;
 * - a receiver without an owner level is refused while one with a level is attached.
 */
import type { Connection, Sender } from 'rhea';
import { deliveryOf, linkStolen, resourceLimitExceeded } from './eventHubsAmqp.js';
import type { Partition } from './eventHubsPartitions.js';

/** Receivers without an owner level allowed per partition and consumer group ("Event Hubs quotas and limits"). */
export const MAX_RECEIVERS_WITHOUT_OWNER_LEVEL = 5;

export class PartitionReader {
  private unsent: { sent: boolean }[] = [];
  private unsubscribe: () => void = () => {};

  constructor(
    readonly sender: Sender,
    readonly connection: Connection,
    readonly partition: Partition,
    readonly consumerGroup: string,
    /** Sequence number of the next event to send. */
    private next: number,
    readonly ownerLevel: number | undefined,
    /** Whether to send last-enqueued-event info (`com.microsoft:enable-receiver-runtime-metric`). */
    private readonly runtimeMetric: boolean,
  ) {}

  /** Consumer group and partition: the unit quotas and owner levels apply to. */
  get slot(): string {
    return `${this.consumerGroup.toLowerCase()}/${this.partition.id}`;
  }

  /** The name the client gave the receiver (`com.microsoft:receiver-name`), 'nil' without one, as the service lists it. */
  get name(): string {
    const name = this.sender.properties?.['com.microsoft:receiver-name'];
    return typeof name === 'string' && name ? name : 'nil';
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
    const partition = this.partition;
    // A reader behind retention goes on with the first event still retained.
    this.next = Math.max(this.next, partition.beginSequence);
    let credit = (this.sender as Sender & { credit: number }).credit - this.unsent.length;
    while (credit > 0 && this.next <= partition.lastEnqueuedSequence) {
      const last = this.runtimeMetric ? partition.at(partition.lastEnqueuedSequence) : undefined;
      this.unsent.push(this.sender.send(deliveryOf(partition.at(this.next++)!, last)));
      credit--;
    }
  }
}

/** Why a receiver may not attach: the AMQP error the link is closed with. */
export interface Refusal {
  condition: string;
  description: string;
}

export class Readers {
  private readonly bySlot = new Map<string, PartitionReader[]>();

  /** Attaches a reader under the quota and owner-level rules; returns why it is refused, if it is. */
  admit(reader: PartitionReader): Refusal | undefined {
    const current = (this.bySlot.get(reader.slot) ?? []).filter((r) => r.sender.is_open());
    const leveled = current.filter((r) => r.ownerLevel !== undefined);
    const highest = leveled.length ? leveled.reduce((a, b) => (a.ownerLevel! >= b.ownerLevel! ? a : b)) : undefined;
    if (reader.ownerLevel === undefined) {
      if (highest) {
        return {
          condition: linkStolen,
          description: `At least one receiver for the endpoint is created with epoch of '${highest.ownerLevel}', and so non-epoch receiver is not allowed. Either reconnect with a higher epoch, or make sure all epoch receivers are closed or disconnected.`,
        };
      }
      if (current.length >= MAX_RECEIVERS_WITHOUT_OWNER_LEVEL) {
        return {
          condition: resourceLimitExceeded,
          description: `Exceeded the maximum number of allowed receivers per partition in a consumer group which is ${MAX_RECEIVERS_WITHOUT_OWNER_LEVEL}. List of connected receivers - ${current.map((r) => r.name).join(', ')}.`,
        };
      }
      this.bySlot.set(reader.slot, [...current, reader]);
    } else {
      if (highest && highest.ownerLevel! > reader.ownerLevel) {
        return {
          condition: linkStolen,
          description: `Receiver '${reader.name}' with a higher epoch '${highest.ownerLevel}' already exists. Receiver '${reader.name}' with epoch ${reader.ownerLevel} cannot be created. Make sure you are creating receiver with increasing epoch value to ensure connectivity, or ensure all old epoch receivers are closed or disconnected.`,
        };
      }
      for (const old of current) {
        old.stop();
        old.sender.close({
          condition: linkStolen,
          description: `New receiver '${reader.name}' with higher epoch of '${reader.ownerLevel}' is created hence current receiver '${old.name}' with epoch '${old.ownerLevel ?? 'nil'}' is getting disconnected. If you are recreating the receiver, make sure a higher epoch is used.`,
        });
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
