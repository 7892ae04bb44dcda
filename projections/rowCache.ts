import { BloomFilter } from 'bloomfilter';
import type { Row } from './projection.js';

/**
 * The bytes every state job's row cache of a pass holds together, against one limit (the
 * budget's row-cache part). A cache that grows past the pool's limit evicts its own least
 * recently used rows, down to its fair share; a cache never evicts another job's rows (their
 * eviction writes to that job's DuckDB, which may be busy with its own batch).
 */
export class RowCachePool {
  private readonly caches = new Set<RowCache>();

  constructor(readonly limitBytes: number) {}

  cache(): RowCache {
    const cache = new RowCache(this);
    this.caches.add(cache);
    return cache;
  }

  forget(cache: RowCache): void {
    this.caches.delete(cache);
  }

  get usedBytes(): number {
    let used = 0;
    for (const cache of this.caches) used += cache.bytes;
    return used;
  }

  /** Bytes `cache` must give up now: what the pool is over its limit, at most what the cache holds beyond its fair share. */
  excessOf(cache: RowCache): number {
    const over = this.usedBytes - this.limitBytes;
    if (over <= 0) return 0;
    // Down to 80% of the limit at once: evicting writes to DuckDB, better in few large steps.
    const wanted = over + this.limitBytes * 0.2;
    const share = this.limitBytes / this.caches.size;
    return Math.min(wanted, Math.max(0, cache.bytes - share * 0.8));
  }
}

/**
 * A state job's rows by key, least recently used first, with their size estimated as V8 holds
 * them (measured: a 14-column row 467 heap bytes against 462 estimated, an 8-column one 265 against 286), and a Bloom filter of
 * every key evicted so far: a key the filter has never seen has no row outside the cache.
 */
export class RowCache {
  private readonly rows = new Map<string, Row>();
  private evictedKeys = new EvictedKeys();
  bytes = 0;

  constructor(private readonly pool: RowCachePool) {}

  get size(): number {
    return this.rows.size;
  }

  get(key: string): Row | undefined {
    return this.rows.get(key);
  }

  /** Whether the key's row may have been evicted (false positives ~1% at most, never a false negative). */
  mayHaveEvicted(key: string): boolean {
    return this.evictedKeys.mayHold(key);
  }

  /** Stores a key's row as the most recently used. */
  set(key: string, row: Row): void {
    const old = this.rows.get(key);
    if (old !== undefined) {
      this.bytes -= rowBytes(old);
      this.rows.delete(key);
    }
    this.rows.set(key, row);
    this.bytes += rowBytes(row);
  }

  /** Removes the least recently used rows beyond the pool's limit, returning them. */
  evictExcess(): Row[] {
    let excess = this.pool.excessOf(this);
    const evicted: Row[] = [];
    for (const [key, row] of this.rows) {
      if (excess <= 0) break;
      const size = rowBytes(row);
      this.rows.delete(key);
      this.bytes -= size;
      excess -= size;
      this.evictedKeys.add(key);
      evicted.push(row);
    }
    return evicted;
  }

  /**
   * Every row still held, `size` at a time, each chunk removed from the cache as it is taken (so
   * a chunk written elsewhere can be collected while the next is taken); the cache ends emptied
   * and released from its pool.
   */
  *drain(size = Number.MAX_SAFE_INTEGER): Generator<Row[]> {
    while (this.rows.size > 0) {
      const chunk: Row[] = [];
      for (const [key, row] of this.rows) {
        if (chunk.length >= size) break;
        chunk.push(row);
        this.rows.delete(key);
        this.bytes -= rowBytes(row);
      }
      yield chunk;
    }
    this.release();
  }

  /** Drops every row and leaves the pool. */
  release(): void {
    this.rows.clear();
    this.bytes = 0;
    this.evictedKeys = new EvictedKeys();
    this.pool.forget(this);
  }
}

/** Heap bytes of a row: object and map entry, plus per value (one-byte strings as V8 stores them). */
function rowBytes(row: Row): number {
  let size = 112;
  for (const column in row) {
    const value = row[column];
    size += typeof value === 'string' ? 16 + value.length : 8;
  }
  return size;
}

/**
 * A Bloom filter that grows: filters of doubling capacity, each at ~0.1% false positives when
 * full (15 bits and 10 hashes a key), so its size follows the number of keys evicted (~2 bytes a
 * key) without knowing it in advance, and the ~log2(keys) filters together stay near 1%. A false
 * positive costs only time: that key's records are applied at the end of the rebuild.
 */
class EvictedKeys {
  private readonly filters: BloomFilter[] = [];
  private capacity = 0;
  private count = 0;

  add(key: string): void {
    if (this.count >= this.capacity) {
      const next = Math.max(65_536, this.capacity * 2);
      this.filters.push(new BloomFilter(next * 15, 10));
      this.capacity += next;
    }
    this.filters.at(-1)!.add(key);
    this.count += 1;
  }

  mayHold(key: string): boolean {
    for (const filter of this.filters) if (filter.test(key)) return true;
    return false;
  }
}
