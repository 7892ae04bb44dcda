/**
 * What parking a job's DuckDB relies on (jobPass.ts `park`, memoryBudget.ts PassMemory): lowering
 * an idle instance's memory limit below what its staged rows take writes them to its temp folder
 * and frees the memory at once, and the rows read back whole when its turn to fold comes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { Duck } from '../../lake/duckdb.js';
import { parkDuckdb, unevictableBytes } from '../../projections/duckdbParking.js';
import { MemoryBudget, PassMemory } from '../../projections/memoryBudget.js';
import { tempDir } from '../support/cli.js';

const MiB = 1024 ** 2;

describe("a parked job's DuckDB", () => {
  const dir = tempDir('eventlake-parked-');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('gives up the memory its staged rows held, and keeps the rows', async () => {
    const pass = new PassMemory(new MemoryBudget(512 * MiB), 2);
    const temp = path.join(dir, 'spill');
    const duck = await Duck.open(':memory:', { memory_limit: pass.sharedLimit, temp_directory: temp, threads: '1' });
    const held = async () => Number(await duck.scalar('SELECT sum(memory_usage_bytes) FROM duckdb_memory()'));
    try {
      await duck.run(`CREATE TEMP TABLE __staged AS SELECT i AS key, repeat('x', 200) || i::VARCHAR AS line FROM range(500000) t(i)`);
      expect(await held()).toBeGreaterThan(64 * MiB);
      await duck.run(`SET memory_limit = '${pass.parkedLimit}'`);
      expect(await held()).toBeLessThanOrEqual(Number(/^(\d+)MiB$/.exec(pass.parkedLimit)![1]) * MiB);
      expect(fs.readdirSync(temp).length).toBeGreaterThan(0);
      await duck.run(`SET memory_limit = '${pass.finishingLimit}'`);
      expect(await duck.rows('SELECT count(*)::INTEGER AS n, count(DISTINCT line)::INTEGER AS lines FROM __staged')).toEqual([{ n: 500000, lines: 500000 }]);
    } finally {
      duck.close();
    }
  });
});

describe('a DuckDB that cannot be parked at the parked limit', () => {
  const dir = tempDir('eventlake-parked-high-');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('is parked at the least limit DuckDB takes, and says which it refused', async () => {
    const duck = await Duck.open(':memory:', { memory_limit: '128MiB', temp_directory: path.join(dir, 'spill'), threads: '1' });
    const held = async (tag: string) => Number(await duck.scalar(`SELECT memory_usage_bytes FROM duckdb_memory() WHERE tag = '${tag}'`));
    try {
      // Rows inserted batch by batch (as a rebuild stages them) leave ~2 bytes each in memory
      // that DuckDB cannot write to its temp folder: 1M rows, ~2 MiB, so 1 MiB is refused.
      await duck.run('CREATE TEMP TABLE __staged (key BIGINT, line VARCHAR)');
      for (let from = 0; from < 1_000_000; from += 100_000) {
        await duck.run(`INSERT INTO __staged SELECT i, repeat('x', 20) FROM range(${from}, ${from + 100_000}) t(i)`);
      }
      expect(await held('BASE_TABLE')).toBeGreaterThan(1024 ** 2);
      expect(await unevictableBytes(duck)).toBe(await held('BASE_TABLE'));
      const { mib, refused } = await parkDuckdb(duck, [1, 2, 4, 8]);
      expect(refused[0]).toMatch(/^1 MiB: .*Failed to change memory limit/);
      expect(mib).toBeGreaterThan(1);
      expect(await duck.scalar("SELECT current_setting('memory_limit')")).toBe(`${mib}.0 MiB`);
      expect(await held('IN_MEMORY_TABLE') + (await held('BASE_TABLE'))).toBeLessThanOrEqual(mib! * 1024 ** 2);
      expect(await duck.rows('SELECT count(*)::INTEGER AS n, sum(key)::BIGINT::VARCHAR AS s FROM __staged')).toEqual([{ n: 1_000_000, s: '499999500000' }]);
    } finally {
      duck.close();
    }
  });

  test('keeps its limit when DuckDB takes none of them', async () => {
    const duck = await Duck.open(':memory:', { memory_limit: '128MiB', temp_directory: path.join(dir, 'spill2'), threads: '1' });
    try {
      await duck.run('CREATE TEMP TABLE __staged (key BIGINT)');
      for (let from = 0; from < 1_000_000; from += 100_000) await duck.run(`INSERT INTO __staged SELECT i FROM range(${from}, ${from + 100_000}) t(i)`);
      const { mib, refused } = await parkDuckdb(duck, [1]);
      expect(mib).toBeNull();
      expect(refused).toHaveLength(1);
    } finally {
      duck.close();
    }
  });
});
