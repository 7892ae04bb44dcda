import { sqlIdent, type Duck } from '../lake/duckdb.js';
import type { Snapshot } from '../lake/delta/snapshot.js';
import { failpoint, heldAt } from '../lake/failpoints.js';
import { conformingSelect, emptySelect } from './batchTables.js';
import type { Applied } from './jobCommits.js';
import type { Position } from './jobSource.js';
import type { MergeOutcome, RowChange, TableMerge } from './tableMerge.js';
import type { TableShape } from './tableShape.js';

/** One commit being gathered or written: the batches folded into it, in order. */
interface PendingCommit {
  id: number;
  /** The table version it will be. */
  version: number;
  /** Its rows (main schema, so the writer's connection reads them): each touched key's row as its batches left it, and the final rows they added. */
  table: string;
  /** Batches told as its parts so far. */
  parts: number;
  /** Per stream, the last position its batches read (its txn checkpoint). */
  advanced: Map<string, Position>;
  applied: Applied;
}

export interface LiveCommitsOptions {
  /** The pass's DuckDB connection: folds run on it. */
  duck: Duck;
  /** A second connection to the same database: the writer's files and commits run on it, beside the folds. */
  writer: Duck;
  fold: TableMerge;
  write: TableMerge;
  shape: TableShape;
  snapshot: () => Snapshot;
  /** Commits the next table version: these files and the txn checkpoint of the batches (the pass's snapshot follows). */
  commit: (data: MergeOutcome, advanced: Map<string, Position>, applied: Applied) => Promise<void>;
  tell: (fromVersion: number, toVersion: number, change: RowChange, part: number) => void;
}

/**
 * A live job's folds decoupled from its table commits. A batch is folded against the table as
 * the job has folded it so far (its committed snapshot overlaid with the rows of the batches
 * folded but not committed yet, `__overlay`) and told at once; its rows join the commit being
 * gathered, which the writer (on a second DuckDB connection) writes once the commit before it has
 * landed. A copy-on-write commit rewrites each touched key's whole file (at 1M events one
 * 100-command batch rewrote 14 MB in 1.8 s): the next command's fold no longer waits for it, and
 * every batch folded while a commit is written goes into ONE next commit (under load, one
 * rewrite for many batches instead of one each).
 *
 * Commits stay in log order and each carries the txn checkpoint of its last batch, so the table
 * is exact at every version and a crash replays at most the batches not committed. A failed
 * write fails every later fold (`failure`): the pass must be aborted, its cursors go back to the
 * table's checkpoint and the readers told of uncommitted batches read the tables anew.
 */
export class LiveCommits {
  private nextId = 1;
  private gathering: PendingCommit | null = null;
  private writing: PendingCommit | null = null;
  private writer: Promise<void> | null = null;
  /** Commits up to this id have landed: their overlay rows are in the table's files. */
  private landedThrough = 0;
  private failure: Error | null = null;
  private readonly waiters: { id: number; resolve: () => void; reject: (error: Error) => void }[] = [];
  private overlayReady = false;
  /**
   * The newest commit whose rows are in `__overlay` (0: it is empty). A command at a time lands
   * before the next is folded: its overlay statements are then skipped (each DuckDB statement
   * on the fold path costs ~1 ms idle, 5-20 ms at a load of ~10 on this machine).
   */
  private overlayNewest = 0;
  /** The fold under way: the writer takes the gathered commit only between folds (never half-filled). */
  private folding: Promise<void> | null = null;

  constructor(private readonly options: LiveCommitsOptions) {}

  /** The write that failed, if one did: the pass is unusable from then on. */
  get failed(): Error | null {
    return this.failure;
  }

  /** True while a commit is gathered or written. */
  get busy(): boolean {
    return this.gathering !== null || this.writing !== null;
  }

  /** The overlay relation folds read keys' rows from (call `prepare` first). */
  get overlay(): string {
    return '__overlay';
  }

  /** Before a batch is applied: makes the overlay (once) that folds and prior-row reads look at. */
  async prepare(): Promise<void> {
    if (this.failure) throw this.failure;
    const { duck, shape } = this.options;
    if (shape.key.length === 0 || this.overlayReady) return;
    await duck.run(`CREATE OR REPLACE TEMP TABLE __overlay AS SELECT *, 0::BIGINT AS __commit FROM (${emptySelect(shape.columns)})`);
    this.overlayReady = true;
  }

  /**
   * Drops the overlay rows of commits that have landed (the files hold them now), after the batch
   * is told: a key's overlay row is always the last one folded, so a landed one equals the key's
   * row in the files and reading it before it is dropped changes nothing; off a command's trip,
   * the statement no longer delays what the client waits for.
   */
  private async dropLanded(): Promise<void> {
    if (this.overlayNewest === 0) return;
    await this.options.duck.run(`DELETE FROM __overlay WHERE __commit <= ${this.landedThrough}`);
    if (this.overlayNewest <= this.landedThrough) this.overlayNewest = 0;
  }

  /**
   * Folds the batch in `out` (after `prepare`), tells its change and adds it to the commit being
   * gathered; returns that commit's id (see `landed`). `known`: the batch's change, known without
   * reading `out` back (a state job's rows as evolved in JS, stateRowChange.ts): told before any
   * statement.
   */
  async fold(advanced: Map<string, Position>, applied: Applied, known?: RowChange): Promise<number> {
    if (this.failure) throw this.failure;
    const folding = this.foldInto(advanced, applied, known);
    this.folding = folding.then(() => undefined, () => undefined);
    try {
      return await folding;
    } catch (error) {
      // The commit being gathered may hold part of this batch: it must never be written.
      this.fail(error as Error);
      throw error;
    } finally {
      this.folding = null;
      this.startWriter();
    }
  }

  private async foldInto(advanced: Map<string, Position>, applied: Applied, known?: RowChange): Promise<number> {
    const { duck, fold, shape } = this.options;
    const commit = this.gather();
    const part = commit.parts;
    if (known) this.options.tell(commit.version - 1, commit.version, known, part);
    const folded = await fold.foldLive(this.options.snapshot(), this.overlay);
    if (!known) this.options.tell(commit.version - 1, commit.version, await fold.rowChange(), part);
    const firstPart = part === 0;
    commit.parts += 1;
    if (shape.key.length > 0) await this.dropLanded();
    const columns = shape.columns.map((c) => sqlIdent(c.name)).join(', ');
    if (shape.key.length > 0) {
      // A key's row folded before in this commit is replaced by the batch's; final rows stay.
      if (!firstPart) await duck.run(`DELETE FROM ${commit.table} AS t WHERE ${fold.mutableRow('t')} AND EXISTS (SELECT 1 FROM ${folded.keys} AS k WHERE ${fold.sameKey('t', 'k')})`);
      if (this.overlayNewest > 0) await duck.run(`DELETE FROM __overlay AS t WHERE EXISTS (SELECT 1 FROM ${folded.keys} AS k WHERE ${fold.sameKey('t', 'k')})`);
      await duck.run(`INSERT INTO __overlay SELECT ${columns}, ${commit.id} AS __commit FROM ${folded.rows} AS t WHERE ${fold.mutableRow('t')}`);
      this.overlayNewest = commit.id;
    }
    // The commit's table is made from its first batch's rows (one statement, not an empty table and an insert).
    if (firstPart) await duck.run(`CREATE OR REPLACE TABLE ${commit.table} AS ${conformingSelect(shape.columns, `SELECT ${columns} FROM ${folded.rows}`)}`);
    else await duck.run(`INSERT INTO ${commit.table} SELECT ${columns} FROM ${folded.rows}`);
    for (const [stream, position] of advanced) commit.advanced.set(stream, position);
    commit.applied = { ...applied };
    return commit.id;
  }

  /** Resolves once the commit `id` (and every one before it) has landed; rejects when a write failed first. */
  landed(id: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (id <= this.landedThrough) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ id, resolve, reject }));
  }

  /** The id of the last commit a fold joined (0: none yet). */
  get lastId(): number {
    return this.gathering?.id ?? this.writing?.id ?? this.landedThrough;
  }

  /** Resolves once nothing is left to write (or the write under way failed); never rejects. */
  async settled(): Promise<void> {
    while (this.writer) await this.writer;
  }

  /** The commit being gathered, opened when there is none: the version after the one being written (or the table's). Its table is made by its first fold. */
  private gather(): PendingCommit {
    if (this.gathering) return this.gathering;
    const id = this.nextId++;
    const version = (this.writing?.version ?? this.options.snapshot().version) + 1;
    this.gathering = { id, version, table: `__live_commit_${id}`, parts: 0, advanced: new Map(), applied: {} };
    return this.gathering;
  }

  private startWriter(): void {
    if (this.gathering && !this.failure) this.writer ??= this.writeAll().finally(() => (this.writer = null));
  }

  /** Writes the gathered commits one after the other until none is left. */
  private async writeAll(): Promise<void> {
    for (;;) {
      while (this.folding) await this.folding;
      if (!this.gathering || this.failure) return;
      const commit = this.gathering;
      this.gathering = null;
      this.writing = commit;
      try {
        await this.write(commit);
      } catch (error) {
        this.fail(error as Error);
      } finally {
        this.writing = null;
      }
    }
  }

  private async write(commit: PendingCommit): Promise<void> {
    const { writer, write } = this.options;
    const snapshot = this.options.snapshot();
    if (snapshot.version + 1 !== commit.version) throw new Error(`live commit ${commit.id} was to be version ${commit.version}, but the table is at ${snapshot.version}`);
    await heldAt('projection.liveCommit');
    const data = await write.writeFolded(snapshot, commit.table);
    failpoint('projection.afterDataFile');
    await this.options.commit(data, commit.advanced, commit.applied);
    this.landedThrough = commit.id;
    await writer.run(`DROP TABLE IF EXISTS ${commit.table}`);
    for (const waiter of this.waiters.filter((w) => w.id <= commit.id)) waiter.resolve();
    this.waiters.splice(0, this.waiters.length, ...this.waiters.filter((w) => w.id > commit.id));
  }

  private fail(error: Error): void {
    this.failure = error;
    this.gathering = null;
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
  }
}
