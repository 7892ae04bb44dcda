/**
 * A rebuild in a memory budget far smaller than its state: the state jobs' caches evict rows to
 * DuckDB and defer the later records of those keys to the end. The read models must come out
 * exactly as a rebuild with room for everything makes them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sampleCommands } from '../../domains/sampleCommands.js';
import { Ingester } from '../../ingest/ingester.js';
import { LakeLayout } from '../../lake/layout.js';
import { runJobsTogether, type JobRunResult } from '../../projections/jobRunner.js';
import { loadConfig, type EventlakeConfig } from '../../projections/jobsConfig.js';
import { tempDir } from '../support/cli.js';
import { latestTableRows } from '../support/tableRows.js';

const STATE_JOBS = ['superchargers', 'orders', 'customers'];
// Room for a few hundred rows in all: most keys are evicted, and many come back.
const TINY = 300_000;

describe('a rebuild in a memory budget smaller than its state', () => {
  let dir: string;
  let config: EventlakeConfig;
  let layout: LakeLayout;

  const tables = () => latestTableRows(layout, config.jobs);

  const rebuild = (memory?: number) => runJobsTogether(layout, config.jobs, { mode: 'rebuild', memory });

  beforeAll(async () => {
    dir = tempDir('eventlake-memory-');
    const file = path.join(dir, 'jobs.config.json');
    const jobs = [...STATE_JOBS, 'supercharger_status_history', 'command_status'].map((name) => ({ name, projection: name, batchSize: 400 }));
    fs.writeFileSync(file, JSON.stringify({ lake: './lake', jobs }));
    config = await loadConfig({ config: file });
    layout = new LakeLayout(config.lakeDir);
    const ingester = await Ingester.open(layout, config.registry, { partitions: 3 });
    [...sampleCommands({ count: 4000, seed: 11 })].forEach((command, i) => ingester.decide(command, `test:${i}`));
    await ingester.commit();
    await ingester.close();
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('evicted rows and deferred records give the same read models as rows held in memory', async () => {
    const roomy = await rebuild();
    expect(roomy.map((r) => r.spilled)).toEqual(roomy.map(() => undefined));
    const expected = await tables();
    expect(expected.orders.length).toBeGreaterThan(300);

    const tight = await rebuild(TINY);
    const spilled = (name: string) => tight.find((r: JobRunResult) => r.job === name)!.spilled;
    // Orders and chargers change after they are created: their evicted keys come back, as deferred records.
    expect(spilled('orders')?.deferredRecords).toBeGreaterThan(20);
    expect(spilled('superchargers')?.deferredRecords).toBeGreaterThan(20);
    // A customer is registered once: evicted, never deferred but for the filter's rare false positive.
    expect(spilled('customers')?.rows).toBeGreaterThan(50);
    expect(spilled('customers')?.deferredRecords).toBeLessThan(5);
    expect(tight.map((r) => r.applied)).toEqual(roomy.map((r) => r.applied));
    expect(await tables()).toEqual(expected);
  }, 300_000);
});
