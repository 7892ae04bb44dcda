/**
 * A projection job reading Event Hubs that fails between a batch's data file and its commit applies
 * the batch once when it runs again: the views equal a rebuild from the lake alone.
 */
import { describe, expect, test } from 'vitest';
import { armFailpoint } from '../../lake/failpoints.js';
import { answers, commands, forward, fromLakeAlone, ingest, run, useHubJobLake } from './hubJobLake.js';

describe('a projection job reading Event Hubs fails mid-batch', { timeout: 300_000 }, () => {
  const lake = useHubJobLake();

  test('a batch that fails between its data file and its commit is applied once when the job runs again', async () => {
    const { layout } = lake;
    await ingest(lake, commands.slice(0, 200));
    await forward(lake);
    await run(lake);
    await ingest(lake, commands.slice(200, 500));
    await forward(lake);
    armFailpoint('projection.afterDataFile', 'EIO');
    try {
      await expect(run(lake)).rejects.toThrow(/EIO: injected failure at projection.afterDataFile/);
    } finally {
      armFailpoint('projection.afterDataFile', null);
    }
    await run(lake);
    expect(await answers(layout)).toEqual(await fromLakeAlone(lake));
  });
});
