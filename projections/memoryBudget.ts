import bytes from 'bytes';
import v8 from 'node:v8';
import { RowCachePool } from './rowCache.js';

/**
 * One process's memory for projection work, in bytes: the JS row caches of the state jobs and
 * the DuckDB instances of every job of a pass share it. Beyond it the caches evict rows to their
 * job's DuckDB, and DuckDB spills to its temp folder, so a rebuild's peak depends on the budget,
 * not on the log's length.
 *
 * Default 768 MiB. RSS is more than the budget: Node itself (~100 MB), V8's headroom over its
 * live rows (held to 25% by holdHeapGrowth; by default V8 let the heap reach 2-2.5x them), and
 * DuckDB's floor per instance (MIN_DUCKDB_MIB) when many jobs share a pass.
 */
export const DEFAULT_MEMORY = 768 * 1024 ** 2;

/** Below this DuckDB cannot hold a batch's sort and hash tables without failing. */
export const MIN_MEMORY = 128 * 1024 ** 2;

/**
 * No DuckDB instance gets less while the jobs of a pass share the DuckDB part: its JSON reader
 * takes a 32 MiB buffer for every batch it stages, beside what the statement pins (at 64 MiB:
 * "failed to allocate data of size 32.0 MiB (33.9 MiB/64.0 MiB used)", the tiny-budget rebuild
 * of test/projections/memoryBudget.int.test.ts). It used to be 128 MiB, so the six jobs of a
 * rebuild took 768 MiB of the default budget's 576 MiB part, and as the staged tables grew with
 * the log every instance filled up to it (3M events: 370-460 MiB of DuckDB at the end of the
 * pass). At the default budget six instances now get 96 MiB each, the part exactly. The work
 * that needs more (a state job's replay of deferred records, the fold) runs at the finishing
 * limit, one job at a time; what an instance cannot spill comes on top (duckdbParking.ts).
 */
const MIN_DUCKDB_MIB = 96;

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

/**
 * How far V8 lets its heap grow past the live objects after a full collection, in percent. V8
 * picks 10-300% by itself, and past a few hundred MB of live rows it let the heap reach 2-2.5x
 * them: the row caches' part of the budget cost twice its size in RSS. At 25% (1M-event
 * rebuild, same lake, load ~15): peak RSS 537 MiB against 831-868 MiB, for ~13% more CPU.
 */
export const HEAP_GROWING_PERCENT = 25;

/**
 * Holds V8's heap to HEAP_GROWING_PERCENT over its live objects from now on. A process-wide V8
 * flag, read at every full collection; set by the passes of `run`, `rebuild` and `serve`, which
 * hold the process's large long-lived objects (the row caches). Unless the process was started
 * with its own `--heap-growing-percent`.
 */
export function holdHeapGrowth(): void {
  // Once per process: every pass builds its memory, and `serve` opens a pass per live job.
  if (heapHeld) return;
  heapHeld = true;
  if (process.execArgv.some((arg) => arg.startsWith('--heap-growing-percent') || arg.startsWith('--heap_growing_percent'))) return;
  v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
let heapHeld = false;

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

  /** One DuckDB instance's memory_limit while `open` instances share `bytes` (the DuckDB part) side by side. */
  duckdbLimit(open: number, bytes = this.duckdbBytes): string {
    return `${Math.max(MIN_DUCKDB_MIB, Math.floor(bytes / Math.max(1, open) / 1024 ** 2))}MiB`;
  }
}

/**
 * An instance's memory_limit while it waits for its turn to fold, or after its pass: lowering
 * the limit makes DuckDB write what it holds to its temp folder and free it at once (measured:
 * an instance holding a 120 MiB staged table went from 244 to 117 MiB RSS when set to 16 MiB).
 */
const PARKED_MIB = 32;

/**
 * A pass's share of the budget as its jobs open and close. While the jobs apply batches side by
 * side, every DuckDB instance holds at most its equal share. When the reading ends, every
 * instance is parked (its staged rows go to disk) and the jobs fold one after the other, each
 * with the whole DuckDB part but for what the other open instances keep parked: before, each
 * idle instance kept its share of staged rows in memory while another folded, and the folds,
 * the largest DuckDB work of a rebuild, ran in one share.
 *
 * An instance cannot always be parked at PARKED_MIB: DuckDB keeps ~2 bytes per row inserted into
 * a table (its row version info, tagged BASE_TABLE, about 256 KiB per row group of 122,880 rows)
 * in memory, and refuses a limit below that ("Failed to change memory limit"): command_status at
 * 30M rows holds ~57 MiB. Such an instance is parked at the least limit DuckDB takes
 * (`parkingLimits`, duckdbParking.ts), and the folding instance's limit leaves room for it.
 */
export class PassMemory {
  readonly rowCaches: RowCachePool;
  private open: number;
  /** The instances parked above PARKED_MIB, by their pass: the MiB they were parked at. */
  private readonly parkedAbove = new Map<object, number>();

  constructor(
    readonly budget: MemoryBudget,
    private readonly instances: number,
  ) {
    holdHeapGrowth();
    this.rowCaches = new RowCachePool(budget.rowCacheBytes);
    this.open = instances;
  }

  /** Each instance's memory_limit while all of them work. */
  get sharedLimit(): string {
    return this.budget.duckdbLimit(this.instances);
  }

  /** sharedLimit in MiB. */
  get sharedMiB(): number {
    return mibOf(this.sharedLimit);
  }

  /** An idle instance's memory_limit: what it holds goes to its temp folder. */
  get parkedLimit(): string {
    return `${PARKED_MIB}MiB`;
  }

  /** The limits (MiB) to park an instance at, least first: PARKED_MIB, then doubling up to its share. */
  get parkingLimits(): number[] {
    const share = this.sharedMiB;
    const limits = [PARKED_MIB];
    while (limits.at(-1)! * 2 < share) limits.push(limits.at(-1)! * 2);
    return [...limits, share];
  }

  /** `instance` (its pass) is parked at `mib`: a folding instance leaves it that much. */
  parked(instance: object, mib: number): void {
    if (mib > PARKED_MIB) this.parkedAbove.set(instance, mib);
    else this.parkedAbove.delete(instance);
  }

  /** The folding instance's memory_limit: the DuckDB part less what the other open instances keep parked. */
  get finishingLimit(): string {
    return this.finishingLimitFor(undefined);
  }

  /** finishingLimit for `instance` (its pass), the others parked at their own limits. */
  finishingLimitFor(instance: object | undefined): string {
    let others = (this.open - 1) * PARKED_MIB;
    for (const [parked, mib] of this.parkedAbove) if (parked !== instance) others += mib - PARKED_MIB;
    return this.budget.duckdbLimit(1, this.budget.duckdbBytes - others * 1024 ** 2);
  }

  closed(instance?: object): void {
    this.open -= 1;
    if (instance) this.parkedAbove.delete(instance);
  }
}

function mibOf(limit: string): number {
  return Number(/^(\d+)MiB$/.exec(limit)![1]);
}
