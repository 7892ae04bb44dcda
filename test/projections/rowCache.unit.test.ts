import { describe, expect, test } from 'vitest';
import { MemoryBudget, parseMemory } from '../../projections/memoryBudget.js';
import { RowCachePool } from '../../projections/rowCache.js';

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
    expect(budget.duckdbLimit(10)).toBe('128MiB');
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
});
