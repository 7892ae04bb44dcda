/**
 * Projection jobs and the forwarder facing a hub that is not the one they have been using (it was
 * recreated, or its partition count changed): they refuse, commit nothing, and say what to do.
 */
import { describe, expect, test } from 'vitest';
import { readCheckpoint } from '../../lake/stream/forwarderCheckpoint.js';
import { runJobs } from '../../projections/runJobs.js';
import { start } from '../servers/eventHubsServer.js';
import { commands, forward, ingest, run, useHubJobLake, writeConfig } from './hubJobLake.js';

describe('projection jobs reading an Event Hub that changed', { timeout: 300_000 }, () => {
  const lake = useHubJobLake();

  test('a table whose position is past the hub\'s end (the hub was recreated) fails with what to do', async () => {
    const { hub, layout } = lake;
    await ingest(lake, commands.slice(0, 200));
    await forward(lake);
    await run(lake);
    await ingest(lake, commands.slice(200, 300));
    await forward(lake);
    await run(lake);
    const recreated = await start({ partitions: 4 });
    try {
      const fresh = await writeConfig(lake, layout.root, 'eventhubs');
      const onNewHub = { ...fresh, eventHubs: { connectionString: recreated.connectionString } };
      await expect(runJobs(onNewHub, layout, onNewHub.jobs.slice(0, 1)))
        .rejects.toThrow(/job superchargers: partition \d of event hub hub was read up to sequence \d+ but the hub's last sequence number is -?\d+.*eventlake rebuild superchargers/s);
    } finally {
      await recreated.close();
    }
  }, 300_000);

  test('the forwarder and the jobs refuse to go on when the hub\'s partition count changed, and say what to do', async () => {
    const { hub, layout } = lake;
    await ingest(lake, commands.slice(0, 200));
    await forward(lake);
    await run(lake);
    hub.addPartitions(2);
    await ingest(lake, commands.slice(200, 300));
    const before = await readCheckpoint(layout, 'hub');
    await expect(forward(lake)).rejects.toThrow(/event hub hub now has 6 partitions; the forwarder has been sending to 4 .*new event hub/s);
    expect((await readCheckpoint(layout, 'hub')).streams).toEqual(before.streams);
    expect(['4', '5'].map((id) => hub.events(id).length)).toEqual([0, 0]);
    await expect(run(lake)).rejects.toThrow(/event hub hub now has 6 partitions; the forwarder has been sending to 4/);
  }, 300_000);
});
