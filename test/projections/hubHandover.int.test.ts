/**
 * Projection jobs fed from Event Hubs (the real SDK against the Event Hubs test server): the
 * hand-over from the lake log to the hub at the forwarder's mark, forwarder re-sends, and a rebuild
 * from the lake that hands over again. The views must equal those of the same jobs rebuilt from the
 * lake log alone.
 */
import { describe, expect, test } from 'vitest';
import { jobStatus } from '../../projections/jobStatus.js';
import { loadSnapshot } from '../../lake/delta/deltaTable.js';
import { readCheckpoint, writeCheckpoint } from '../../lake/stream/forwarderCheckpoint.js';
import { runJobs } from '../../projections/runJobs.js';
import { answers, commands, forward, fromLakeAlone, ingest, run, useHubJobLake } from './hubJobLake.js';

describe('projection jobs hand over from the lake to Event Hubs', { timeout: 300_000 }, () => {
  const lake = useHubJobLake();

  test('a job catches up from the lake, switches to the hub at the forwarder mark, and skips re-sent copies', async () => {
    const { hub, layout, config } = lake;
    await ingest(lake, commands.slice(0, 300));
    await forward(lake);
    const first = await run(lake);
    // Everything came from the lake; the hub's copies of it were recognised and skipped.
    expect(first.every((r) => r.applied === 0)).toBe(true);
    expect(await answers(layout)).toEqual(await fromLakeAlone(lake));

    await ingest(lake, commands.slice(300, 450));
    await forward(lake);
    // A forwarder that lost its checkpoint sends part of p0 again.
    const checkpoint = await readCheckpoint(layout, 'hub');
    await writeCheckpoint(layout, { ...checkpoint, streams: { ...checkpoint.streams, p0: { sequence: Math.floor(checkpoint.streams.p0.sequence / 2) } } });
    expect((await forward(lake)).sent).toBeGreaterThan(0);
    const second = await run(lake);
    expect(second.reduce((n, r) => n + r.applied, 0)).toBeGreaterThan(0);
    expect(await answers(layout)).toEqual(await fromLakeAlone(lake));

    // In the lake but not yet in the hub: the job does not see it (it reads the hub now)...
    await ingest(lake, commands.slice(450, 600));
    const versions = await Promise.all(config.jobs.map(async (job) => (await loadSnapshot(layout.tableDir(job.output))).version));
    expect((await run(lake)).every((r) => r.applied === 0)).toBe(true);
    expect(await Promise.all(config.jobs.map(async (job) => (await loadSnapshot(layout.tableDir(job.output))).version))).toEqual(versions);
    // ...until the forwarder sends it.
    await forward(lake);
    await run(lake);
    expect(await answers(layout)).toEqual(await fromLakeAlone(lake));

    // Status: caught up, with the hub positions.
    const status = await jobStatus(layout, config.jobs[0]);
    expect(status.lagEvents).toBe(0);
    expect(Object.keys(status.hub!).sort()).toEqual(['0', '1', '2', '3']);

    // Reading the lake incrementally now would double what the hub brings: refused.
    await expect(runJobs({ ...config, jobs: config.jobs.map((j) => ({ ...j, source: 'lake' as const })) }, layout, config.jobs.map((j) => ({ ...j, source: 'lake' as const }))))
      .rejects.toThrow(/reads Event Hubs now/);
  });

  test('a job cannot switch to the hub before the forwarder recorded a mark: it says so and commits nothing from the hub', async () => {
    const { hub, layout } = lake;
    await ingest(lake, commands.slice(0, 100));
    await expect(run(lake)).rejects.toThrow(/cannot switch to event hub hub: the forwarder has recorded no hand-over mark .*Run `eventlake forward`/);
    const snapshot = await loadSnapshot(layout.tableDir('superchargers'));
    expect([...snapshot.txns.keys()].some((appId) => appId.includes('/hub:'))).toBe(false);
    // Once the forwarder ran, the same run goes through.
    await forward(lake);
    await run(lake);
    expect(await answers(layout)).toEqual(await fromLakeAlone(lake));
  });

  test('after a rebuild from the lake the job hands over again, from a later mark', async () => {
    const { layout } = lake;
    await ingest(lake, commands.slice(0, 250));
    await forward(lake);
    await run(lake);
    await ingest(lake, commands.slice(250, 500));
    await forward(lake);
    await run(lake, { mode: 'rebuild' });
    await ingest(lake, commands.slice(500, 700));
    await forward(lake);
    await run(lake);
    expect(await answers(layout)).toEqual(await fromLakeAlone(lake));
  });
});
