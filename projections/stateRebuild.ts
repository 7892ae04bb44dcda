import { sqlIdent, sqlString, type Duck } from '../lake/duckdb.js';
import { applyByIntake, assertStorableChange, guarded, lifted, type BatchApplier, type BatchIntake, type ErrorPolicy, type Poisoned, type Upcast } from './applyBatch.js';
import type { RecordSelection } from './jobSource.js';
import type { Row, StateProjection } from './projection.js';
import type { RebuildStaging } from './rebuildStaging.js';
import type { RowCache } from './rowCache.js';
import { canonicalKeyOf } from './stateKeys.js';

/** Rows handed to DuckDB at once when the cache is drained or the deferred records replayed. */
const CHUNK_ROWS = 25_000;

/**
 * A state projection's rebuild (or first run), in bounded memory. The rows live in the job's
 * row cache (rowCache.ts), not in DuckDB: a batch evolves them in place and nothing is staged
 * until the cache must give rows up (the pass's row-cache budget) or the rebuild ends, so a key
 * touched by many batches is written once (staging every batch's rows was most of the rebuild's
 * DuckDB work).
 *
 * An evicted row is staged and its key recorded in the cache's Bloom filter. A later record of
 * such a key is not applied then (reading its row back from DuckDB each batch made the rebuild
 * quadratic once the state outgrew memory: a scan of everything staged per batch); it is
 * deferred, its raw line kept in DuckDB, and at the end the deferred records are replayed in one
 * sorted pass, key by key, from the key's staged row. A key whose first record the filter
 * wrongly claims ends up deferred too: it has no staged row, so it replays from nothing, as it
 * would have been applied. Either way each key's records apply in log order.
 */
export class StateRebuild implements BatchApplier {
  readonly stagesItself = true;
  /** Records deferred to the end, and rows evicted from the cache, so far. */
  deferred = 0;
  evicted = 0;
  private deferredReady = false;
  private readonly keyOf: (record: unknown) => string | null;
  /** A record in today's shape (upcast per job: the parsed records are shared). */
  private readonly lift: (record: unknown) => unknown;

  constructor(
    private readonly duck: Duck,
    private readonly projection: StateProjection<unknown>,
    private readonly staging: RebuildStaging,
    private readonly cache: RowCache,
    private readonly policy: ErrorPolicy,
    upcast: Upcast,
  ) {
    this.keyOf = canonicalKeyOf(projection);
    this.lift = lifted(upcast);
  }

  apply(selection: RecordSelection): Promise<Poisoned[]> {
    return applyByIntake(() => this.begin(), selection);
  }

  /**
   * A batch a record at a time: each record is evolved into its key's row as it is taken, so the
   * batch's records need not live together (in a rebuild's shared pass they die young: a batch
   * held whole was copied by every young-generation collection, and promoted).
   */
  begin(): BatchIntake {
    const poisoned: Poisoned[] = [];
    const later: [string, string][] = [];
    return {
      take: (taken, line) => {
        const record = this.lift(taken);
        const key = guarded(record, this.policy, poisoned, () => this.keyOf(record)) ?? null;
        if (key === null) return;
        const row = this.cache.get(key);
        if (row === undefined && this.cache.mayHaveEvicted(key)) later.push([key, line]);
        else this.evolveInto(key, row, record, poisoned);
      },
      end: async () => {
        if (later.length > 0) await this.defer(later);
        const evicted = this.cache.evictExcess();
        if (evicted.length > 0) await this.staging.stageRows(evicted);
        this.evicted += evicted.length;
        return poisoned;
      },
    };
  }

  /** Stages every row still cached, then replays the deferred records; returns the records they threw on. */
  async finish(): Promise<{ poisoned: Poisoned[]; oneRowPerKey: boolean }> {
    for (const rows of this.cache.drain(CHUNK_ROWS)) await this.staging.stageRows(rows);
    // Without deferred records every key was staged exactly once (evicted, or drained now).
    if (this.deferred === 0) return { poisoned: [], oneRowPerKey: true };
    return { poisoned: await this.replay(), oneRowPerKey: false };
  }

  /** The row `record` makes of the key's row (checked storable: the record, not a later load, is the poison). */
  private evolveInto(key: string, row: Row | undefined, record: unknown, poisoned: Poisoned[]): Row | undefined {
    const next = guarded(record, this.policy, poisoned, () => {
      const evolved = this.projection.evolve(row, record);
      assertStorableChange(evolved, row, this.projection.columns);
      return evolved;
    });
    if (next) this.cache.set(key, next);
    return next ?? row;
  }

  private async defer(later: [string, string][]): Promise<void> {
    if (!this.deferredReady) {
      await this.duck.run('CREATE OR REPLACE TABLE __deferred (key VARCHAR, seq BIGINT, line VARCHAR)');
      this.deferredReady = true;
    }
    const first = this.deferred;
    await this.duck.append({ name: '__deferred' }, later.map(([key, line], i) => [key, BigInt(first + i), line]));
    this.deferred += later.length;
  }

  /**
   * The deferred records in key order (log order within a key), each key starting from its
   * latest staged row; read in chunks by position so memory holds a chunk, not the whole set.
   *
   * Both tables are made by a plain ORDER BY, which DuckDB spills to disk, and read a key range
   * at a time. One statement that numbered the deferred lines with two window functions over
   * the whole set (ORDER BY key, seq; PARTITION BY key), joined to each key's staged row and
   * carrying the lines, failed with "failed to pin block" instead of spilling: the 30M-event
   * rebuild at the default budget, and a 3M-event one at 128 MiB (docs/benchmarks.md), where
   * even the plain sort failed on two threads and passes on one.
   */
  private async replay(): Promise<Poisoned[]> {
    const { duck, projection } = this;
    // One thread: at two, the sort of the lines alone failed at 128 MiB (3M events) where one spills.
    const threads = Number(await duck.scalar("SELECT current_setting('threads')"));
    await duck.run('SET threads = 1');
    await duck.run('CREATE OR REPLACE TEMP TABLE __replay AS SELECT key, line FROM __deferred ORDER BY key, seq');
    await duck.run('DROP TABLE __deferred');
    const latest = this.staging.latestRowsSql('(SELECT DISTINCT key FROM __replay)', projection.key, projection.orderBy);
    await duck.run(`CREATE OR REPLACE TEMP TABLE __replay_prior AS
      SELECT CAST(p.${sqlIdent(projection.key)} AS VARCHAR) AS key, to_json(p)::VARCHAR AS prior FROM (${latest}) p ORDER BY 1`);
    await duck.run(`SET threads = ${threads}`);
    const poisoned: Poisoned[] = [];
    let out: Row[] = [];
    let key: string | undefined;
    let row: Row | undefined;
    const close = () => {
      if (row !== undefined) out.push(row);
    };
    for (let from = 0; from < this.deferred; from += CHUNK_ROWS) {
      const chunk = await duck.rows(`SELECT key, line FROM __replay WHERE rowid >= ${from} AND rowid < ${from + CHUNK_ROWS} ORDER BY rowid`);
      const priors = await this.priorsOf(chunk);
      for (const deferred of chunk) {
        if (deferred.key !== key) {
          close();
          key = deferred.key as string;
          const prior = priors.get(key);
          row = prior ? (JSON.parse(prior) as Row) : undefined;
        }
        const record = this.lift(JSON.parse(deferred.line as string));
        const prior = row;
        row = guarded(record, this.policy, poisoned, () => {
          const evolved = projection.evolve(prior, record);
          assertStorableChange(evolved, prior, projection.columns);
          return evolved;
        }) ?? row;
      }
      if (out.length >= CHUNK_ROWS) {
        await this.staging.stageRows(out);
        out = [];
      }
    }
    close();
    if (out.length > 0) await this.staging.stageRows(out);
    await duck.run('DROP TABLE __replay');
    await duck.run('DROP TABLE __replay_prior');
    return poisoned;
  }

  /** The staged rows (as JSON) of the keys of a chunk of `__replay`, which is in key order: one key range. */
  private async priorsOf(chunk: Row[]): Promise<Map<string, string>> {
    if (chunk.length === 0) return new Map();
    const [first, last] = [chunk[0].key as string, chunk[chunk.length - 1].key as string];
    const rows = await this.duck.rows(`SELECT key, prior FROM __replay_prior WHERE key BETWEEN ${sqlString(first)} AND ${sqlString(last)}`);
    return new Map(rows.map((r) => [r.key as string, r.prior as string]));
  }
}
