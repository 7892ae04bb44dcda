import os from 'node:os';
import type { Action, AddFile } from '../lake/delta/actions.js';
import { commitVersion, loadSnapshot as loadTableSnapshot, localFiles, refreshSnapshot, snapshotLocalFiles } from '../lake/delta/deltaTable.js';
import { applyCommit, type Snapshot } from '../lake/delta/snapshot.js';
import { Duck, sqlPathList, sqlString } from '../lake/duckdb.js';
import { failpoint } from '../lake/failpoints.js';
import type { LakeLayout } from '../lake/layout.js';
import { acquireLock, type Lock } from '../lake/lock.js';
import { sealedRanges, type SealedRange } from '../lake/log/sealedSegments.js';
import { logger } from '../lake/logger.js';
import { joinLocation } from '../lake/storage/locations.js';
import { conformingSelect } from './batchTables.js';
import { batchApplier, PoisonEventError, stagedRowsApplier, type BatchApplier, type ErrorPolicy, type Poisoned, type PriorRows } from './applyBatch.js';
import { parkDuckdb, stagingLimitMiB, unevictableBytes } from './duckdbParking.js';
import { PassMemory } from './memoryBudget.js';
import type { SharedPassDuckdb } from './sharedPassDuckdb.js';
import { RebuildStaging } from './rebuildStaging.js';
import type { RowCache } from './rowCache.js';
import { StateRebuild } from './stateRebuild.js';
import { processTempPath } from '../lake/processTemp.js';
import type { RowsProjection, StateProjection } from './projection.js';
import { NO_ROW_CHANGE, TableMerge, type MergeOutcome, type RowChange } from './tableMerge.js';
import { LiveCommits } from './liveCommits.js';
import { stateRowChange } from './stateRowChange.js';
import { tableShape } from './tableShape.js';
import { ANY_KEY, keysReadBehind, loadTableKeys, NO_KEYS, type KeyFilter } from './tableKeys.js';
import { recordDeadLetter } from './deadLetters.js';
import { appendCommit, builtVersion, lastApplied, overwriteCommit, type Applied } from './jobCommits.js';
import { checkpointAppId, sourceStreams, type Batch, type Job, type Position, type RecordTaker } from './jobSource.js';
import { recordJobRun } from './jobState.js';
import { isOnHub } from './hubPositions.js';
import { maintainTable } from './tableMaintenance.js';

/** incremental: apply what is new since the checkpoint. rebuild: from the start of the log. */
export type RunMode = 'incremental' | 'rebuild';

export interface JobRunResult {
  job: string;
  mode: RunMode;
  /** Log records applied by this run. */
  applied: number;
  /** Delta commits made. */
  commits: number;
  /** Records the projection threw on and skipped (dead letters). */
  deadLetters: number;
  /** The table version after the run (-1: the table does not exist yet). */
  tableVersion: number;
  /** Bytes of data files written by the run's commits. */
  bytesWritten: number;
  /** Bytes of existing files the run replaced by rewritten copies (copy-on-write MERGE). */
  bytesRewritten: number;
  /**
   * A state job's rebuild past its memory budget: rows its cache gave up to DuckDB, and records
   * of those keys applied at the end instead (stateRebuild.ts). Absent when nothing was evicted.
   */
  spilled?: { rows: number; deferredRecords: number };
}

/** One commit of a job's table (made, or about to be made) and what it changes in rows (see RowChange). */
export interface TableChange {
  job: string;
  /** The projection's name: the read model the views show. */
  readModel: string;
  fromVersion: number;
  toVersion: number;
  /** A live commit gathers the batches folded while the one before it is written: this batch's part of it (RowStep.part). */
  part?: number;
  change: RowChange;
  /**
   * Live: per log stream, the last sequence read by the batch told (records passed over before it
   * included): the read model shows the log up to there once this change is shown.
   */
  through?: Record<string, number>;
}

export interface JobPassOptions {
  mode?: RunMode;
  onError?: ErrorPolicy;
  /**
   * Told what each incremental batch changes in rows as soon as they are folded, before its files
   * and its commit (`toVersion`) are written, so a reader holding the previous version can follow
   * without reading the table (the service's query side, which then shows the rows without
   * waiting for the table's copy-on-write). The rows are the log's durable events applied, the
   * same whenever they are committed; should the commit fail, the pass aborts and the reader must
   * read the table anew. Compaction (no row change) is told after its commit. Rebuilds and a first
   * run commit the whole table at once and tell nothing.
   */
  onChange?: (change: TableChange) => void;
  /**
   * Live (the service): batches are `fold`ed and told at once, their commits written behind them
   * on a second connection (liveCommits.ts), so a batch never waits for the commit before it.
   */
  live?: boolean;
}

/** Batches between two looks at a staging DuckDB's unspillable memory (a look is one small query). */
const STAGING_CHECK = 16;

/**
 * One job's part in a pass over the log: it holds the job's lock, its DuckDB (or, merging batch
 * by batch, a connection to the pass's shared one: sharedPassDuckdb.ts) and its table snapshot,
 * and turns each batch it is handed into table output.
 *
 * Incremental: each batch is one Delta commit: its MERGE into the table (tableMerge.ts: the files
 * holding rows it replaces are rewritten, so the table is the exact read model at every version)
 * and, as `txn` actions, the log position per stream, so output and checkpoint are one atomic
 * step: a crash anywhere replays at most the uncommitted batch, and never applies one twice.
 *
 * Rebuild: batches are staged (rebuildStaging.ts) and folded once at the end into the final
 * files, written beside the live ones; `finish` then commits once, removing the live files and
 * adding the new ones, so readers switch from the old model to the whole new one in one step and
 * never see a half-built table. A table built by another version of the projection is always
 * rebuilt.
 */
export class JobPass {
  readonly result: JobRunResult;
  private readonly applier: BatchApplier;
  /** A state job's rows between batches (in the pass's row-cache budget). */
  private readonly cache: RowCache;
  private readonly merge: TableMerge;
  private readonly staging: RebuildStaging;
  /** Batches are staged and folded once at the end (a rebuild, or a first run), not merged one by one. */
  private readonly staged: boolean;
  /** Rebuild: per stream, the last sequence already applied from the sealed log. */
  private readonly sealedThrough = new Map<string, number>();
  /** Live: the folds' commits, written behind them (null: each batch is merged and committed in `apply`). */
  private readonly live: LiveCommits | null = null;
  /** Live state job: the read of its table's keys under way (settles, never rejects). */
  private keysLoading: Promise<unknown> | null = null;
  /** Live: the positions of the batch being folded, told with its change (TableChange.through). */
  private foldingThrough: Record<string, number> | null = null;
  /** False when `duck` is a connection to the pass's shared instance (sharedPassDuckdb.ts), whose settings are not this job's. */
  private ownsDuckdb = true;
  /** Batches staged since the last look at the DuckDB's unspillable memory, and the limit it set. */
  private stagedBatches = 0;
  private stagingLimit = 0;
  /** Its own DuckDB's memory_limit (PassMemory's share at the start), as last set. */
  private memoryLimit: string;

  private constructor(
    private readonly layout: LakeLayout,
    readonly job: Job,
    /** Null while a live pass is paused between catch-ups. */
    private lock: Lock | null,
    private readonly duck: Duck,
    private readonly tableDir: string,
    private snapshot: Snapshot,
    readonly mode: RunMode,
    readonly streams: string[],
    private readonly applied: Applied,
    policy: ErrorPolicy,
    private readonly memory: PassMemory,
    private readonly onChange?: JobPassOptions['onChange'],
    /** Live: a second connection, for the commits written behind the folds. */
    private readonly writer: Duck | null = null,
    /** The keys the table may hold at `snapshot` (a state job's "no earlier row" without reading the table). */
    tableKeys: KeyFilter = snapshot.files.size === 0 ? NO_KEYS : ANY_KEY,
  ) {
    this.memoryLimit = memory.sharedLimit;
    this.result = { job: job.name, mode, applied: 0, commits: 0, deadLetters: 0, tableVersion: snapshot.version, bytesWritten: 0, bytesRewritten: 0 };
    const shape = tableShape(job.definition);
    this.merge = new TableMerge(duck, tableDir, shape, job.fileRows, job.deletionVectors);
    this.staging = new RebuildStaging(duck, shape, job.fileRows);
    this.staged = stagesBatches(mode, snapshot);
    const definition = job.definition;
    this.cache = memory.rowCaches.cache();
    if (this.staged && definition.kind === 'state') {
      this.applier = new StateRebuild(duck, definition as StateProjection<unknown>, this.staging, this.cache, policy, job.upcast);
    } else if (this.staged && definition.kind === 'rows') {
      this.applier = stagedRowsApplier(this.staging, definition as RowsProjection<unknown>, policy, job.upcast);
    } else {
      if (writer && !this.staged) {
        this.live = new LiveCommits({
          duck,
          writer,
          fold: this.merge,
          write: new TableMerge(writer, tableDir, shape, job.fileRows, job.deletionVectors),
          shape,
          snapshot: () => this.snapshot,
          commit: (data, advanced, applied) => this.commitMerged(data, advanced, applied),
          tell: (fromVersion, toVersion, change, part) => this.tell(fromVersion, toVersion, change, part),
        });
      }
      const live = this.live;
      const priorRows: PriorRows = live ? (keys) => this.merge.currentRowsOver(this.snapshot, live.overlay, keys) : (keys) => this.merge.currentRows(this.snapshot, keys);
      this.applier = batchApplier(duck, definition, priorRows, tableKeys, policy, job.upcast, this.cache);
    }
  }

  /**
   * `shared`: the pass's one DuckDB instance, which a job that merges batch by batch (not staged,
   * not live) joins with a connection instead of opening its own (sharedPassDuckdb.ts).
   */
  static async start(layout: LakeLayout, job: Job, partitions: number, memory: PassMemory, options: JobPassOptions, shared?: SharedPassDuckdb): Promise<JobPass> {
    const lock = await acquireLock(layout.lockFile(`job-${job.name}`), `job ${job.name}`);
    let duck: Duck | undefined;
    /** A connection to the shared instance, opened if the table has a Delta checkpoint to read. */
    let reader: Duck | undefined;
    let keysLoading: Promise<unknown> | undefined;
    try {
      const tableDir = layout.tableDir(job.output);
      const snapshot = await loadTableSnapshot(tableDir, {}, shared ? async () => (reader ??= await shared.connect()) : undefined);
      const mode = chooseMode(job, snapshot, options.mode ?? 'incremental');
      if (mode === 'incremental' && isOnHub(snapshot, job)) {
        // Its table holds hub positions; lake events applied now would come again from the hub.
        throw new Error(`job ${job.name} reads Event Hubs now: run it with \`eventlake run\` or \`eventlake consume\`, or rebuild it from the lake`);
      }
      const joinsShared = shared !== undefined && !options.live && !stagesBatches(mode, snapshot);
      if (reader && !joinsShared) shared!.disconnect(reader);
      duck = joinsShared ? (reader ?? (await shared.connect())) : await Duck.open(':memory:', passDuckOptions(job, memory.sharedLimit, processTempPath('duckdb')));
      reader = undefined;
      const rebuild = mode === 'rebuild';
      const applied = rebuild ? {} : await lastApplied(tableDir, snapshot);
      // A rebuild follows the job's policy too: with `skip`, one record no sink can store must not
      // make the read model impossible to rebuild.
      const policy = options.onError ?? job.onError;
      const writer = options.live && !rebuild && snapshot.version >= 0 ? await duck.connect() : null;
      const keys = writer ? await liveTableKeys(duck, tableDir, snapshot, job) : null;
      keysLoading = keys?.loading;
      const pass = new JobPass(layout, job, lock, duck, tableDir, snapshot, mode, sourceStreams(job, partitions), applied, policy, memory, options.onChange, writer, keys?.filter);
      pass.keysLoading = keys?.loading ?? null;
      pass.ownsDuckdb = !joinsShared;
      return pass;
    } catch (error) {
      await keysLoading; // its connection is to this database
      if (reader) shared!.disconnect(reader);
      duck?.close();
      await lock.release();
      throw error;
    }
  }

  /** Batches are staged and committed once by `finish` (a rebuild, or a first run): such a pass cannot stay open live. */
  get stagesBatches(): boolean {
    return this.staged;
  }

  /** Bytes of rows its state job holds in the JS heap until it finishes (rowCache.ts). */
  get cachedBytes(): number {
    return this.cache.bytes;
  }

  /** Where this pass starts reading `stream`: after the checkpoint, or from the start for a rebuild. */
  startAfter(stream: string): number {
    return this.mode === 'rebuild' ? (this.sealedThrough.get(stream) ?? 0) : (this.snapshot.txns.get(checkpointAppId(this.job, stream))?.version ?? 0);
  }

  /**
   * A SQL projection's rebuild first runs its SQL once over the sealed log (Parquet), the way
   * DuckDB alone would; the batches then start after it. Not with upcasters: they are TypeScript.
   */
  async replaySealed(layout: LakeLayout): Promise<void> {
    const { definition } = this.job;
    if (!this.staged || this.mode !== 'rebuild' || definition.kind !== 'sql' || definition.source !== 'events' || this.job.upcast) return;
    const ranges = await Promise.all(this.streams.map((stream) => sealedRanges(layout, stream)));
    const files = await localFiles(ranges.flat().map((r) => r.location));
    if (files.length === 0) return;
    const wanted = definition.eventTypes ? `WHERE eventType IN (${definition.eventTypes.map(sqlString).join(', ')})` : '';
    await this.duck.run(`CREATE OR REPLACE TEMP VIEW events AS SELECT * FROM read_parquet(${sqlPathList(files)}) ${wanted}`);
    await this.staging.stageSelect(conformingSelect(definition.columns, definition.sql));
    await this.duck.run('DROP VIEW events');
    const lasts = await this.lastTimestamps(ranges.flatMap((r) => r.at(-1) ?? []));
    for (const [i, stream] of this.streams.entries()) {
      const last = ranges[i].at(-1);
      if (!last) continue;
      // Sealed ranges run gap-free from 1, so the last one tells how many there are.
      this.applied[stream] = { sequence: last.last, timestamp: lasts.get(last.location) ?? null };
      this.sealedThrough.set(stream, last.last);
      this.result.applied += last.last;
    }
  }

  /**
   * Business time of each sealed range's last event (for lag in seconds): one statement, each
   * file read for its one row, which its row groups' sequence stats find without a scan.
   */
  private async lastTimestamps(ranges: SealedRange[]): Promise<Map<string, string | null>> {
    if (ranges.length === 0) return new Map();
    const files = await localFiles(ranges.map((r) => r.location));
    const lastRows = ranges.map((r, i) => `SELECT ${i} AS i, strftime(timezone('UTC', timestamp), '%Y-%m-%dT%H:%M:%S.%gZ') AS at FROM read_parquet(${sqlString(files[i])}) WHERE sequence = ${r.last}`);
    const rows = await this.duck.rows(lastRows.join(' UNION ALL '));
    const byRange = new Map(rows.map((row) => [Number(row.i), row.at as string | null]));
    return new Map(ranges.map((r, i) => [r.location, byRange.get(i) ?? null]));
  }

  /**
   * Live: folds one batch and tells its change at once; its commit is written behind (see
   * `landed`). Returns the id of the commit it joined.
   */
  async fold(batch: Batch): Promise<number> {
    const live = this.live;
    if (!live) throw new Error(`job ${this.job.name}: a pass not opened live cannot fold`);
    await live.prepare();
    await this.applyRecords(batch);
    this.foldingThrough = Object.fromEntries([...batch.advanced].map(([stream, position]) => [stream, position.sequence]));
    try {
      const id = await live.fold(batch.advanced, this.applied, this.knownChange());
      this.result.applied += batch.lines.length;
      return id;
    } finally {
      this.foldingThrough = null;
    }
  }

  /** A state job's last batch told from its rows as evolved in JS (no statement reading `out` back); undefined for other kinds. */
  private knownChange(): RowChange | undefined {
    const rows = this.applier.loadedRows?.();
    const definition = this.job.definition;
    return rows && definition.kind === 'state' ? stateRowChange(rows, definition.key) : undefined;
  }

  /** Live: resolves once the commit `id` has landed (rejects when a commit failed first). */
  landed(id: number): Promise<void> {
    return this.live?.landed(id) ?? Promise.resolve();
  }

  /** Live state job: resolves once its table's keys are read (until then every new key is looked up). */
  get keysRead(): Promise<unknown> {
    return this.keysLoading ?? Promise.resolve();
  }

  /** Live: the id of the last commit a fold joined. */
  get lastCommit(): number {
    return this.live?.lastId ?? 0;
  }

  /** Live: resolves once every folded batch is committed; throws the commit failure if one failed. */
  async settled(): Promise<void> {
    await this.live?.settled();
    if (this.live?.failed) throw this.live.failed;
  }

  /** Live: the commit that failed, if one did (the pass must then be aborted). */
  get failed(): Error | null {
    return this.live?.failed ?? null;
  }

  /** Live: a commit is gathered or being written (the job's lock must stay held). */
  get committing(): boolean {
    return this.live?.busy ?? false;
  }

  /** Applies one batch: staged (rebuild), or merged into the table and committed with the checkpoint. */
  async apply(batch: Batch): Promise<void> {
    if (this.live) {
      // A live pass keeps its commits in order behind its folds.
      await this.fold(batch);
      await this.settled();
      return;
    }
    await this.applyRecords(batch);
    if (this.staged) {
      if (!this.applier.stagesItself) await this.staging.stage();
      await this.keepStagingRoom();
    } else {
      const before = this.snapshot.version;
      const folded = this.onChange ? async () => this.tell(before, before + 1, await this.merge.rowChange()) : undefined;
      const merged = await this.merge.merge(this.snapshot, folded);
      failpoint('projection.afterDataFile');
      await this.commitMerged(merged, batch.advanced, this.applied);
    }
    this.result.applied += batch.lines.length;
  }

  /**
   * A staged pass (rebuild, first run) whose applier takes records one at a time: the batch as the
   * runner hands it, record by record beside the other passes (BatchRecords.feed), then `end`
   * stages it, as `apply` would have (`error`: what taking a record threw). Null: this pass
   * applies whole batches (`apply`).
   */
  intake(batch: Batch): (RecordTaker & { end(error: unknown): Promise<void> }) | null {
    const { applier } = this;
    if (this.live || !this.staged || !applier.stagesItself || !applier.begin) return null;
    const { eventTypes } = this.job.definition;
    const intake = applier.begin(batch.records.selectedBytes(eventTypes));
    return {
      eventTypes,
      take: (record, line) => intake.take(record, line),
      end: async (error) => {
        await this.settle(batch, error === undefined ? intake.end() : Promise.reject(error));
        this.result.applied += batch.lines.length;
        await this.keepStagingRoom();
      },
    };
  }

  /** The projection run over the batch's records (into `out`, or staged), its dead letters recorded and positions taken. */
  private async applyRecords(batch: Batch): Promise<void> {
    await this.settle(batch, this.applier.apply(batch.records.select(this.job.definition.eventTypes)));
  }

  /** What applying a batch gave: its dead letters recorded (a halt's too), and its positions taken. */
  private async settle(batch: Batch, applying: Promise<Poisoned[]>): Promise<void> {
    const poisoned = await applying.catch(async (error: unknown) => {
      if (error instanceof PoisonEventError) await this.deadLetter(error.poisoned, 'halted');
      throw error;
    });
    for (const p of poisoned) await this.deadLetter(p, 'skipped');
    this.result.deadLetters += poisoned.length;
    for (const [stream, position] of batch.advanced) this.applied[stream] = position;
  }

  /** A merge's files committed with the checkpoint of the batches it holds. */
  private async commitMerged(merged: MergeOutcome, advanced: Map<string, Position>, applied: Applied): Promise<void> {
    await this.commit(appendCommit(this.job, this.snapshot, merged.actions, advanced, applied));
    this.result.bytesWritten += merged.bytesWritten;
    this.result.bytesRewritten += merged.bytesRewritten;
  }

  /** The rebuild's switch, housekeeping, and the job's run state; releases the job. */
  async finish(): Promise<JobRunResult> {
    try {
      // Its turn: the fold (and a state job's replay of deferred records, which sorts them all)
      // and compaction run with the pass's DuckDB memory, not a share. A connection to the
      // pass's shared instance keeps the instance's limit: the other jobs' work runs in it too.
      if (this.ownsDuckdb) await this.setMemoryLimit(this.memory.finishingLimitFor(this));
      if (this.staged && (this.mode === 'rebuild' || this.result.applied > 0)) {
        const adds = await this.foldStaged();
        failpoint('projection.afterDataFile');
        this.result.bytesWritten += adds.reduce((sum, add) => sum + add.size, 0);
        const actions = this.mode === 'rebuild'
          ? overwriteCommit(this.job, this.snapshot, adds, this.applied)
          : appendCommit(this.job, this.snapshot, adds.map((add): Action => ({ add })), new Map(Object.entries(this.applied)), this.applied);
        await this.commit(actions);
      }
      // A rebuild writes a file per batch, a run one per commit: compact once there are many.
      if (this.result.commits > 0) this.snapshot = await maintainTable(this.duck, this.tableDir, this.job, this.snapshot, this.job.fileRows);
      this.result.tableVersion = this.snapshot.version;
      await recordJobRun(this.layout, this.job.name, null);
      return this.result;
    } catch (error) {
      await recordJobRun(this.layout, this.job.name, error as Error);
      throw error;
    } finally {
      await this.release();
    }
  }

  /**
   * Live: lets the job's lock go between two catch-ups (so `eventlake run`, a rebuild or a rollback
   * may take it) while DuckDB, the snapshot and the applier's cache stay for the next one.
   */
  async pause(): Promise<void> {
    this.result.tableVersion = this.snapshot.version;
    await recordJobRun(this.layout, this.job.name, null);
    await this.lock?.release();
    this.lock = null;
  }

  /**
   * Takes the lock again after `pause`. False when another process committed to the table
   * meanwhile: this pass's snapshot and cache are then stale, and it must be closed.
   */
  async resume(): Promise<boolean> {
    // Held still (its commits were being written): nobody else could commit.
    if (this.lock) return true;
    this.lock = await acquireLock(this.layout.lockFile(`job-${this.job.name}`), `job ${this.job.name}`);
    const latest = await refreshSnapshot(this.tableDir, this.snapshot);
    return latest.version === this.snapshot.version;
  }

  /**
   * Housekeeping (compaction when due, a checkpoint every few commits), for a live pass between
   * catch-ups rather than inside one; a compaction commit is told like any other (it changes no row).
   */
  async maintain(): Promise<void> {
    const before = this.snapshot.version;
    this.snapshot = await maintainTable(this.duck, this.tableDir, this.job, this.snapshot, this.job.fileRows);
    this.result.tableVersion = this.snapshot.version;
    if (this.snapshot.version > before) this.tell(before, this.snapshot.version, NO_ROW_CHANGE);
  }

  /** The table version this pass holds. */
  get tableVersion(): number {
    return this.snapshot.version;
  }

  /** Closes a paused (or failed) live pass: DuckDB, and the lock if held. */
  async close(): Promise<void> {
    await this.release();
  }

  private tell(fromVersion: number, toVersion: number, change: RowChange, part?: number): void {
    const through = this.foldingThrough;
    this.onChange?.({ job: this.job.name, readModel: this.job.definition.name, fromVersion, toVersion, change, ...(part ? { part } : {}), ...(through ? { through } : {}) });
  }

  /**
   * The rebuild's final files: a state job first stages what its cache still holds and replays
   * the records it deferred. The fold runs alone (the passes finish one after the other, the
   * others parked), so it gets every core and the pass's DuckDB memory.
   */
  private async foldStaged(): Promise<AddFile[]> {
    await this.duck.run(`SET threads = ${os.availableParallelism()}`);
    let foldedAlready = false;
    if (this.applier instanceof StateRebuild) {
      const { poisoned, oneRowPerKey } = await this.applier.finish();
      if (this.applier.evicted > 0) this.result.spilled = { rows: this.applier.evicted, deferredRecords: this.applier.deferred };
      for (const p of poisoned) await this.deadLetter(p, 'skipped');
      this.result.deadLetters += poisoned.length;
      foldedAlready = oneRowPerKey;
    }
    return this.staging.finish(this.tableDir, foldedAlready);
  }

  /**
   * Lowers DuckDB's memory limit while the job waits for its turn to finish: what it staged goes
   * to its temp folder and its memory to the job that folds (memoryBudget.ts, PassMemory).
   */
  async park(): Promise<void> {
    // A connection to the pass's shared instance keeps its share there (the instance's limit is
    // the joined jobs' shares, sharedPassDuckdb.ts): lowering that limit would starve every other
    // job on it. It holds no staged rows to spill; it is counted at its share.
    if (!this.ownsDuckdb) return this.memory.parked(this, this.memory.sharedMiB);
    // Only memory is at stake: parked higher (or not at all), the job is counted at that limit.
    const limits = this.memory.parkingLimits;
    // Past its share only by what it cannot spill (keepStagingRoom): the last limit to try.
    if (this.stagingLimit > limits.at(-1)!) limits.push(this.stagingLimit);
    const { mib, refused } = await parkDuckdb(this.duck, limits);
    if (mib !== null) this.memoryLimit = `${mib}MiB`;
    this.memory.parked(this, mib ?? Math.max(limits.at(-1)!, this.stagingLimit));
    if (refused.length > 0) logger.warn({ job: this.job.name, parkedMiB: mib, refused }, 'DuckDB held more than the parked limit in memory: parked higher');
  }

  /**
   * Every STAGING_CHECK batches of a staged pass: its DuckDB's limit is its share, or more once
   * what it cannot spill, which grows with the rows staged, would leave a batch's statement too
   * little room (duckdbParking.ts, stagingLimitMiB).
   */
  private async keepStagingRoom(): Promise<void> {
    if ((this.stagedBatches = (this.stagedBatches + 1) % STAGING_CHECK) !== 0) return;
    const limit = stagingLimitMiB(this.memory.sharedMiB, await unevictableBytes(this.duck));
    if (limit === this.stagingLimit) return;
    await this.setMemoryLimit(`${limit}MiB`);
    this.stagingLimit = limit;
  }

  /**
   * Sets its own DuckDB's memory_limit, unless it has that limit already: DuckDB frees memory on
   * every SET (~40 ms of CPU measured, at load ~8), and a lone job finishes at the limit it opened with.
   */
  private async setMemoryLimit(limit: string): Promise<void> {
    if (limit === this.memoryLimit) return;
    await this.duck.run(`SET memory_limit = '${limit}'`);
    this.memoryLimit = limit;
  }

  /** Commits the next table version (a crash just after it must be survived: the failpoint). */
  private async commit(actions: Action[]): Promise<void> {
    await commitVersion(this.tableDir, this.snapshot.version + 1, actions);
    failpoint('projection.afterCommit');
    this.snapshot = applyCommit(this.snapshot, this.snapshot.version + 1, actions);
    this.result.commits += 1;
  }

  /** Ends the pass after a failure: nothing more is committed. */
  async abort(error: Error): Promise<void> {
    try {
      await recordJobRun(this.layout, this.job.name, error);
    } finally {
      await this.release();
    }
  }

  private async release(): Promise<void> {
    // A commit being written finishes (or fails) before its connection closes; none lands after the lock is let go.
    await this.live?.settled();
    // So does the read of the table's keys (its connection is to the same database).
    await this.keysLoading;
    this.cache.release();
    this.writer?.close();
    this.duck.close();
    this.memory.closed(this);
    await this.lock?.release();
    this.lock = null;
  }

  private deadLetter({ record, error }: Poisoned, action: 'skipped' | 'halted'): Promise<void> {
    const stream = this.job.definition.source === 'commands' ? 'commands' : `p${record.partition}`;
    logger.warn({ job: this.job.name, stream, sequence: record.sequence, error: error.message, action }, 'dead letter');
    return recordDeadLetter(this.layout, {
      job: this.job.name,
      stream,
      sequence: record.sequence,
      eventId: record.eventId ?? record.commandId ?? null,
      eventType: record.eventType ?? null,
      error: error.message,
      at: new Date().toISOString(),
      action,
    });
  }
}

/**
 * Every staged or live job of a pass holds its own DuckDB at once, each held to its share of the pass's memory
 * budget and spilling to a temp folder beyond it: with DuckDB's default limit (80% of RAM) six
 * instances kept what they once used, and a 10M-event rebuild peaked at 2.7 GiB; a limit without
 * a temp folder failed instead of spilling ("failed to pin block"). A TypeScript job's gets one
 * thread: its DuckDB work is small per batch and the jobs already run side by side, so more
 * threads than cores only contend (1M-event rebuild on 2 cores: 22 s against 29-31 s with
 * DuckDB's default of one per core). A SQL job keeps the default: its rebuild is one large
 * statement over the sealed log (one thread halved it).
 */
function passDuckOptions(job: Job, memoryLimit: string, spillFolder: string): Record<string, string> {
  const spill = { memory_limit: memoryLimit, temp_directory: spillFolder };
  return job.definition.kind === 'sql' ? spill : { ...spill, threads: '1' };
}

/**
 * A live state job's table keys, read once when its pass opens (the pass stays open for many
 * commands), in the background on a connection of their own: a command's new key (a new order, a
 * new command id) is then folded without reading the table. Keys the pass folds later are in its
 * row cache (or its filter of evicted keys), so the filter need not follow its commits. A
 * one-shot run answers "maybe" for every key instead: reading every key to fold one batch would
 * cost more than it saves.
 */
async function liveTableKeys(duck: Duck, tableDir: string, snapshot: Snapshot, job: Job): Promise<{ filter: KeyFilter; loading: Promise<unknown> } | null> {
  const definition = job.definition;
  if (definition.kind !== 'state') return null;
  if (snapshot.files.size === 0) return { filter: NO_KEYS, loading: Promise.resolve() };
  const reader = await duck.connect();
  const started = performance.now();
  const load = loadTableKeys(reader, tableDir, snapshot, definition.key).finally(() => reader.close());
  void load.then(() => logger.debug({ job: job.name, files: snapshot.files.size, ms: Math.round(performance.now() - started) }, 'live pass: table keys read'), () => undefined);
  return { filter: keysReadBehind(load, job.output), loading: load.catch(() => undefined) };
}

/**
 * A rebuild, or a first run (no table to merge into), stages its batches and writes the folded
 * table in one commit: merging batch after batch would rewrite the growing table each time.
 */
function stagesBatches(mode: RunMode, snapshot: Snapshot): boolean {
  return mode === 'rebuild' || snapshot.version < 0;
}

function chooseMode(job: Job, snapshot: Snapshot, requested: RunMode): RunMode {
  const built = builtVersion(snapshot);
  if (requested === 'incremental' && built !== null && built !== job.definition.version) {
    logger.warn({ job: job.name, table: built, code: job.definition.version }, 'projection version changed: rebuilding the read model');
    return 'rebuild';
  }
  return requested;
}
