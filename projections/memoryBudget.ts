import bytes from 'bytes';
import { RowCachePool } from './rowCache.js';

/**
 * One process's memory for projection work, in bytes: the JS row caches of the state jobs and
 * the DuckDB instances of every job of a pass share it. Beyond it the caches evict rows to their
 * job's DuckDB, and DuckDB spills to its temp folder, so a rebuild's peak depends on the budget,
 * not on the log's length.
 *
 * Default 768 MiB. RSS is more than the budget: Node itself (~100 MB) and V8's heap, which grows
 * to 2-2.5x its live rows before it collects (measured at 3M events: heap 700-980 MB over
 * caches of ~300-400 MB). With 1 GiB (40% caches) a 3M-event rebuild peaked at 1,559 MiB.
 */
export const DEFAULT_MEMORY = 768 * 1024 ** 2;

/** Below this DuckDB cannot hold a batch's sort and hash tables without failing. */
export const MIN_MEMORY = 128 * 1024 ** 2;

/**
 * No DuckDB instance gets less, whatever the budget (so six jobs may take more than it): its JSON
 * reader alone takes a 32 MiB buffer (at 32 MiB: "failed to allocate data of size 32.0 MiB"), and
 * a 3M-event state rebuild at 76 MiB failed with "failed to pin block" instead of spilling.
 */
const MIN_DUCKDB_MIB = 128;

/** The JS row caches' part (V8 holds 2-2.5x that at its peak); DuckDB gets the rest. */
const ROW_CACHE_SHARE = 0.25;

/** The row caches' part of the default budget. */
export const DEFAULT_ROW_CACHE_BYTES = Math.floor(DEFAULT_MEMORY * ROW_CACHE_SHARE);

/** A budget as the config or `--memory` gives it: bytes, or a size such as "1GB", "768MiB" (1 KB = 1024 bytes). */
export function parseMemory(value: string | number, where = '--memory'): number {
  const parsed = typeof value === 'number' ? value : /^\s*\d+(\.\d+)?\s*(b|kb|kib|mb|mib|gb|gib|tb|tib)?\s*$/i.test(value) ? bytes.parse(value.replace(/ib\s*$/i, 'b')) : null;
  if (parsed === null || !Number.isFinite(parsed)) throw new Error(`${where}: "${value}" is not a size (bytes, or a number with KB, MB, GB or TB, e.g. "1GB")`);
  if (parsed < MIN_MEMORY) throw new Error(`${where}: ${bytes.format(parsed)} is below the least a pass can work in (${bytes.format(MIN_MEMORY)})`);
  return Math.floor(parsed);
}

/** How a pass splits its budget between its state jobs' row caches and its DuckDB instances. */
export class MemoryBudget {
  /** Bytes all state jobs' in-memory rows may take together (estimated, see rowCache.ts). */
  readonly rowCacheBytes: number;
  /** Bytes all DuckDB instances of the pass may take together. */
  readonly duckdbBytes: number;

  constructor(readonly bytes: number = DEFAULT_MEMORY) {
    this.rowCacheBytes = Math.floor(bytes * ROW_CACHE_SHARE);
    this.duckdbBytes = bytes - this.rowCacheBytes;
  }

  /** One DuckDB instance's memory_limit while `open` instances work side by side. */
  duckdbLimit(open: number): string {
    return `${Math.max(MIN_DUCKDB_MIB, Math.floor(this.duckdbBytes / Math.max(1, open) / 1024 ** 2))}MiB`;
  }
}

/**
 * A pass's share of the budget as its jobs open and close: every DuckDB instance holds at most
 * its equal share while the jobs apply batches side by side; the job folding its rebuild at the
 * end (one at a time) may also take the shares of the jobs already closed.
 */
export class PassMemory {
  readonly rowCaches: RowCachePool;
  private open: number;

  constructor(
    readonly budget: MemoryBudget,
    private readonly instances: number,
  ) {
    this.rowCaches = new RowCachePool(budget.rowCacheBytes);
    this.open = instances;
  }

  /** Each instance's memory_limit while all of them work. */
  get sharedLimit(): string {
    return this.budget.duckdbLimit(this.instances);
  }

  /** The finishing instance's memory_limit: its share and those of the instances already closed. */
  get finishingLimit(): string {
    return this.budget.duckdbLimit(this.instances / (this.instances - this.open + 1));
  }

  closed(): void {
    this.open -= 1;
  }
}
