/**
 * The jobs of an incremental run share one DuckDB instance, a connection each
 * (sharedPassDuckdb.ts); a rebuild's jobs keep one each (their memory limits move per job).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { sampleCommands } from '../../domains/sampleCommands.js';
import { Ingester } from '../../ingest/ingester.js';
import { loadSnapshot, writeCheckpoint } from '../../lake/delta/deltaTable.js';
import { Duck } from '../../lake/duckdb.js';
import { LakeLayout } from '../../lake/layout.js';
import { JobPass } from '../../projections/jobPass.js';
import { runJobsTogether } from '../../projections/jobRunner.js';
import { loadConfig, type EventlakeConfig } from '../../projections/jobsConfig.js';
import { MemoryBudget, PassMemory } from '../../projections/memoryBudget.js';
import { SharedPassDuckdb } from '../../projections/sharedPassDuckdb.js';
import { tempDir } from '../support/cli.js';
import { latestTableRows } from '../support/tableRows.js';

const JOBS = ['superchargers', 'supercharger_status_history', 'daily_status_changes', 'orders', 'command_status'];

describe('one DuckDB instance for the jobs of an incremental run', () => {
  let dir: string;
  let config: EventlakeConfig;
  let layout: LakeLayout;
  const commands = [...sampleCommands({ count: 2000, seed: 5 })];

  const ingest = async (from: number, to: number) => {
    const ingester = await Ingester.open(layout, config.registry, { partitions: 2 });
    commands.slice(from, to).forEach((command, i) => ingester.decide(command, `test:${from + i}`));
    await ingester.commit();
    await ingester.close();
  };
  const tables = () => latestTableRows(layout, config.jobs);


  beforeAll(async () => {
    dir = tempDir('eventlake-shared-duckdb-');
    const file = path.join(dir, 'jobs.config.json');
    fs.writeFileSync(file, JSON.stringify({ lake: './lake', jobs: JOBS.map((name) => ({ name, projection: name, batchSize: 300 })) }));
    config = await loadConfig({ config: file });
    layout = new LakeLayout(config.lakeDir);
  });
  afterEach(() => vi.restoreAllMocks());
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('incremental passes open one instance, and their tables equal a rebuild of the same log; a rebuild opens one per job', async () => {
    await ingest(0, 1000);
    // A first run stages its batches: an instance per job, as a rebuild.
    await runJobsTogether(layout, config.jobs);
    await ingest(1000, 1500);
    const opens = vi.spyOn(Duck, 'open');
    const incremental = await runJobsTogether(layout, config.jobs, { mode: 'incremental' });
    expect(incremental.map((r) => r.commits > 0)).toEqual(JOBS.map(() => true));
    expect(opens).toHaveBeenCalledTimes(1);
    const merged = await tables();

    opens.mockClear();
    await runJobsTogether(layout, config.jobs, { mode: 'rebuild' });
    expect(opens).toHaveBeenCalledTimes(JOBS.length);
    expect(merged).toEqual(await tables());
  });

  test("a table's Delta checkpoint is read on the pass's shared instance: still one instance for the run", async () => {
    for (const job of config.jobs) {
      const tableDir = layout.tableDir(job.output);
      await writeCheckpoint(tableDir, await loadSnapshot(tableDir));
    }
    await ingest(1500, 2000);
    const opens = vi.spyOn(Duck, 'open');
    const incremental = await runJobsTogether(layout, config.jobs, { mode: 'incremental' });
    expect(incremental.map((r) => r.commits > 0)).toEqual(JOBS.map(() => true));
    expect(opens).toHaveBeenCalledTimes(1);
    const merged = await tables();
    await runJobsTogether(layout, config.jobs, { mode: 'rebuild' });
    expect(merged).toEqual(await tables());
  });

  test("a job parked on the shared instance leaves the instance's limit as it is (the other jobs work in it)", async () => {
    const memory = new PassMemory(new MemoryBudget(768 * 1024 ** 2), 2);
    const shared = new SharedPassDuckdb(memory, 2);
    const passes = await Promise.all(['superchargers', 'orders'].map((name) => JobPass.start(layout, config.jobs.find((j) => j.name === name)!, 2, memory, { mode: 'incremental' }, shared)));
    const probe = await shared.connect();
    try {
      const limit = () => probe.scalar<string>("SELECT current_setting('memory_limit')");
      const before = await limit();
      await passes[0].park();
      expect(await limit()).toBe(before);
      expect(memory.finishingLimitFor(passes[1])).toBe(memory.budget.duckdbLimit(1, memory.budget.duckdbBytes - memory.sharedMiB * 1024 ** 2));
    } finally {
      probe.close();
      for (const pass of passes) await pass.close();
      await shared.close();
    }
  });

  test("a lone job's rebuild finishes at the limit its instance opened with: no SET memory_limit (each frees memory, ~40 ms)", async () => {
    const statements = vi.spyOn(Duck.prototype, 'run');
    const [result] = await runJobsTogether(layout, [config.jobs.find((j) => j.name === 'daily_status_changes')!], { mode: 'rebuild' });
    expect(result.commits).toBe(1);
    expect(statements.mock.calls.map(([sql]) => sql).filter((sql) => /memory_limit/i.test(sql))).toEqual([]);
  });
});

describe('SharedPassDuckdb', () => {
  const memory = new PassMemory(new MemoryBudget(768 * 1024 ** 2), 3);

  test('each connection is in UTC and has its own temp tables; the limit is the shares of the passes that connected', async () => {
    const shared = new SharedPassDuckdb(memory, 3);
    const previousZone = process.env.TZ;
    process.env.TZ = 'America/New_York';
    try {
      const [a, b] = [await shared.connect(), await shared.connect()];
      await shared.fit();
      for (const connection of [a, b]) expect(await connection.scalar("SELECT current_setting('TimeZone')")).toBe('UTC');
      await a.run('CREATE TEMP TABLE out AS SELECT 1 AS n');
      await b.run('CREATE TEMP TABLE out AS SELECT 2 AS n, 3 AS m');
      expect(await a.rows('SELECT * FROM out')).toEqual([{ n: 1 }]);
      expect(await b.rows('SELECT * FROM out')).toEqual([{ n: 2, m: 3 }]);
      const limit = await a.scalar<string>("SELECT current_setting('memory_limit')");
      expect(limit).toBe(`${(2 * memory.sharedMiB).toFixed(1)} MiB`);
      a.close();
      b.close();
    } finally {
      process.env.TZ = previousZone;
      await shared.close();
    }
  });
});
