/**
 * An event larger than a hub message goes to the hub as a claim check: the forwarder records it,
 * status shows it, and the hub jobs read the event itself from the lake.
 */
import { describe, expect, test } from 'vitest';
import type { CommandInput } from '../../ingest/envelope.js';
import { jobStatus } from '../../projections/jobStatus.js';
import { readCheckpoint } from '../../lake/stream/forwarderCheckpoint.js';
import { answers, commands, forward, fromLakeAlone, ingest, run, useHubJobLake } from './hubJobLake.js';

describe('oversized events on Event Hubs', { timeout: 300_000 }, () => {
  const lake = useHubJobLake();

  test('an event larger than a hub message goes as a claim check: recorded, shown by status, and the hub jobs read it from the lake', async () => {
    const { hub, layout, config } = lake;
    await ingest(lake, commands.slice(0, 200));
    await forward(lake);
    await run(lake);
    const order = commands.find((c) => c.command_name === 'CreateOrder')!;
    const huge: CommandInput = {
      command_id: 'huge-order', command_name: 'CreateOrder', received: '2026-03-01T00:00:00Z',
      command: { ...(order.command as Record<string, unknown>), order_id: 'HUGE-1' }, metadata: { note: 'x'.repeat(1100 * 1024) },
    };
    await ingest(lake, [huge, ...commands.slice(200, 260)], 4 * 1024 * 1024);
    const result = await forward(lake);
    expect(result.oversized).toHaveLength(1);
    expect((await readCheckpoint(layout, 'hub')).oversized).toMatchObject([{ eventId: expect.any(String), bytes: expect.any(Number) }]);
    const stub = ['0', '1', '2', '3'].flatMap((id) => hub.events(id)).find((e) => e.properties?.claimCheck === true)!;
    expect(stub.properties).toMatchObject({ aggregateId: 'HUGE-1', eventType: 'OrderCreated' });
    await run(lake);
    expect(await answers(layout)).toEqual(await fromLakeAlone(lake));
    const status = await jobStatus(layout, config.jobs.find((j) => j.name === 'orders')!);
    expect(status.hubOversized).toMatchObject([{ aggregateId: 'HUGE-1', eventType: 'OrderCreated' }]);
  }, 300_000);
});
