/**
 * The outbox forwarder against the Event Hubs test server with the real SDK: commands ingested
 * into a temp lake by the real ingester, forwarded, then read back by the real consumer client.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  EventHubConsumerClient, EventHubProducerClient, earliestEventPosition, type ReceivedEventData,
} from '@azure/event-hubs';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { commandWorkflowDomain } from '../../domains/commandWorkflow.js';
import { ordersDomain } from '../../domains/orders.js';
import { registryOf } from '../../domains/registry.js';
import { sampleCommands } from '../../domains/sampleCommands.js';
import { superchargersDomain } from '../../domains/superchargers.js';
import type { CommandInput, EventEnvelope } from '../../ingest/envelope.js';
import { Ingester } from '../../ingest/ingester.js';
import { LakeLayout } from '../../lake/layout.js';
import { LockHeldError } from '../../lake/lock.js';
import { readHead } from '../../lake/log/logHead.js';
import { registerStorage } from '../../lake/storage/locations.js';
import { openLakeStorage } from '../../lake/storage/openLakeStorage.js';
import { openProducer } from '../../lake/stream/eventHubsConnection.js';
import { forwardOnce, runForwarder } from '../../lake/stream/eventHubsForwarder.js';
import { checkpointLocation, readCheckpoint, writeCheckpoint, type ForwarderCheckpoint } from '../../lake/stream/forwarderCheckpoint.js';
import { devAccountKey } from '../servers/azurite.js';
import { startDfsServer } from '../servers/dfsServer.js';
import { eventually, receiveUntil, type Received } from '../servers/eventHubsClients.js';
import { start, type EventHubsServer } from '../servers/eventHubsServer.js';
import { tempDir } from '../support/cli.js';
import { rejection } from '../support/rejection.js';
import { readLogStream } from '../support/lakeLog.js';

const registry = registryOf([commandWorkflowDomain, superchargersDomain, ordersDomain]);
const LAKE_PARTITIONS = 3;
/** One command stream, ingested in parts: later parts change aggregates the earlier ones made. */
const commands = [...sampleCommands({ count: 600, seed: 23 })];

async function ingest(layout: LakeLayout, batch: CommandInput[]): Promise<void> {
  const ingester = await Ingester.open(layout, registry, { partitions: LAKE_PARTITIONS });
  batch.forEach((command, i) => ingester.decide(command, `test:${i}`));
  await ingester.commit();
  await ingester.close();
}

/** Every event in the lake log, read straight from the segment files (independent of the forwarder). */
function lakeEvents(layout: LakeLayout): EventEnvelope[] {
  return Array.from({ length: LAKE_PARTITIONS }, (_, p) => readLogStream<EventEnvelope>(layout.root, `p${p}`)).flat();
}

const position = (e: { partition: number; sequence: number }) => `${e.partition}/${e.sequence}`;
const lakePosition = (r: Received) => `${r.event.properties!.lakePartition}/${r.event.properties!.lakeSequence}`;

describe('Event Hubs outbox forwarder', () => {
  let hub: EventHubsServer;
  let layout: LakeLayout;
  const clients: { close(): Promise<void> }[] = [];
  const eventHubs = () => ({ connectionString: hub.connectionString });
  const storedInHub = () => ['0', '1', '2', '3'].reduce((n, p) => n + hub.events(p).length, 0);

  /** Everything the hub holds, read from the earliest position by the real consumer client. */
  const readHub = async (expected: number): Promise<Received[]> => {
    const consumer = new EventHubConsumerClient('$Default', hub.connectionString);
    clients.push(consumer);
    return receiveUntil(consumer, (received) => received.length >= expected, { startPosition: earliestEventPosition, maxBatchSize: 500 });
  };

  beforeEach(async () => {
    hub = await start({ partitions: 4 });
    layout = new LakeLayout(tempDir('eventlake-forwarder-'));
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await hub.close();
    fs.rmSync(layout.root, { recursive: true, force: true });
  });

  test('every lake event arrives once, with its lake position as properties, each aggregate in order; the checkpoint reaches the head', async () => {
    await ingest(layout, commands.slice(0, 300));
    const events = lakeEvents(layout);
    expect(events.length).toBeGreaterThan(200);

    const result = await forwardOnce({ layout, eventHubs: eventHubs(), readBatch: 50 });
    expect(result.sent).toBe(events.length);
    expect(result.hub).toBe('hub');
    expect(storedInHub()).toBe(events.length);

    const received = await readHub(events.length);
    expect(received).toHaveLength(events.length);
    const byPosition = new Map(received.map((r) => [lakePosition(r), r]));
    expect(byPosition.size).toBe(events.length);
    for (const event of events) {
      const arrived: ReceivedEventData = byPosition.get(position(event))!.event;
      expect(arrived.body).toEqual(event);
      expect(arrived.properties).toEqual({ aggregateId: event.aggregateId, lakePartition: event.partition, lakeSequence: event.sequence, eventType: event.eventType, eventId: event.eventId });
      expect(arrived.messageId).toBe(event.eventId);
      expect(arrived.contentType).toBe('application/json');
    }

    // Per aggregate: one hub partition, versions 1..n in the order they arrived.
    const perAggregate = new Map<string, { partitions: Set<string>; versions: number[] }>();
    for (const { event, partitionId } of received) {
      const body = event.body as EventEnvelope;
      const entry = perAggregate.get(body.aggregateId) ?? { partitions: new Set(), versions: [] };
      entry.partitions.add(partitionId);
      entry.versions.push(body.version);
      perAggregate.set(body.aggregateId, entry);
    }
    for (const { partitions, versions } of perAggregate.values()) {
      expect(partitions.size).toBe(1);
      expect(versions).toEqual(versions.map((_, i) => i + 1));
    }
    // Per (hub partition, lake partition): lake order, which is what lets consumers dedupe with one watermark.
    for (const id of ['0', '1', '2', '3']) {
      for (let p = 0; p < LAKE_PARTITIONS; p++) {
        const sequences = hub.events(id).map((e) => e.properties as Record<string, number>).filter((q) => q.lakePartition === p).map((q) => q.lakeSequence);
        expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
      }
    }

    const checkpoint = JSON.parse(fs.readFileSync(checkpointLocation(layout, 'hub'), 'utf8'));
    for (let p = 0; p < LAKE_PARTITIONS; p++) {
      const last = Math.max(0, ...events.filter((e) => e.partition === p).map((e) => e.sequence));
      expect(checkpoint.streams[`p${p}`]).toEqual({ sequence: last });
    }
    // The round began with a hand-over mark: nothing forwarded yet, the hub empty.
    expect(checkpoint.marks).toEqual([{ lake: { p0: 0, p1: 0, p2: 0 }, hub: { 0: -1, 1: -1, 2: -1, 3: -1 }, at: expect.any(String) }]);
    expect(fs.readdirSync(path.dirname(checkpointLocation(layout, 'hub')))).toEqual(['checkpoint.json']);

    // Nothing new: nothing sent.
    expect((await forwardOnce({ layout, eventHubs: eventHubs() })).sent).toBe(0);
    expect(storedInHub()).toBe(events.length);
  });

  test('a forwarder that dies after sending but before checkpointing re-sends; deduping by lake position sees each event once, nothing skipped', async () => {
    await ingest(layout, commands.slice(0, 200));
    const firstPart = lakeEvents(layout);

    // 1. A process that dies right after a sendBatch: the send is in the hub, its checkpoint is not.
    const real = new EventHubProducerClient(hub.connectionString);
    clients.push(real);
    let sends = 0;
    const dying = new Proxy(real, {
      get(target, property, receiver) {
        if (property === 'sendBatch') {
          return async (...args: Parameters<EventHubProducerClient['sendBatch']>) => {
            await target.sendBatch(...args);
            if (++sends === 40) throw new Error('process killed after sendBatch');
          };
        }
        const value = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    await expect(forwardOnce({ layout, producer: dying, readBatch: 10, concurrency: 1 })).rejects.toThrow(/process killed after sendBatch/);
    const afterCrash = storedInHub();
    expect(afterCrash).toBeGreaterThan(0);
    expect(afterCrash).toBeLessThan(firstPart.length);

    // 2. Resume: everything not checkpointed goes (again).
    await forwardOnce({ layout, eventHubs: eventHubs(), readBatch: 10 });
    expect(storedInHub()).toBeGreaterThan(firstPart.length); // the unacknowledged batch went twice

    // 3. A checkpoint rewound (an older copy restored, or lost with the process): re-sent, not skipped.
    const checkpoint = await readCheckpoint(layout, 'hub');
    const rewound: typeof checkpoint = { ...checkpoint, streams: { ...checkpoint.streams, p0: { sequence: Math.floor(checkpoint.streams.p0.sequence / 2) } } };
    delete rewound.streams.p1;
    await writeCheckpoint(layout, rewound);
    const resent = await forwardOnce({ layout, eventHubs: eventHubs() });
    expect(resent.streams.p0).toEqual({ from: rewound.streams.p0.sequence, to: checkpoint.streams.p0.sequence });
    expect(resent.streams.p1).toEqual({ from: 0, to: checkpoint.streams.p1.sequence });

    // 4. New ingests after all that are forwarded, and only they.
    await ingest(layout, commands.slice(200, 400));
    const all = lakeEvents(layout);
    const latest = await forwardOnce({ layout, eventHubs: eventHubs() });
    expect(latest.sent).toBe(all.length - firstPart.length);

    const received = await readHub(storedInHub());
    const seen = new Map<string, EventEnvelope>();
    let duplicates = 0;
    for (const r of received) {
      if (seen.has(lakePosition(r))) duplicates += 1;
      else seen.set(lakePosition(r), r.event.body as EventEnvelope);
    }
    expect(duplicates).toBeGreaterThan(0);
    expect(seen.size).toBe(all.length);
    for (const event of all) expect(seen.get(position(event))).toEqual(event);
  });

  test('runForwarder keeps forwarding new ingests until aborted', async () => {
    await ingest(layout, commands.slice(0, 100));
    const controller = new AbortController();
    const rounds: number[] = [];
    const running = runForwarder({ layout, eventHubs: eventHubs(), intervalMs: 20, onRound: (r) => rounds.push(r.sent) }, controller.signal);
    await eventually(() => storedInHub() === lakeEvents(layout).length);
    await ingest(layout, commands.slice(100, 250));
    const total = lakeEvents(layout).length;
    await eventually(() => storedInHub() === total);
    controller.abort();
    const totals = await running;
    expect(totals).toMatchObject({ sent: total, errors: 0 });
    expect(rounds.reduce((a, b) => a + b, 0)).toBe(total);
    expect(storedInHub()).toBe(total);
  });

  test('runForwarder reports a failed round without secrets and retries it; nothing is lost', async () => {
    await ingest(layout, commands.slice(0, 60));
    const total = lakeEvents(layout).length;
    const real = new EventHubProducerClient(hub.connectionString);
    clients.push(real);
    let failures = 1;
    const flaky = new Proxy(real, {
      get(target, property, receiver) {
        if (property === 'sendBatch') {
          return async (...args: Parameters<EventHubProducerClient['sendBatch']>) => {
            if (failures-- > 0) throw new Error('link detached; SharedAccessKey=c2VjcmV0LXZhbHVlLWluLWFuLWVycm9y;');
            await target.sendBatch(...args);
          };
        }
        const value = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const controller = new AbortController();
    const errors: Error[] = [];
    const running = runForwarder({ layout, producer: flaky, intervalMs: 20, onError: (e) => errors.push(e) }, controller.signal);
    await eventually(() => storedInHub() >= total);
    controller.abort();
    const totals = await running;
    expect(totals.errors).toBe(1);
    expect(errors[0].message).toMatch(/forwarding lake stream p\d to event hub hub failed: link detached; SharedAccessKey=<redacted>;/);
    expect(errors[0].message).not.toContain('c2VjcmV0LXZhbHVlLWluLWFuLWVycm9y');
    const positions = new Set(['0', '1', '2', '3'].flatMap((p) => hub.events(p).map((e) => {
      const properties = e.properties as Record<string, number>;
      return `${properties.lakePartition}/${properties.lakeSequence}`;
    })));
    expect(positions).toEqual(new Set(lakeEvents(layout).map(position)));
  });

  test('on an ADLS Gen2 lake (DFS test server) it reads the log and keeps its checkpoint there', async () => {
    const dfs = await startDfsServer();
    clients.push(dfs);
    const storage = await openLakeStorage({ type: 'adls', accountUrl: dfs.url, filesystem: 'lake', directory: 'prod', accountKey: devAccountKey, createFilesystem: true });
    registerStorage(storage.location, storage);
    const remote = new LakeLayout(storage.location, layout.root);
    const committed = async () => Object.entries((await readHead(remote.headFile))!.streams)
      .filter(([stream]) => stream !== 'commands').reduce((n, [, head]) => n + head.sequence, 0);

    await ingest(remote, commands.slice(0, 150));
    const first = await committed();
    expect((await forwardOnce({ layout: remote, eventHubs: eventHubs() })).sent).toBe(first);
    expect(storedInHub()).toBe(first);
    const checkpoint = JSON.parse((await storage.read('forwarder/hub/checkpoint.json')).toString()) as ForwarderCheckpoint;
    expect(Object.values(checkpoint.streams).reduce((n, { sequence }) => n + sequence, 0)).toBe(first);

    await ingest(remote, commands.slice(150, 300));
    const second = await forwardOnce({ layout: remote, eventHubs: eventHubs() });
    expect(second.sent).toBe((await committed()) - first);
    expect(storedInHub()).toBe(await committed());
  });

  test('one forwarder per hub: a second one is refused while the first runs', async () => {
    await ingest(layout, commands.slice(0, 20));
    const controller = new AbortController();
    const running = runForwarder({ layout, eventHubs: eventHubs(), intervalMs: 20 }, controller.signal);
    await eventually(() => storedInHub() > 0);
    await expect(forwardOnce({ layout, eventHubs: eventHubs() })).rejects.toBeInstanceOf(LockHeldError);
    controller.abort();
    await running;
  });

  test('connection settings: env fallback, and the key never appears in an error', async () => {
    const key = 'dGhpcy1pcy1hLXNlY3JldC1rZXktdmFsdWU=';
    const noHub = await rejection(openProducer({ connectionString: `Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=${key}` }, {}));
    expect(noHub.message).toMatch(/no EntityPath and no eventHubName/);
    expect(noHub.message).not.toContain(key);
    const broken = await rejection(openProducer({ connectionString: `SharedAccessKey=${key};garbage` }, {}));
    expect(broken.message).not.toContain(key);
    await expect(openProducer({}, {})).rejects.toThrow(/EVENTLAKE_EVENTHUBS_CONNECTION_STRING/);

    const fromEnv = await openProducer({}, { EVENTLAKE_EVENTHUBS_CONNECTION_STRING: hub.connectionString });
    clients.push(fromEnv.producer);
    expect(fromEnv.hubName).toBe('hub');
    expect(await fromEnv.producer.getPartitionIds()).toEqual(['0', '1', '2', '3']);
  });
});

