/**
 * The Event Hubs test server against the REAL @azure/event-hubs SDK over AMQP on loopback.
 * Each test gets a fresh server (it starts in milliseconds).
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  EventHubConsumerClient, EventHubProducerClient, earliestEventPosition, latestEventPosition,
} from '@azure/event-hubs';
import rhea from 'rhea';
import { start, type EventHubsServer } from './eventHubsServer.js';
import { bodiesByPartition, eventually, receiveUntil } from './eventHubsClients.js';

/** The SDK sends JSON-able bodies as JSON bytes in a data section; the server keeps the bytes. */
const json = (body: unknown) => JSON.parse(String(body));

describe('Event Hubs test server with the real SDK', () => {
  let server: EventHubsServer;
  let producer: EventHubProducerClient;
  const consumers: EventHubConsumerClient[] = [];
  const consumer = (group = '$Default') => {
    const client = new EventHubConsumerClient(group, server.connectionString, { retryOptions: { maxRetries: 0 } });
    consumers.push(client);
    return client;
  };

  beforeEach(async () => {
    server = await start({ partitions: 4, consumerGroups: ['analytics'] });
    producer = new EventHubProducerClient(server.connectionString);
  });
  afterEach(async () => {
    await Promise.all(consumers.splice(0).map((c) => c.close()));
    await producer.close();
    await server.close();
  });

  test('hub and partition properties come from $management', async () => {
    const hub = await producer.getEventHubProperties();
    expect(hub.name).toBe('hub');
    expect(hub.partitionIds).toEqual(['0', '1', '2', '3']);
    expect(await producer.getPartitionIds()).toEqual(['0', '1', '2', '3']);
    expect(await producer.getPartitionProperties('3')).toMatchObject({
      partitionId: '3', eventHubName: 'hub', isEmpty: true, lastEnqueuedSequenceNumber: -1,
    });

    await producer.sendBatch([{ body: 'x' }, { body: 'y' }], { partitionId: '3' });
    const stored = server.events('3');
    const props = await producer.getPartitionProperties('3');
    expect(props).toMatchObject({ isEmpty: false, beginningSequenceNumber: 0, lastEnqueuedSequenceNumber: 1, lastEnqueuedOffset: stored[1].offset });
    expect(props.lastEnqueuedOnUtc.getTime()).toBe(stored[1].enqueuedTime.getTime());
  });

  test('a batch for a partition id lands there, in order, with application properties', async () => {
    const batch = await producer.createBatch({ partitionId: '2' });
    for (let i = 0; i < 3; i++) {
      expect(batch.tryAdd({ body: { n: i }, properties: { eventType: 'Counted', index: i } })).toBe(true);
    }
    await producer.sendBatch(batch);
    await producer.sendBatch([{ body: { n: 3 }, properties: { eventType: 'Counted', index: 3 } }], { partitionId: '2' });

    const stored = server.events('2');
    expect(stored.map((e) => e.sequenceNumber)).toEqual([0, 1, 2, 3]);
    expect(stored.map((e) => json(e.body))).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }, { n: 3 }]);
    expect(stored.map((e) => e.properties)).toEqual([0, 1, 2, 3].map((index) => ({ eventType: 'Counted', index })));
    // Offsets are byte positions: increasing, and not the sequence numbers.
    expect(stored.map((e) => Number(e.offset))).toEqual([...stored.map((e) => Number(e.offset))].sort((a, b) => a - b));
    expect(stored[1].offset).not.toBe('1');
    expect(['0', '1', '3'].map((p) => server.events(p).length)).toEqual([0, 0, 0]);
  });

  test('events with the same partition key share a partition and keep the key; others round-robin', async () => {
    await producer.sendBatch([{ body: 'a1' }, { body: 'a2' }], { partitionKey: 'aggregate-a' });
    await producer.sendBatch([{ body: 'a3' }], { partitionKey: 'aggregate-a' });
    const keyed = ['0', '1', '2', '3'].filter((p) => server.events(p).length > 0);
    expect(keyed).toHaveLength(1);
    expect(server.events(keyed[0]).map((e) => [json(e.body), e.partitionKey])).toEqual([
      ['a1', 'aggregate-a'], ['a2', 'aggregate-a'], ['a3', 'aggregate-a'],
    ]);

    for (let i = 0; i < 4; i++) await producer.sendBatch([{ body: `free-${i}` }]);
    const free = ['0', '1', '2', '3'].map((p) => server.events(p).filter((e) => e.partitionKey === undefined).length);
    expect(free).toEqual([1, 1, 1, 1]);
  });

  test('subscribing from the earliest position receives exactly what each partition holds, in order', async () => {
    for (const p of ['0', '1', '2']) {
      await producer.sendBatch([1, 2, 3].map((n) => ({ body: { p, n }, properties: { n } })), { partitionId: p });
    }
    await producer.sendBatch([{ body: 'keyed' }], { partitionKey: 'k' });

    const received = await receiveUntil(consumer(), (r) => r.length >= 10, { startPosition: earliestEventPosition });
    const expected: Record<string, unknown[]> = {};
    for (const p of ['0', '1', '2', '3']) {
      if (server.events(p).length) expected[p] = server.events(p).map((e) => json(e.body));
    }
    expect(bodiesByPartition(received)).toEqual(expected);

    const first = received.find((r) => r.partitionId === '2')!.event;
    const stored = server.events('2')[0];
    expect(first).toMatchObject({ sequenceNumber: 0, offset: stored.offset, properties: { n: 1 } });
    expect(first.enqueuedTimeUtc.getTime()).toBe(stored.enqueuedTime.getTime());
    expect(received.find((r) => r.event.body === 'keyed')!.event.partitionKey).toBe('k');
  });

  test('subscribing from a sequence number starts after it (or at it, inclusive), or after an offset', async () => {
    await producer.sendBatch([0, 1, 2, 3].map((n) => ({ body: n })), { partitionId: '2' });
    const after = await receiveUntil(consumer(), (r) => r.length >= 2, { partitionId: '2', startPosition: { sequenceNumber: 1 } });
    expect(after.map((r) => r.event.sequenceNumber)).toEqual([2, 3]);
    const inclusive = await receiveUntil(consumer(), (r) => r.length >= 3, {
      partitionId: '2', startPosition: { sequenceNumber: 1, isInclusive: true },
    });
    expect(inclusive.map((r) => r.event.body)).toEqual([1, 2, 3]);
    const byOffset = await receiveUntil(consumer(), (r) => r.length >= 1, {
      partitionId: '2', startPosition: { offset: server.events('2')[2].offset },
    });
    expect(byOffset.map((r) => r.event.sequenceNumber)).toEqual([3]);
  });

  test('an open receiver gets new events live, and two consumer groups read independently', async () => {
    await producer.sendBatch([{ body: 'before' }], { partitionId: '1' });
    const live = receiveUntil(consumer(), (r) => r.length >= 2, { partitionId: '1', startPosition: latestEventPosition });
    // `latest` means "after what the partition holds when the link attaches": publish after that.
    await eventually(() => server.receivers('1') === 1);
    await producer.sendBatch([{ body: 'live-1' }, { body: 'live-2' }], { partitionId: '1' });
    expect((await live).map((r) => r.event.body)).toEqual(['live-1', 'live-2']);

    const fromMain = await receiveUntil(consumer(), (r) => r.length >= 3, { partitionId: '1', startPosition: earliestEventPosition });
    const fromAnalytics = await receiveUntil(consumer('analytics'), (r) => r.length >= 3, { partitionId: '1', startPosition: earliestEventPosition });
    expect(fromMain.map((r) => r.event.body)).toEqual(['before', 'live-1', 'live-2']);
    expect(fromAnalytics.map((r) => r.event.body)).toEqual(['before', 'live-1', 'live-2']);
  });

  test('a higher owner level takes a partition over; the old reader is told so', async () => {
    const errors: Error[] = [];
    const first = consumer().subscribe('0', {
      processEvents: async () => {},
      processError: async (error) => { errors.push(error); },
    }, { startPosition: earliestEventPosition, ownerLevel: 1, maxWaitTimeInSeconds: 0.2 });
    await eventually(() => server.receivers('0') === 1);
    await producer.sendBatch([{ body: 'taken' }], { partitionId: '0' });
    const second = await receiveUntil(consumer(), (r) => r.length >= 1, { partitionId: '0', startPosition: earliestEventPosition, ownerLevel: 2 });
    expect(second.map((r) => r.event.body)).toEqual(['taken']);
    await eventually(() => errors.length > 0);
    expect(errors[0]).toMatchObject({ code: 'ReceiverDisconnectedError' });
    await first.close();
  });

  test('at most 5 receivers without an owner level read a partition of a consumer group; the 6th is refused with QuotaExceeded', async () => {
    const open = Array.from({ length: 5 }, () => consumer().subscribe('1', { processEvents: async () => {}, processError: async () => {} }, { startPosition: earliestEventPosition }));
    await eventually(() => server.receivers('1') === 5);
    await expect(receiveUntil(consumer(), () => false, { partitionId: '1', startPosition: earliestEventPosition }))
      .rejects.toMatchObject({ code: 'QuotaExceededError', message: expect.stringMatching(/^Exceeded the maximum number of allowed receivers per partition in a consumer group which is 5\. List of connected receivers - [^,]+(, [^,]+){4}\.$/) });
    // The quota is per partition and per consumer group.
    await producer.sendBatch([{ body: 'a' }], { partitionId: '2' });
    await producer.sendBatch([{ body: 'b' }], { partitionId: '1' });
    expect((await receiveUntil(consumer(), (r) => r.length >= 1, { partitionId: '2', startPosition: earliestEventPosition })).map((r) => r.event.body)).toEqual(['a']);
    expect((await receiveUntil(consumer('analytics'), (r) => r.length >= 1, { partitionId: '1', startPosition: earliestEventPosition })).map((r) => r.event.body)).toEqual(['b']);
    await Promise.all(open.map((s) => s.close()));
  });

  test('no receiver without an owner level may join one with a level; a lower level is refused; a higher or equal one steals', async () => {
    const errors: Error[] = [];
    const leveled = consumer().subscribe('0', { processEvents: async () => {}, processError: async (error) => { errors.push(error); } }, { startPosition: earliestEventPosition, ownerLevel: 5 });
    await eventually(() => server.receivers('0') === 1);
    await expect(receiveUntil(consumer(), () => false, { partitionId: '0', startPosition: earliestEventPosition }))
      .rejects.toMatchObject({ code: 'ReceiverDisconnectedError', message: expect.stringMatching(/^At least one receiver for the endpoint is created with epoch of '5', and so non-epoch receiver is not allowed\./) });
    await expect(receiveUntil(consumer(), () => false, { partitionId: '0', startPosition: earliestEventPosition, ownerLevel: 4 }))
      .rejects.toMatchObject({ code: 'ReceiverDisconnectedError', message: expect.stringMatching(/with a higher epoch '5' already exists/) });
    expect(errors).toEqual([]);
    await producer.sendBatch([{ body: 'x' }], { partitionId: '0' });
    expect((await receiveUntil(consumer(), (r) => r.length >= 1, { partitionId: '0', startPosition: earliestEventPosition, ownerLevel: 5 })).map((r) => r.event.body)).toEqual(['x']);
    await eventually(() => errors.length > 0);
    expect(errors[0]).toMatchObject({ code: 'ReceiverDisconnectedError', message: expect.stringMatching(/^New receiver '.+' with higher epoch of '5' is created hence current receiver '.+' with epoch '5' is getting disconnected/) });
    await leveled.close();
  });

  test('retention: the beginning sequence number moves, readers start at the first retained event, an emptied partition keeps its last sequence number', async () => {
    await producer.sendBatch([0, 1, 2, 3, 4].map((n) => ({ body: n })), { partitionId: '2' });
    server.expire('2', 3);
    expect(await producer.getPartitionProperties('2')).toMatchObject({ isEmpty: false, beginningSequenceNumber: 3, lastEnqueuedSequenceNumber: 4 });
    const earliest = await receiveUntil(consumer(), (r) => r.length >= 2, { partitionId: '2', startPosition: earliestEventPosition });
    expect(earliest.map((r) => [r.event.sequenceNumber, r.event.body])).toEqual([[3, 3], [4, 4]]);
    // A position before the first retained event starts at it.
    const behind = await receiveUntil(consumer(), (r) => r.length >= 2, { partitionId: '2', startPosition: { sequenceNumber: 0 } });
    expect(behind.map((r) => r.event.sequenceNumber)).toEqual([3, 4]);

    server.expire('2', 2);
    const emptied = await producer.getPartitionProperties('2');
    expect(emptied).toMatchObject({ isEmpty: true, beginningSequenceNumber: 4, lastEnqueuedSequenceNumber: 4 });
    // Reading from the last sequence number waits for the next event, which continues the numbering.
    const next = receiveUntil(consumer(), (r) => r.length >= 1, { partitionId: '2', startPosition: { sequenceNumber: 4 } });
    await eventually(() => server.receivers('2') === 1);
    await producer.sendBatch([{ body: 5 }], { partitionId: '2' });
    expect((await next).map((r) => r.event.sequenceNumber)).toEqual([5]);
  });

  test('a start position past the last enqueued event is refused with the service\'s argument-out-of-range error', async () => {
    await producer.sendBatch([{ body: 0 }, { body: 1 }], { partitionId: '3' });
    await expect(receiveUntil(consumer(), () => false, { partitionId: '3', startPosition: { sequenceNumber: 11 } }))
      .rejects.toMatchObject({ code: 'ArgumentOutOfRangeError', message: expect.stringMatching(/^The supplied sequence number '11' is invalid\. The last sequence number in the system is '1'/) });
    // The last sequence number itself, and -1 on an unused partition, are valid.
    const atLast = receiveUntil(consumer(), (r) => r.length >= 1, { partitionId: '3', startPosition: { sequenceNumber: 1, isInclusive: true } });
    expect((await atLast).map((r) => r.event.body)).toEqual([1]);
    const unused = consumer().subscribe('1', { processEvents: async () => {}, processError: async (error) => { throw error; } }, { startPosition: { sequenceNumber: -1 } });
    await eventually(() => server.receivers('1') === 1);
    await unused.close();
  });

  test('a transfer over the 1 MiB message limit is rejected with MessageTooLarge; a batch the SDK sized fits', async () => {
    const big = 'x'.repeat(1024 * 1024);
    await expect(producer.sendBatch([{ body: big }], { partitionId: '0' }))
      .rejects.toMatchObject({ code: 'MessageTooLargeError', message: expect.stringMatching(/^The received message \(delivery-id:\d+, size:\d+ bytes\) exceeds the limit \(1048576 bytes\) currently allowed on the link\./) });
    const batch = await producer.createBatch({ partitionId: '0' });
    expect(batch.maxSizeInBytes).toBe(1024 * 1024);
    expect(batch.tryAdd({ body: big })).toBe(false);
    expect(batch.tryAdd({ body: 'x'.repeat(1000 * 1000) })).toBe(true);
    await producer.sendBatch(batch);
    expect(server.events('0')).toHaveLength(1);
  });

  test('partitions added to a running hub show in its properties', async () => {
    server.addPartitions(2);
    expect(await producer.getPartitionIds()).toEqual(['0', '1', '2', '3', '4', '5']);
    await producer.sendBatch([{ body: 'new' }], { partitionId: '5' });
    expect(server.events('5')).toHaveLength(1);
  });

  test('unknown hubs and consumer groups are refused as the service refuses them', async () => {
    const wrongHub = new EventHubProducerClient(server.connectionString.replace('EntityPath=hub', 'EntityPath=nohub'), { retryOptions: { maxRetries: 0 } });
    await expect(wrongHub.getEventHubProperties()).rejects.toMatchObject({ code: 'MessagingEntityNotFoundError' });
    await wrongHub.close();
    await expect(receiveUntil(consumer('nogroup'), () => false, { partitionId: '0', startPosition: earliestEventPosition }))
      .rejects.toMatchObject({ code: 'MessagingEntityNotFoundError' });
    await expect(producer.sendBatch([{ body: 1 }], { partitionId: '9' })).rejects.toMatchObject({ code: 'ArgumentOutOfRangeError' });
  });

  test('a link to the hub without a put-token covering it is refused (raw AMQP)', async () => {
    const connection = rhea.create_container().connect({ host: '127.0.0.1', port: server.port });
    try {
      const refusal = await new Promise<{ condition?: string }>((resolve) => {
        const sender = connection.open_sender('hub/Partitions/0');
        sender.on('sender_error', () => resolve(sender.error as { condition?: string }));
      });
      expect(refusal.condition).toBe('amqp:unauthorized-access');
    } finally {
      connection.close();
    }
  });
});
