/**
 * What parking a job's DuckDB relies on (jobPass.ts `park`, memoryBudget.ts PassMemory): lowering
 * an idle instance's memory limit below what its staged rows take writes them to its temp folder
 * and frees the memory at once, and the rows read back whole when its turn to fold comes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { Duck } from '../../lake/duckdb.js';
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
