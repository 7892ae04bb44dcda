import { describe, expect, test } from 'vitest';
import { MemoryBudget, PassMemory, parseMemory } from '../../projections/memoryBudget.js';
import { RowCachePool } from '../../projections/rowCache.js';
import { stagingLimitMiB } from '../../projections/duckdbParking.js';

const row = (key: string) => ({ id: key, name: 'x'.repeat(100), version: 1 });

describe('the memory budget', () => {
  test('sizes are bytes or a number with a binary unit', () => {
    expect(parseMemory('1GB')).toBe(1024 ** 3);
    expect(parseMemory('1GiB')).toBe(1024 ** 3);
    expect(parseMemory('768mb')).toBe(768 * 1024 ** 2);
    expect(parseMemory(536870912)).toBe(536870912);
    expect(parseMemory('536870912')).toBe(536870912);
  });

  test('a size that is not one, or too small to work in, is refused naming where it came from', () => {
    expect(() => parseMemory('lots', 'jobs.config.json: /memory')).toThrow('jobs.config.json: /memory: "lots" is not a size');
    expect(() => parseMemory('1 GB 2')).toThrow('is not a size');
    expect(() => parseMemory('64MB')).toThrow('--memory: 64MB is below the least a pass can work in (128MB)');
  });

  test('DuckDB instances share what the row caches leave', () => {
    const budget = new MemoryBudget(1000 * 1024 ** 2);
    expect(budget.rowCacheBytes + budget.duckdbBytes).toBe(1000 * 1024 ** 2);
    expect(budget.duckdbLimit(3)).toBe('250MiB');
    expect(budget.duckdbLimit(6)).toBe('125MiB');
    expect(budget.duckdbLimit(10)).toBe('96MiB');
  });

  test("the DuckDB instances of a pass together stay within the budget's DuckDB part", () => {
    // Six jobs (a rebuild of the examples) at the default budget: at a floor of 128 MiB each they took 768 MiB of 576.
    for (const mib of [768, 1024, 2048]) {
      const pass = new PassMemory(new MemoryBudget(mib * 1024 ** 2), 6);
      expect(6 * Number(/^(\d+)MiB$/.exec(pass.sharedLimit)![1]) * 1024 ** 2).toBeLessThanOrEqual(pass.budget.duckdbBytes);
    }
  });
});

describe("a pass's DuckDB memory as its jobs fold in turn", () => {
  const MiB = 1024 ** 2;
  const mib = (limit: string) => Number(/^(\d+)MiB$/.exec(limit)![1]);

  test('the folding job gets the DuckDB part less what the parked others keep, more as they close', () => {
    const pass = new PassMemory(new MemoryBudget(2048 * MiB), 6);
    const duckdb = pass.budget.duckdbBytes / MiB;
    expect(mib(pass.sharedLimit)).toBe(256);
    expect(mib(pass.parkedLimit)).toBeLessThan(mib(pass.sharedLimit));
    const folding: number[] = [];
    for (let open = 6; open >= 1; open--) {
      folding.push(mib(pass.finishingLimit));
      // The folding instance and the parked ones together stay within the DuckDB part.
      expect(mib(pass.finishingLimit) + (open - 1) * mib(pass.parkedLimit)).toBeLessThanOrEqual(duckdb);
      pass.closed();
    }
    expect(folding[0]).toBeGreaterThan(mib(pass.sharedLimit) * 4);
    expect(folding.at(-1)).toBe(duckdb);
    expect([...folding].sort((a, b) => a - b)).toEqual(folding);
  });

  test('an instance DuckDB parked higher is left that much by the folding one', () => {
    const pass = new PassMemory(new MemoryBudget(768 * MiB), 6);
    expect(pass.parkingLimits).toEqual([32, 64, 96]);
    const [commandStatus, folding] = [{}, {}];
    const before = mib(pass.finishingLimitFor(folding));
    pass.parked(commandStatus, 64);
    expect(mib(pass.finishingLimitFor(folding))).toBe(before - 32);
    // The instance parked higher folds itself: its own parking is not counted against it.
    expect(mib(pass.finishingLimitFor(commandStatus))).toBe(before);
    pass.closed(commandStatus);
    expect(mib(pass.finishingLimitFor(folding))).toBe(before + 32);
  });

  test("a staging DuckDB's limit is its share until what it cannot spill leaves a statement too little room", () => {
    expect(stagingLimitMiB(96, 0)).toBe(96);
    expect(stagingLimitMiB(96, 16 * MiB)).toBe(96);
    expect(stagingLimitMiB(96, 17 * MiB)).toBe(112);
    // command_status at 30M commands.
    expect(stagingLimitMiB(96, 57 * MiB)).toBe(144);
  });

  test('a live job alone has the whole DuckDB part', () => {
    const pass = new PassMemory(new MemoryBudget(768 * MiB), 1);
    expect(mib(pass.finishingLimit)).toBe(pass.budget.duckdbBytes / MiB);
  });
});

describe('row caches sharing one pool', () => {
  test('a cache past the pool evicts its least recently used rows and remembers their keys', () => {
    const pool = new RowCachePool(10_000);
    const cache = pool.cache();
    for (let i = 0; i < 100; i++) cache.set(`k${i}`, row(`k${i}`));
    cache.set('k0', row('k0')); // used again: now the most recent
    const evicted = cache.evictExcess();
    expect(pool.usedBytes).toBeLessThanOrEqual(10_000);
    expect(evicted.map((r) => r.id)).not.toContain('k0');
    expect(evicted[0].id).toBe('k1');
    for (const r of evicted) {
      expect(cache.get(r.id as string)).toBeUndefined();
      expect(cache.mayHaveEvicted(r.id as string)).toBe(true);
    }
    expect(cache.get('k0')).toBeDefined();
  });

  test('a cache within its fair share keeps its rows; the one that outgrew it gives them up', () => {
    const pool = new RowCachePool(20_000);
    const [small, large] = [pool.cache(), pool.cache()];
    for (let i = 0; i < 20; i++) small.set(`s${i}`, row(`s${i}`));
    for (let i = 0; i < 200; i++) large.set(`l${i}`, row(`l${i}`));
    expect(small.evictExcess()).toEqual([]);
    expect(large.evictExcess().length).toBeGreaterThan(100);
    expect(pool.usedBytes).toBeLessThanOrEqual(20_000);
    expect(small.size).toBe(20);
  });

  test('the evicted-key filter grows with the keys and rarely claims a key it never saw', () => {
    const pool = new RowCachePool(0);
    const cache = pool.cache();
    for (let i = 0; i < 300_000; i++) {
      cache.set(`key-${i}`, { id: `key-${i}` });
      if (i % 1000 === 999) cache.evictExcess();
    }
    cache.evictExcess();
    for (let i = 0; i < 300_000; i += 997) expect(cache.mayHaveEvicted(`key-${i}`)).toBe(true);
    let claimed = 0;
    for (let i = 0; i < 100_000; i++) if (cache.mayHaveEvicted(`other-${i}`)) claimed += 1;
    expect(claimed).toBeLessThan(1000);
  });

  test('a drained cache gives its rows a chunk at a time, each gone from the cache as it is taken, then leaves the pool', () => {
    const pool = new RowCachePool(1_000_000);
    const cache = pool.cache();
    for (let i = 0; i < 10; i++) cache.set(`k${i}`, row(`k${i}`));
    const sizes: number[] = [];
    const taken: string[] = [];
    for (const chunk of cache.drain(4)) {
      sizes.push(chunk.length);
      taken.push(...chunk.map((r) => r.id as string));
      for (const r of chunk) expect(cache.get(r.id as string)).toBeUndefined();
    }
    expect(sizes).toEqual([4, 4, 2]);
    expect(taken).toEqual([...Array(10).keys()].map((i) => `k${i}`));
    expect(pool.usedBytes).toBe(0);
    expect(cache.size).toBe(0);
  });
});
