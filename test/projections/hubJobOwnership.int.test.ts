/**
 * Two instances of a projection job reading Event Hubs share its partitions through ownership
 * records in Azurite's blob service; one leaves midway, and every event is applied once.
 */
import { BlobCheckpointStore } from '@azure/eventhubs-checkpointstore-blob';
import { ContainerClient } from '@azure/storage-blob';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { loadSnapshot } from '../../lake/delta/deltaTable.js';
import { runHubJob } from '../../projections/hubRunner.js';
import { startAzurite, type Azurite } from '../servers/azurite.js';
import { eventually } from '../servers/eventHubsClients.js';
import { answers, commands, forward, fromLakeAlone, ingest, run, useHubJobLake } from './hubJobLake.js';

describe('projection jobs reading Event Hubs with partition ownership in Azurite', { timeout: 300_000 }, () => {
  const lake = useHubJobLake();
  let azurite: Azurite;
  beforeEach(async () => {
    azurite = await startAzurite();
  });
  afterEach(async () => {
    await azurite.stop();
  });

  test('two instances share the partitions, one leaves midway, and every event is applied once', async () => {
    const { hub, layout, config } = lake;
    const container = new ContainerClient(azurite.connectionString, 'ownership');
    await container.create();
    await ingest(lake, commands.slice(0, 200));
    await forward(lake);
    await run(lake); // hand-over done; the instances below read the hub only

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
    await ingest(lake, commands.slice(200, 450));
    await forward(lake);
    const hubEnd = async () => Promise.all(['0', '1', '2', '3'].map(async (id) => hub.events(id).length - 1));
    const positions = async () => {
      const snapshot = await loadSnapshot(layout.tableDir(job.output));
      return ['0', '1', '2', '3'].map((id) => snapshot.txns.get(`superchargers@${job.definition.version}/hub:hub/${id}`)?.version ?? -1);
    };
    await eventually(async () => JSON.stringify(await positions()) === JSON.stringify(await hubEnd()), 100);
    a.stop();
    const resultA = await a.done;
    await ingest(lake, commands.slice(450, 650));
    await forward(lake);
    await eventually(async () => JSON.stringify(await positions()) === JSON.stringify(await hubEnd()), 100);
    b.stop();
    const resultB = await b.done;
    expect(resultA.commits).toBeGreaterThan(0);
    expect(resultB.commits).toBeGreaterThan(0);

    await run(lake); // the other jobs, and the views
    expect(await answers(layout)).toEqual(await fromLakeAlone(lake));
  }, 300_000);
});
