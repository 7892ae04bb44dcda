/**
 * The Event Hubs counterpart of the ADLS real-account suite: runs only when
 * EVENTLAKE_TEST_EVENTHUBS names a real event hub, and skips with a message otherwise.
 *
 * EVENTLAKE_TEST_EVENTHUBS is either a connection string with EntityPath
 * (`Endpoint=sb://<ns>.servicebus.windows.net/;SharedAccessKeyName=...;SharedAccessKey=...;EntityPath=<hub>`)
 * or JSON: `{"connectionString": "...", "eventHubName": "<hub, if not in the string>", "consumerGroup": "<default $Default>"}`,
 * or `{"fullyQualifiedNamespace": "<ns>.servicebus.windows.net", "eventHubName": "<hub>"}` for
 * DefaultAzureCredential. Use a hub made for these tests (Standard tier, 4 partitions, retention
 * 1 hour, no other readers on the consumer group): the suite publishes to it and opens receivers
 * on partition 0 up to the service's quota. Partition ownership goes to a local Azurite.
 *
 * What it checks:
 * - the service behaviours the loopback server (test/servers/eventHubsServer.ts) imitates: the
 *   5-receiver quota, owner-level refusals and stealing, a start position past the end, the
 *   message size limit;
 * - six hub jobs handed over from the lake, then run to the end and consumed live (one reader,
 *   two processes' worth of ownership), each table equal to the same jobs rebuilt from the lake;
 * - retention: once a partition has been emptied by retention (run the suite again after the
 *   hub's retention), the suite sends nothing to it, checks what the service reports for it,
 *   and that a job positioned in the expired range takes what it misses from the lake and that
 *   `run` ends there instead of waiting. On a hub with no emptied partition this part says so
 *   and skips.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { EventHubConsumerClient, EventHubProducerClient, earliestEventPosition, parseEventHubConnectionString, type PartitionProperties } from '@azure/event-hubs';
import { BlobCheckpointStore } from '@azure/eventhubs-checkpointstore-blob';
import { DefaultAzureCredential } from '@azure/identity';
import { ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sampleCommands } from '../../domains/sampleCommands.js';
import type { CommandInput } from '../../ingest/envelope.js';
import { Ingester } from '../../ingest/ingester.js';
import { commitVersion, loadSnapshot } from '../../lake/delta/deltaTable.js';
import { LakeLayout } from '../../lake/layout.js';
import { partitionOf } from '../../lake/log/logMeta.js';
import type { EventHubsConfig } from '../../lake/stream/eventHubsConnection.js';
import { forwardOnce } from '../../lake/stream/eventHubsForwarder.js';
import { hubAppId, lakePositions } from '../../projections/hubPositions.js';
import { runHubJobs } from '../../projections/hubRunner.js';
import { loadConfig, type EventlakeConfig } from '../../projections/jobsConfig.js';
import { runJobs } from '../../projections/runJobs.js';
import { queryViews } from '../../views/query.js';
import { startAzurite, type Azurite } from '../servers/azurite.js';
import { receiveUntil } from '../servers/eventHubsClients.js';
import { tempDir } from '../support/cli.js';
import { waitFor } from '../support/server.js';

const real = process.env.EVENTLAKE_TEST_EVENTHUBS;
if (!real) {
  console.log('EVENTLAKE_TEST_EVENTHUBS is not set: skipping the Event Hubs suite against a real event hub.');
}

const HUB_JOBS = ['superchargers', 'supercharger_status_history', 'daily_status_changes', 'customers', 'orders', 'order_status_history'];
/** Ordered by every column: no shorter order is total over the sample data. */
const VIEW_QUERIES = ['superchargers', 'supercharger_status_history', 'daily_status_changes', 'vw_order_summary', 'vw_daily_order_metrics']
  .map((view) => `SELECT * FROM ${view} ORDER BY ALL`);
const LAKE_PARTITIONS = 3;

describe.skipIf(!real)('Event Hubs, real hub (EVENTLAKE_TEST_EVENTHUBS)', { timeout: 600_000 }, () => {
  const eventHubs: EventHubsConfig = real ? realConfig(real) : {};
  const group = eventHubs.consumerGroup ?? '$Default';
  const retry = { retryOptions: { maxRetries: 1 } };
  let dir: string;
  let azurite: Azurite;
  const clients: { close(): Promise<unknown> }[] = [];
  const producer = () => keep(eventHubs.connectionString ? new EventHubProducerClient(eventHubs.connectionString, hubName(eventHubs), retry) : credentialClient('producer'));
  const consumer = () => keep(eventHubs.connectionString ? new EventHubConsumerClient(group, eventHubs.connectionString, hubName(eventHubs), retry) : credentialClient('consumer'));
  function keep<T extends { close(): Promise<unknown> }>(client: T): T {
    clients.push(client);
    return client;
  }
  function credentialClient(kind: 'producer'): EventHubProducerClient;
  function credentialClient(kind: 'consumer'): EventHubConsumerClient;
  function credentialClient(kind: 'producer' | 'consumer'): EventHubProducerClient | EventHubConsumerClient {
    const credential = new DefaultAzureCredential();
    return kind === 'producer'
      ? new EventHubProducerClient(eventHubs.fullyQualifiedNamespace!, eventHubs.eventHubName!, credential, retry)
      : new EventHubConsumerClient(group, eventHubs.fullyQualifiedNamespace!, eventHubs.eventHubName!, credential, retry);
  }

  beforeAll(async () => {
    dir = tempDir('eventlake-realhub-');
    azurite = await startAzurite();
  });
  afterAll(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await azurite?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('the service behaviours the loopback server imitates', () => {
    test('a 6th receiver without an owner level on a partition of the consumer group is refused with QuotaExceeded', async () => {
      // One client subscribes to a partition once: five clients, one receiver each.
      const five = Array.from({ length: 5 }, () => consumer().subscribe('0', { processEvents: async () => {}, processError: async () => {} }, { startPosition: earliestEventPosition }));
      try {
        await new Promise((resolve) => setTimeout(resolve, 5000)); // the five attach
        await expect(receiveUntil(consumer(), () => false, { partitionId: '0', startPosition: earliestEventPosition }))
          .rejects.toMatchObject({ code: 'QuotaExceededError', message: expect.stringMatching(/^Exceeded the maximum number of allowed receivers per partition in a consumer group which is 5/) });
      } finally {
        await Promise.all(five.map((s) => s.close()));
      }
    });

    test('owner levels: no receiver without a level joins one with a level; a lower level is refused; an equal one steals', async () => {
      const errors: Error[] = [];
      const leveled = consumer().subscribe('0', { processEvents: async () => {}, processError: async (error) => { errors.push(error); } }, { startPosition: earliestEventPosition, ownerLevel: 2 });
      try {
        await new Promise((resolve) => setTimeout(resolve, 5000));
        await expect(receiveUntil(consumer(), () => false, { partitionId: '0', startPosition: earliestEventPosition }))
          .rejects.toMatchObject({ code: 'ReceiverDisconnectedError', message: expect.stringMatching(/non-epoch receiver is not allowed/) });
        await expect(receiveUntil(consumer(), () => false, { partitionId: '0', startPosition: earliestEventPosition, ownerLevel: 1 }))
          .rejects.toMatchObject({ code: 'ReceiverDisconnectedError', message: expect.stringMatching(/higher epoch '2' already exists/) });
        const stealer = consumer().subscribe('0', { processEvents: async () => {}, processError: async () => {} }, { startPosition: earliestEventPosition, ownerLevel: 2 });
        await waitFor(() => errors.length > 0, 'the first leveled receiver to be disconnected', 60_000);
        expect(errors[0]).toMatchObject({ code: 'ReceiverDisconnectedError', message: expect.stringMatching(/is getting disconnected/) });
        await stealer.close();
      } finally {
        await leveled.close();
      }
    });

    test('a start position past the last enqueued event is refused with argument-out-of-range', async () => {
      const last = (await consumer().getPartitionProperties('1')).lastEnqueuedSequenceNumber;
      await expect(receiveUntil(consumer(), () => false, { partitionId: '1', startPosition: { sequenceNumber: last + 10 } }))
        .rejects.toMatchObject({ code: 'ArgumentOutOfRangeError', message: expect.stringMatching(new RegExp(`^The supplied sequence number '${last + 10}' is invalid\\. The last sequence number in the system is '-?\\d+'`)) });
    });

    test('a transfer over the hub\'s message limit is rejected with MessageTooLarge', async () => {
      const client = producer();
      const limit = (await client.createBatch({ partitionId: '3' })).maxSizeInBytes;
      await expect(client.sendBatch([{ body: 'x'.repeat(limit + 1024), properties: { probe: 'size' } }], { partitionId: '3' }))
        .rejects.toMatchObject({ code: 'MessageTooLargeError', message: expect.stringMatching(/exceeds the limit \(\d+ bytes\) currently allowed on the link/) });
    });
  });

  describe('six hub jobs on the real hub', () => {
    let layout: LakeLayout;
    let config: EventlakeConfig;
    let hubCount: number;
    let before: PartitionProperties[];
    /** A partition retention emptied before this run, kept empty by sending nothing to it. */
    let emptied: PartitionProperties | undefined;

    const writeConfig = async (root: string, source: 'lake' | 'eventhubs'): Promise<EventlakeConfig> => {
      const file = path.join(dir, `${source}-${path.basename(root)}.config.json`);
      fs.writeFileSync(file, JSON.stringify({ lake: root, eventHubs, log: { partitions: LAKE_PARTITIONS }, jobs: HUB_JOBS.map((name) => ({ name, projection: name, source })) }));
      return loadConfig({ config: file });
    };
    const ingest = async (batch: CommandInput[]) => {
      const ingester = await Ingester.open(layout, config.registry, { partitions: LAKE_PARTITIONS });
      batch.forEach((command, i) => ingester.decide(command, `real:${i}`));
      await ingester.commit();
      await ingester.close();
    };
    const forward = () => forwardOnce({ layout, eventHubs });
    const rounded = (rows: Record<string, unknown>[]) => JSON.parse(JSON.stringify(rows, (_, v) => (typeof v === 'number' ? Number(v.toPrecision(12)) : v)));
    const answers = async (at: LakeLayout) => Promise.all(VIEW_QUERIES.map(async (sql) => rounded((await queryViews(at, sql)).rows)));
    const fromLakeAlone = async () => {
      const copy = path.join(dir, `copy-${randomUUID()}`);
      fs.cpSync(layout.root, copy, { recursive: true });
      const lakeConfig = await writeConfig(copy, 'lake');
      await runJobs(lakeConfig, new LakeLayout(copy), lakeConfig.jobs, { mode: 'rebuild' });
      return answers(new LakeLayout(copy));
    };
    /** The commands whose aggregates the forwarder would send elsewhere than `partitionId`. */
    const avoiding = (commands: CommandInput[], partitionId: string | undefined) => commands.filter((c) => {
      if (partitionId === undefined) return true;
      const payload = c.command as Record<string, string>;
      return partitionOf(payload.supercharger_serial ?? payload.order_id ?? payload.customer_id, hubCount) !== Number(partitionId);
    });

    beforeAll(async () => {
      layout = new LakeLayout(path.join(dir, 'lake'));
      config = await writeConfig(layout.root, 'eventhubs');
      const client = consumer();
      const ids = await client.getPartitionIds();
      hubCount = ids.length;
      before = await Promise.all(ids.map((id) => client.getPartitionProperties(id)));
      emptied = before.find((p) => p.isEmpty && p.lastEnqueuedSequenceNumber >= 3);
    });

    test('handed over from the lake, run to the end and consumed live: every table equals a lake rebuild', async () => {
      const commands = avoiding([...sampleCommands({ count: 900, seed: 91 })], emptied?.partitionId);
      await ingest(commands.slice(0, 400));
      await forward();
      await runJobs(config, layout, config.jobs); // hand-over: the jobs read the hub from the forwarder's mark on
      await ingest(commands.slice(400, 600));
      await forward();
      await runJobs(config, layout, config.jobs);
      expect(await answers(layout)).toEqual(await fromLakeAlone());

      // Live, with ownership (two consumers of the same jobs), one reader each for all six jobs.
      const container = new ContainerClient(azurite.connectionString, `own-${randomUUID()}`);
      await container.create();
      const stop = new AbortController();
      let failure: Error | undefined;
      const instances = [0, 1].map(() => runHubJobs(layout, config.jobs, {
        eventHubs, ownership: new BlobCheckpointStore(container),
        consumerOptions: { loadBalancingOptions: { strategy: 'greedy', updateIntervalInMs: 2000, partitionOwnershipExpirationIntervalInMs: 20_000 } },
      }, stop.signal).catch((error: Error) => { failure = error; return []; }));
      await ingest(commands.slice(600, 900));
      await forward();
      const ends = await Promise.all((await consumer().getPartitionIds()).map(async (id) => (await consumer().getPartitionProperties(id)).lastEnqueuedSequenceNumber));
      await waitFor(async () => {
        if (failure) throw failure;
        for (const job of config.jobs) {
          const snapshot = await loadSnapshot(layout.tableDir(job.output));
          // A partition this run sent nothing to has no position committed: nothing to wait for.
          const behind = (end: number, id: number) => end > before[id].lastEnqueuedSequenceNumber
            && (snapshot.txns.get(hubAppId(job, hubName(eventHubs), String(id)))?.version ?? -1) < end;
          if (ends.some(behind)) return false;
        }
        return true;
      }, 'the live consumers to bring all six jobs to the hub\'s end', 300_000);
      stop.abort();
      await Promise.all(instances);
      await runJobs(config, layout, []); // the views
      expect(await answers(layout)).toEqual(await fromLakeAlone());
    });

    test('retention: a job whose position lies where the hub no longer holds anything takes it from the lake, and run ends on the emptied partition', async (context) => {
      if (!emptied) {
        console.log('The real hub has no partition emptied by retention yet: run this suite again once the hub\'s retention has passed (set it to 1 hour); '
          + 'it then sends nothing to one emptied partition and checks retention there.');
        context.skip();
      }
      // The service's answer for a partition retention emptied: isEmpty, and its last sequence
      // number still there. A job positioned a little before it must notice, take what it
      // misses from the lake (nothing was hashed there by this run), and not wait for events.
      const { partitionId } = emptied!;
      const now = await consumer().getPartitionProperties(partitionId);
      expect(now).toMatchObject({ isEmpty: true, lastEnqueuedSequenceNumber: emptied!.lastEnqueuedSequenceNumber });
      const job = config.jobs.find((j) => j.name === 'orders')!;
      const table = layout.tableDir(job.output);
      const snapshot = await loadSnapshot(table);
      const hub = hubName(eventHubs);
      const forged = now.lastEnqueuedSequenceNumber - 3;
      const watermarks = Object.entries(lakePositions(snapshot, job, LAKE_PARTITIONS))
        .map(([stream, sequence]) => ({ txn: { appId: hubAppId(job, hub, partitionId, stream), version: sequence, lastUpdated: Date.now() } }));
      await commitVersion(table, snapshot.version + 1, [
        { commitInfo: { timestamp: Date.now(), operation: 'SET TRANSACTION', operationParameters: {}, engineInfo: 'eventlake real-hub test' } },
        { txn: { appId: hubAppId(job, hub, partitionId), version: forged, lastUpdated: Date.now() } },
        ...watermarks,
      ]);
      await runJobs(config, layout, [job]);
      expect((await loadSnapshot(table)).txns.get(hubAppId(job, hub, partitionId))?.version).toBe(now.lastEnqueuedSequenceNumber);
      expect(await answers(layout)).toEqual(await fromLakeAlone());
    });
  });
});

function realConfig(value: string): EventHubsConfig {
  const config = value.trim().startsWith('{') ? (JSON.parse(value) as EventHubsConfig) : { connectionString: value.trim() };
  if (!config.connectionString && !(config.fullyQualifiedNamespace && config.eventHubName)) {
    throw new Error('EVENTLAKE_TEST_EVENTHUBS: give a connection string (with EntityPath, or eventHubName), or fullyQualifiedNamespace and eventHubName');
  }
  return config;
}

function hubName(config: EventHubsConfig): string {
  return config.eventHubName ?? parseEventHubConnectionString(config.connectionString!).eventHubName!;
}
