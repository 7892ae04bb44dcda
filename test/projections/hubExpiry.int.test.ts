/**
 * Projection jobs fed from Event Hubs when the hub's retention dropped events the jobs had not read:
 * those come from the lake log, and the tables equal a rebuild from the lake alone.
 */
import { EventHubConsumerClient, earliestEventPosition } from '@azure/event-hubs';
import { describe, expect, test } from 'vitest';
import { HubJobTable } from '../../projections/hubJob.js';
import { readLogMeta } from '../../lake/log/logMeta.js';
import { receiveUntil } from '../servers/eventHubsClients.js';
import { answers, commands, forward, fromLakeAlone, HUB_JOBS, hubPositions, ingest, run, useHubJobLake } from './hubJobLake.js';

describe('projection jobs reading Event Hubs after events expired', { timeout: 300_000 }, () => {
  const lake = useHubJobLake();

  test('events that expired from the hub after the jobs\' positions are taken from the lake: the tables equal a lake rebuild', async () => {
    const { hub, layout } = lake;
    await ingest(lake, commands.slice(0, 300));
    await forward(lake);
    await run(lake); // handed over: the jobs read the hub from here
    await ingest(lake, commands.slice(300, 500));
    await forward(lake);
    // Retention takes the oldest events first: everything the jobs read, and the next 5 of each
    // partition, which they have not read: 20 events only the lake still has.
    const positions = await hubPositions(lake);
    for (const [index, id] of ['0', '1', '2', '3'].entries()) {
      const read = Math.min(...HUB_JOBS.map((job) => positions[job][index]));
      expect(hub.lastSequence(id)).toBeGreaterThan(read + 5);
      hub.expire(id, read + 1 + 5 - hub.events(id)[0].sequenceNumber);
      expect(hub.events(id)[0].sequenceNumber).toBe(read + 6);
    }
    await run(lake);
    expect(await answers(layout)).toEqual(await fromLakeAlone(lake));
    // From the hub's first retained event on, the jobs read the hub again.
    await ingest(lake, commands.slice(500, 600));
    await forward(lake);
    await run(lake);
    expect(await answers(layout)).toEqual(await fromLakeAlone(lake));
  }, 300_000);

  test('a batch that arrives after a gap (events expired while the job was behind) is preceded by the lake\'s events', async () => {
    const { hub, layout, config } = lake;
    await ingest(lake, commands.slice(0, 300));
    await forward(lake);
    await run(lake);
    await ingest(lake, commands.slice(300, 500));
    await forward(lake);
    const positions = await hubPositions(lake);
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
    await run(lake); // nothing left to read; builds the views
    expect(await answers(layout)).toEqual(await fromLakeAlone(lake));
  }, 300_000);

  test('run ends on a partition that expiry emptied (the hub still reports its last sequence number)', async () => {
    const { hub, layout } = lake;
    await ingest(lake, commands.slice(0, 200));
    await forward(lake);
    await run(lake);
    await ingest(lake, commands.slice(200, 350));
    await forward(lake);
    for (const id of ['0', '1', '2', '3']) hub.expire(id, hub.events(id).length);
    await run(lake);
    expect(await answers(layout)).toEqual(await fromLakeAlone(lake));
    const positions = await hubPositions(lake);
    for (const job of HUB_JOBS) expect(positions[job]).toEqual(['0', '1', '2', '3'].map((id) => hub.lastSequence(id)));
  }, 300_000);
});
