/**
 * Projection jobs fed from Event Hubs, with the real SDK against the Event Hubs test server (and
 * Azurite's blob service for partition ownership): the hand-over from the lake log to the hub,
 * forwarder re-sends, a rebuild, a failed batch and two instances sharing the partitions. In each
 * case the views must equal those of the same jobs rebuilt from the lake log alone.
 */
import fs from 'node:fs';
import path from 'node:path';
import { EventHubConsumerClient, earliestEventPosition } from '@azure/event-hubs';
import { BlobCheckpointStore } from '@azure/eventhubs-checkpointstore-blob';
import { ContainerClient } from '@azure/storage-blob';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { sampleCommands } from '../../domains/sampleCommands.js';
import type { CommandInput } from '../../ingest/envelope.js';
import { Ingester } from '../../ingest/ingester.js';
import { loadSnapshot } from '../../lake/delta/deltaTable.js';
import { armFailpoint } from '../../lake/failpoints.js';
import { LakeLayout } from '../../lake/layout.js';
import { forwardOnce } from '../../lake/stream/eventHubsForwarder.js';
import { readCheckpoint, writeCheckpoint } from '../../lake/stream/forwarderCheckpoint.js';
import { readLogMeta } from '../../lake/log/logMeta.js';
import { HubJobTable } from '../../projections/hubJob.js';
import { runHubJob } from '../../projections/hubRunner.js';
import { loadConfig, type EventlakeConfig } from '../../projections/jobsConfig.js';
import { jobStatus } from '../../projections/jobStatus.js';
import { runJobs } from '../../projections/runJobs.js';
import { queryViews } from '../../views/query.js';
import { startAzurite, type Azurite } from '../servers/azurite.js';
import { eventually, receiveUntil } from '../servers/eventHubsClients.js';
import { start, type EventHubsServer } from '../servers/eventHubsServer.js';
import { tempDir } from '../support/cli.js';

const LAKE_PARTITIONS = 3;
const HUB_JOBS = ['superchargers', 'supercharger_status_history', 'daily_status_changes', 'customers', 'orders', 'order_status_history'];
const VIEW_QUERIES = [
  'SELECT * FROM superchargers ORDER BY supercharger_serial',
  'SELECT * FROM supercharger_status_history ORDER BY supercharger_serial, valid_from',
  'SELECT * FROM daily_status_changes ORDER BY ALL',
  'SELECT * FROM vw_order_summary ORDER BY order_id',
  'SELECT * FROM vw_daily_order_metrics ORDER BY ALL',
];
const commands = [...sampleCommands({ count: 800, seed: 47 })];

describe('projection jobs reading Event Hubs', { timeout: 300_000 }, () => {
  let hub: EventHubsServer;
  let dir: string;
  let layout: LakeLayout;
  let config: EventlakeConfig;

  const writeConfig = async (root: string, source: 'lake' | 'eventhubs'): Promise<EventlakeConfig> => {
    const file = path.join(dir, `${source}-${path.basename(root)}.config.json`);
    const jobs = HUB_JOBS.map((name) => ({ name, projection: name, source }));
    fs.writeFileSync(file, JSON.stringify({ lake: root, eventHubs: { connectionString: hub.connectionString }, log: { partitions: LAKE_PARTITIONS }, jobs }));
    return loadConfig({ config: file });
  };

  const ingest = async (batch: CommandInput[], maxCommandBytes?: number) => {
    const ingester = await Ingester.open(layout, config.registry, { partitions: LAKE_PARTITIONS, maxCommandBytes });
    batch.forEach((command, i) => ingester.decide(command, `test:${i}`));
    await ingester.commit();
    await ingester.close();
  };
  const forward = () => forwardOnce({ layout, eventHubs: { connectionString: hub.connectionString }, readBatch: 40 });
  const run = (options: { mode?: 'rebuild' } = {}) => runJobs(config, layout, config.jobs, options);
  // Sums of doubles differ in the last bits with the order rows are added in: compare 12 digits.
  const rounded = (rows: Record<string, unknown>[]) => JSON.parse(JSON.stringify(rows, (_, v) => (typeof v === 'number' ? Number(v.toPrecision(12)) : v)));
  const answers = async (at: LakeLayout) => Promise.all(VIEW_QUERIES.map(async (sql) => rounded((await queryViews(at, sql)).rows)));

  /** The same jobs rebuilt from the lake log alone, in a copy of the lake: what the views must say. */
  const fromLakeAlone = async () => {
    const copy = path.join(dir, `copy-${Date.now()}`);
    fs.cpSync(layout.root, copy, { recursive: true });
    const lakeConfig = await writeConfig(copy, 'lake');
    const copyLayout = new LakeLayout(copy);
    await runJobs(lakeConfig, copyLayout, lakeConfig.jobs, { mode: 'rebuild' });
    return answers(copyLayout);
  };

  beforeEach(async () => {
    hub = await start({ partitions: 4 });
    dir = tempDir('eventlake-hubjob-');
    layout = new LakeLayout(path.join(dir, 'lake'));
    config = await writeConfig(layout.root, 'eventhubs');
  });
  afterEach(async () => {
    await hub.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a job catches up from the lake, switches to the hub at the forwarder mark, and skips re-sent copies', async () => {
    await ingest(commands.slice(0, 300));
    await forward();
    const first = await run();
    // Everything came from the lake; the hub's copies of it were recognised and skipped.
    expect(first.every((r) => r.applied === 0)).toBe(true);
    expect(await answers(layout)).toEqual(await fromLakeAlone());

    await ingest(commands.slice(300, 450));
    await forward();
    // A forwarder that lost its checkpoint sends part of p0 again.
    const checkpoint = await readCheckpoint(layout, 'hub');
    await writeCheckpoint(layout, { ...checkpoint, streams: { ...checkpoint.streams, p0: { sequence: Math.floor(checkpoint.streams.p0.sequence / 2) } } });
    expect((await forward()).sent).toBeGreaterThan(0);
    const second = await run();
    expect(second.reduce((n, r) => n + r.applied, 0)).toBeGreaterThan(0);
    expect(await answers(layout)).toEqual(await fromLakeAlone());

    // In the lake but not yet in the hub: the job does not see it (it reads the hub now)...
    await ingest(commands.slice(450, 600));
    const versions = await Promise.all(config.jobs.map(async (job) => (await loadSnapshot(layout.tableDir(job.output))).version));
    expect((await run()).every((r) => r.applied === 0)).toBe(true);
    expect(await Promise.all(config.jobs.map(async (job) => (await loadSnapshot(layout.tableDir(job.output))).version))).toEqual(versions);
    // ...until the forwarder sends it.
    await forward();
    await run();
    expect(await answers(layout)).toEqual(await fromLakeAlone());

    // Status: caught up, with the hub positions.
    const status = await jobStatus(layout, config.jobs[0]);
    expect(status.lagEvents).toBe(0);
    expect(Object.keys(status.hub!).sort()).toEqual(['0', '1', '2', '3']);

    // Reading the lake incrementally now would double what the hub brings: refused.
    await expect(runJobs({ ...config, jobs: config.jobs.map((j) => ({ ...j, source: 'lake' as const })) }, layout, config.jobs.map((j) => ({ ...j, source: 'lake' as const }))))
      .rejects.toThrow(/reads Event Hubs now/);
  });

  test('a job cannot switch to the hub before the forwarder recorded a mark: it says so and commits nothing from the hub', async () => {
    await ingest(commands.slice(0, 100));
    await expect(run()).rejects.toThrow(/cannot switch to event hub hub: the forwarder has recorded no hand-over mark .*Run `eventlake forward`/);
    const snapshot = await loadSnapshot(layout.tableDir('superchargers'));
    expect([...snapshot.txns.keys()].some((appId) => appId.includes('/hub:'))).toBe(false);
    // Once the forwarder ran, the same run goes through.
    await forward();
    await run();
    expect(await answers(layout)).toEqual(await fromLakeAlone());
  });

  test('after a rebuild from the lake the job hands over again, from a later mark', async () => {
    await ingest(commands.slice(0, 250));
    await forward();
    await run();
    await ingest(commands.slice(250, 500));
    await forward();
    await run({ mode: 'rebuild' });
    await ingest(commands.slice(500, 700));
    await forward();
    await run();
    expect(await answers(layout)).toEqual(await fromLakeAlone());
  });

  test('a batch that fails between its data file and its commit is applied once when the job runs again', async () => {
    await ingest(commands.slice(0, 200));
    await forward();
    await run();
    await ingest(commands.slice(200, 500));
    await forward();
    armFailpoint('projection.afterDataFile', 'EIO');
    try {
      await expect(run()).rejects.toThrow(/EIO: injected failure at projection.afterDataFile/);
    } finally {
      armFailpoint('projection.afterDataFile', null);
    }
    await run();
    expect(await answers(layout)).toEqual(await fromLakeAlone());
  });

  /** Each job's last hub sequence applied per partition (-1: none). */
  const hubPositions = async () => Object.fromEntries(await Promise.all(config.jobs.map(async (job) => {
    const snapshot = await loadSnapshot(layout.tableDir(job.output));
    return [job.name, ['0', '1', '2', '3'].map((id) => snapshot.txns.get(`${job.name}@${job.definition.version}/hub:hub/${id}`)?.version ?? -1)];
  })));

  test('events that expired from the hub after the jobs\' positions are taken from the lake: the tables equal a lake rebuild', async () => {
    await ingest(commands.slice(0, 300));
    await forward();
    await run(); // handed over: the jobs read the hub from here
    await ingest(commands.slice(300, 500));
    await forward();
    // Retention takes the oldest events first: everything the jobs read, and the next 5 of each
    // partition, which they have not read: 20 events only the lake still has.
    const positions = await hubPositions();
    for (const [index, id] of ['0', '1', '2', '3'].entries()) {
      const read = Math.min(...HUB_JOBS.map((job) => positions[job][index]));
      expect(hub.lastSequence(id)).toBeGreaterThan(read + 5);
      hub.expire(id, read + 1 + 5 - hub.events(id)[0].sequenceNumber);
      expect(hub.events(id)[0].sequenceNumber).toBe(read + 6);
    }
    await run();
    expect(await answers(layout)).toEqual(await fromLakeAlone());
    // From the hub's first retained event on, the jobs read the hub again.
    await ingest(commands.slice(500, 600));
    await forward();
    await run();
    expect(await answers(layout)).toEqual(await fromLakeAlone());
  }, 300_000);

  test('a batch that arrives after a gap (events expired while the job was behind) is preceded by the lake\'s events', async () => {
    await ingest(commands.slice(0, 300));
    await forward();
    await run();
    await ingest(commands.slice(300, 500));
    await forward();
    const positions = await hubPositions();
    for (const [index, id] of ['0', '1', '2', '3'].entries()) {
      const read = Math.min(...HUB_JOBS.map((job) => positions[job][index]));
      hub.expire(id, read + 1 + 5 - hub.events(id)[0].sequenceNumber);
    }
    // What a live reader gets: each partition from its first retained event, in one batch.
    const consumer = new EventHubConsumerClient('$Default', hub.connectionString);
    const meta = (await readLogMeta(layout))!;
    try {
      for (const job of config.jobs) {
        const table = await HubJobTable.open(layout, job, 'hub', meta.partitions, ['0', '1', '2', '3']);
        try {
          for (const id of ['0', '1', '2', '3']) {
            const held = hub.events(id).length;
            const received = await receiveUntil(consumer, (r) => r.length >= held, { partitionId: id, startPosition: earliestEventPosition, maxBatchSize: 1000 });
            expect(received[0].event.sequenceNumber).toBeGreaterThan(positions[job.name][Number(id)] + 1);
            const result = await table.apply(id, received.map((r) => r.event));
            expect(result.position.sequence).toBe(hub.lastSequence(id));
          }
        } finally {
          await table.close();
        }
      }
    } finally {
      await consumer.close();
    }
    await run(); // nothing left to read; builds the views
    expect(await answers(layout)).toEqual(await fromLakeAlone());
  }, 300_000);

  test('run ends on a partition that expiry emptied (the hub still reports its last sequence number)', async () => {
    await ingest(commands.slice(0, 200));
    await forward();
    await run();
    await ingest(commands.slice(200, 350));
    await forward();
    for (const id of ['0', '1', '2', '3']) hub.expire(id, hub.events(id).length);
    await run();
    expect(await answers(layout)).toEqual(await fromLakeAlone());
    const positions = await hubPositions();
    for (const job of HUB_JOBS) expect(positions[job]).toEqual(['0', '1', '2', '3'].map((id) => hub.lastSequence(id)));
  }, 300_000);

  test('a table whose position is past the hub\'s end (the hub was recreated) fails with what to do', async () => {
    await ingest(commands.slice(0, 200));
    await forward();
    await run();
    await ingest(commands.slice(200, 300));
    await forward();
    await run();
    const recreated = await start({ partitions: 4 });
    try {
      const fresh = await writeConfig(layout.root, 'eventhubs');
      const onNewHub = { ...fresh, eventHubs: { connectionString: recreated.connectionString } };
      await expect(runJobs(onNewHub, layout, onNewHub.jobs.slice(0, 1)))
        .rejects.toThrow(/job superchargers: partition \d of event hub hub was read up to sequence \d+ but the hub's last sequence number is -?\d+.*eventlake rebuild superchargers/s);
    } finally {
      await recreated.close();
    }
  }, 300_000);

  test('the forwarder and the jobs refuse to go on when the hub\'s partition count changed, and say what to do', async () => {
    await ingest(commands.slice(0, 200));
    await forward();
    await run();
    hub.addPartitions(2);
    await ingest(commands.slice(200, 300));
    const before = await readCheckpoint(layout, 'hub');
    await expect(forward()).rejects.toThrow(/event hub hub now has 6 partitions; the forwarder has been sending to 4 .*new event hub/s);
    expect((await readCheckpoint(layout, 'hub')).streams).toEqual(before.streams);
    expect(['4', '5'].map((id) => hub.events(id).length)).toEqual([0, 0]);
    await expect(run()).rejects.toThrow(/event hub hub now has 6 partitions; the forwarder has been sending to 4/);
  }, 300_000);

  test('an event larger than a hub message goes as a claim check: recorded, shown by status, and the hub jobs read it from the lake', async () => {
    await ingest(commands.slice(0, 200));
    await forward();
    await run();
    const order = commands.find((c) => c.command_name === 'CreateOrder')!;
    const huge: CommandInput = {
      command_id: 'huge-order', command_name: 'CreateOrder', received: '2026-03-01T00:00:00Z',
      command: { ...(order.command as Record<string, unknown>), order_id: 'HUGE-1' }, metadata: { note: 'x'.repeat(1100 * 1024) },
    };
    await ingest([huge, ...commands.slice(200, 260)], 4 * 1024 * 1024);
    const result = await forward();
    expect(result.oversized).toHaveLength(1);
    expect((await readCheckpoint(layout, 'hub')).oversized).toMatchObject([{ eventId: expect.any(String), bytes: expect.any(Number) }]);
    const stub = ['0', '1', '2', '3'].flatMap((id) => hub.events(id)).find((e) => e.properties?.claimCheck === true)!;
    expect(stub.properties).toMatchObject({ aggregateId: 'HUGE-1', eventType: 'OrderCreated' });
    await run();
    expect(await answers(layout)).toEqual(await fromLakeAlone());
    const status = await jobStatus(layout, config.jobs.find((j) => j.name === 'orders')!);
    expect(status.hubOversized).toMatchObject([{ aggregateId: 'HUGE-1', eventType: 'OrderCreated' }]);
  }, 300_000);

  describe('with partition ownership in Azurite', () => {
    let azurite: Azurite;
    beforeEach(async () => {
      azurite = await startAzurite();
    });
    afterEach(async () => {
      await azurite.stop();
    });

    test('two instances share the partitions, one leaves midway, and every event is applied once', async () => {
      const container = new ContainerClient(azurite.connectionString, 'ownership');
      await container.create();
      await ingest(commands.slice(0, 200));
      await forward();
      await run(); // hand-over done; the instances below read the hub only

      const job = config.jobs.find((j) => j.name === 'superchargers')!;
      const instance = () => {
        const controller = new AbortController();
        const done = runHubJob(layout, job, {
          eventHubs: config.eventHubs,
          ownership: new BlobCheckpointStore(container),
          consumerOptions: { loadBalancingOptions: { strategy: 'greedy', updateIntervalInMs: 100, partitionOwnershipExpirationIntervalInMs: 1500 } },
          maxBatchSize: 20,
        }, controller.signal);
        return { stop: () => controller.abort(), done };
      };
      const a = instance();
      const b = instance();
      await ingest(commands.slice(200, 450));
      await forward();
      const hubEnd = async () => Promise.all(['0', '1', '2', '3'].map(async (id) => hub.events(id).length - 1));
      const positions = async () => {
        const snapshot = await loadSnapshot(layout.tableDir(job.output));
        return ['0', '1', '2', '3'].map((id) => snapshot.txns.get(`superchargers@${job.definition.version}/hub:hub/${id}`)?.version ?? -1);
      };
      await eventually(async () => JSON.stringify(await positions()) === JSON.stringify(await hubEnd()), 100);
      a.stop();
      const resultA = await a.done;
      await ingest(commands.slice(450, 650));
      await forward();
      await eventually(async () => JSON.stringify(await positions()) === JSON.stringify(await hubEnd()), 100);
      b.stop();
      const resultB = await b.done;
      expect(resultA.commits).toBeGreaterThan(0);
      expect(resultB.commits).toBeGreaterThan(0);

      await run(); // the other jobs, and the views
      expect(await answers(layout)).toEqual(await fromLakeAlone());
    }, 300_000);
  });
});
