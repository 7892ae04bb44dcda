/**
 * Load balancing and checkpoints with the REAL SDKs: two EventHubConsumerClients share the
 * hub's partitions through a BlobCheckpointStore kept in Azurite, against the Event Hubs
 * test server; a checkpoint written by one run is where the next run resumes.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  EventHubConsumerClient, EventHubProducerClient, earliestEventPosition,
  type PartitionContext, type ReceivedEventData, type Subscription,
} from '@azure/event-hubs';
import { BlobCheckpointStore } from '@azure/eventhubs-checkpointstore-blob';
import { ContainerClient } from '@azure/storage-blob';
import { start, type EventHubsServer } from './eventHubsServer.js';
import { startAzurite, type Azurite } from './azurite.js';
import { eventually } from './eventHubsClients.js';

const partitionIds = ['0', '1', '2', '3'];
// Fast rounds so ownership settles quickly; the expiry stays long so no claim lapses mid-test.
const loadBalancingOptions = { strategy: 'greedy' as const, updateIntervalInMs: 100 };

describe('BlobCheckpointStore (Azurite) with the Event Hubs test server', () => {
  let server: EventHubsServer;
  let azurite: Azurite;
  let container: ContainerClient;
  let store: BlobCheckpointStore;

  beforeAll(async () => {
    [server, azurite] = await Promise.all([start({ partitions: 4 }), startAzurite()]);
    container = new ContainerClient(azurite.connectionString, 'checkpoints');
    await container.create();
    store = new BlobCheckpointStore(container);
  });
  afterAll(async () => {
    await server?.close();
    await azurite?.stop();
  });

  test('two consumers split the partitions by ownership claims, and a checkpoint is resumed from', async () => {
    const producer = new EventHubProducerClient(server.connectionString);
    for (const partitionId of partitionIds) {
      await producer.sendBatch([0, 1, 2].map((n) => ({ body: { partitionId, n } })), { partitionId });
    }

    // Each consumer reads what it owns and checkpoints every batch.
    const seen: Record<string, { consumer: string; body: unknown }[]> = {};
    const subscribe = (client: EventHubConsumerClient, name: string): Subscription =>
      client.subscribe({
        processEvents: async (events: ReceivedEventData[], context: PartitionContext) => {
          for (const event of events) (seen[context.partitionId] ??= []).push({ consumer: name, body: event.body });
          if (events.length) await context.updateCheckpoint(events[events.length - 1]);
        },
        processError: async () => {
          // Ownership moving between the two (amqp:link:stolen) is reported here; expected while balancing.
        },
      }, { startPosition: earliestEventPosition, maxWaitTimeInSeconds: 0.2 });

    const a = new EventHubConsumerClient('$Default', server.connectionString, store, { loadBalancingOptions });
    const b = new EventHubConsumerClient('$Default', server.connectionString, store, { loadBalancingOptions });
    const subscriptions = [subscribe(a, 'a'), subscribe(b, 'b')];

    const ownersOf = async () => {
      const owners = await store.listOwnership(a.fullyQualifiedNamespace, 'hub', '$Default');
      return owners.filter((o) => o.ownerId);
    };
    // Balanced: every partition owned, two each.
    await eventually(async () => {
      const owned = await ownersOf();
      const counts = new Map<string, number>();
      for (const o of owned) counts.set(o.ownerId, (counts.get(o.ownerId) ?? 0) + 1);
      return owned.length === 4 && counts.size === 2 && [...counts.values()].every((n) => n === 2);
    });
    const owned = await ownersOf();
    expect(new Set(owned.map((o) => o.ownerId))).toEqual(new Set([a.identifier, b.identifier]));

    // Every partition's three events got read (and checkpointed as they were).
    await eventually(() => partitionIds.every((p) => new Set(seen[p]?.map((s) => JSON.stringify(s.body))).size === 3));
    for (const partitionId of partitionIds) {
      const bodies = seen[partitionId].map((s) => s.body);
      // Ownership may move while balancing, so an event can be read twice (at least once), never lost.
      expect(new Set(bodies.map((b) => JSON.stringify(b)))).toEqual(
        new Set([0, 1, 2].map((n) => JSON.stringify({ partitionId, n }))),
      );
    }
    await Promise.all(subscriptions.map((s) => s.close()));
    await Promise.all([a.close(), b.close()]);

    // Read after both stopped: a pump that lost its partition may still have checkpointed an
    // older batch on its way out (the SDK's at-least-once), so take the store's word.
    const checkpoints = await store.listCheckpoints(a.fullyQualifiedNamespace, 'hub', '$Default');
    expect(checkpoints.map((c) => c.partitionId).sort()).toEqual(partitionIds);
    for (const c of checkpoints) {
      expect(c.offset).toBe(server.events(c.partitionId)[c.sequenceNumber].offset);
    }

    // A new consumer resumes right after each checkpoint (the SDK restarts from its offset).
    await producer.sendBatch([{ body: 'after-checkpoint' }], { partitionId: '1' });
    const c = new EventHubConsumerClient('$Default', server.connectionString, store, { loadBalancingOptions });
    const resumed: Record<string, number[]> = {};
    const rounds = new Set<string>();
    let sawNewEvent = false;
    const subscription = c.subscribe({
      processEvents: async (events, context) => {
        for (const e of events) {
          (resumed[context.partitionId] ??= []).push(e.sequenceNumber);
          if (e.body === 'after-checkpoint') sawNewEvent = true;
        }
        // Called (empty when nothing came within maxWaitTime) once a partition's first read is done.
        rounds.add(context.partitionId);
      },
      processError: async () => {},
    }, { startPosition: earliestEventPosition, maxWaitTimeInSeconds: 0.2 });
    await eventually(() => rounds.size === 4 && sawNewEvent);
    await subscription.close();
    await c.close();
    await producer.close();
    for (const { partitionId, sequenceNumber } of checkpoints) {
      const last = server.events(partitionId).length - 1;
      const expected = Array.from({ length: last - sequenceNumber }, (_, i) => sequenceNumber + 1 + i);
      expect(resumed[partitionId] ?? []).toEqual(expected);
    }
    expect(resumed['1']?.at(-1)).toBe(3);
  });
});
