import { MemoryBudget, PassMemory } from '../projections/memoryBudget.js';
import type { LakeLayout } from '../lake/layout.js';
import type { LogHead } from '../lake/log/logHead.js';
import { StreamCursor } from '../lake/log/streamCursor.js';
import { runJob } from '../projections/jobRunner.js';
import { JobPass, type TableChange } from '../projections/jobPass.js';
import { readBatch, type Batch, type Job } from '../projections/jobSource.js';

/**
 * Records one open pass applies before it is closed and opened afresh (its cursors stay): a pass
 * keeps a state job's rows in a cache and its DuckDB's memory, which must not grow for as long as
 * the service runs.
 */
const RECORDS_PER_PASS = 100_000;

/** What one catch-up did. */
export interface CatchUp {
  applied: number;
  commits: number;
  deadLetters: number;
  tableVersion: number;
  /** The job had no table yet: its first run wrote the whole table at once, told as no row change. */
  firstRun: boolean;
  /** Records of no event type the job reads were passed over: their checkpoint waits for `maintain`. */
  deferred: boolean;
  /** Batches folded and told (their commits may still be written). */
  folded: number;
  /**
   * The table version once every batch this catch-up folded is committed (the commits are
   * written behind the folds); rejects when one of them failed: its rows were told but never
   * committed, and the job starts again from its table's checkpoint.
   */
  landed: Promise<number>;
}

/**
 * A live job kept open between commits. A one-shot run (`eventlake run`) pays for opening DuckDB,
 * loading the table's snapshot and finding its place in each log segment (scanning the segment
 * from its start); at 200k events that was 0.2-0.6 s of CPU per job per pass on this machine,
 * most of a live pass. Here the pass (DuckDB, snapshot, the state cache) and the cursors stay,
 * so a catch-up costs its new records. Every batch's change in rows is told (`onChange`) as soon
 * as it is folded, and its commit is written behind the folds (projections/liveCommits.ts): a
 * catch-up returns once it has folded, and `landed` says when its commits are in the table.
 *
 * The job's lock is held during a catch-up and until its commits have landed, so `eventlake
 * run`, `rebuild` and `rollback` still work beside the service; when one of them committed to the
 * table meanwhile, the pass is stale and is opened afresh. Compaction and checkpoints are never part of a catch-up: `maintain`
 * runs them when the service's runner has nothing more urgent to do.
 */
export class LiveJob {
  private pass: JobPass | null = null;
  private cursors: Map<string, StreamCursor> | null = null;
  /** The pass the cursors were moved by: they may be ahead of its checkpoint (passed-over records). */
  private cursorsPass: JobPass | null = null;
  /**
   * The last batch passed over (none of its records is of an event type the job reads), its
   * `advanced` holding every stream passed over since: committing only to move a checkpoint
   * would cost a table version and an fsync per job and commit, so it waits for `maintain` or
   * rides along with the job's next real batch. A crash meanwhile re-reads records that change nothing.
   */
  private deferred: Batch | null = null;
  private appliedInPass = 0;
  /** A catch-up or maintenance is under way: the pass must not be paused under it. */
  private active = false;
  /** The pass being paused (its lock let go) after its commits landed: the next catch-up waits for it. */
  private pausing: Promise<void> | null = null;

  constructor(
    private readonly layout: LakeLayout,
    readonly job: Job,
    private readonly partitions: number,
    private readonly onChange: (change: TableChange) => void,
    /** This job's share of the process's memory budget, in bytes (the live jobs split it equally). */
    private readonly memoryBytes: number,
  ) {}

  /**
   * Folds every record of the job's streams up to `head` and tells each batch's change; returns
   * without waiting for their commits (`landed`), so the next catch-up folds the next command
   * while they are written.
   */
  async catchUp(head: LogHead): Promise<CatchUp> {
    await this.begin();
    try {
      return await this.foldUpTo(head);
    } finally {
      this.end();
    }
  }

  private async foldUpTo(head: LogHead): Promise<CatchUp> {
    const idle = this.pass;
    const waiting = await this.passOver(head);
    if (waiting === null && idle) return { applied: 0, commits: 0, deadLetters: 0, tableVersion: idle.tableVersion, firstRun: false, deferred: this.deferred !== null, folded: 0, landed: Promise.resolve(idle.tableVersion) };
    // The batch read ahead counts only if the pass it was read for is still the one open.
    const pass = await this.open();
    if (pass === null) {
      const result = await runJob(this.layout, this.job, { mode: 'incremental', memory: this.memoryBytes });
      return { applied: result.applied, commits: result.commits, deadLetters: result.deadLetters, tableVersion: result.tableVersion, firstRun: true, deferred: false, folded: result.commits, landed: Promise.resolve(result.tableVersion) };
    }
    const before = { ...pass.result };
    let folded = 0;
    try {
      const first = waiting && pass === idle ? waiting : null;
      if (first) {
        await pass.fold(this.withDeferred(first));
        first.records.release();
        folded += 1;
      }
      const cursors = this.positioned(pass);
      const perStream = this.perStream(pass);
      for (let batch = await readBatch(pass.streams, cursors, perStream, head); batch.lines.length > 0; batch = await readBatch(pass.streams, cursors, perStream, head)) {
        if (this.passesOver(batch)) continue;
        await pass.fold(this.withDeferred(batch));
        batch.records.release();
        folded += 1;
      }
    } catch (error) {
      // Cursors may be past what was committed: the next pass starts from the table's checkpoint.
      this.forgetPass();
      await pass.abort(error as Error);
      throw error;
    }
    const after = pass.result;
    this.appliedInPass += after.applied - before.applied;
    const deferred = this.deferred !== null;
    const commit = pass.lastCommit;
    const landed = folded === 0 ? Promise.resolve(pass.tableVersion) : pass.landed(commit).then(() => pass.tableVersion);
    landed.catch(() => undefined); // the caller's to handle; the pass is dropped when it settles (`end`)
    if (this.appliedInPass >= RECORDS_PER_PASS && !deferred) {
      await pass.settled().catch(() => undefined);
      if (this.pass === pass) await this.closePass();
    }
    return { applied: after.applied - before.applied, commits: after.commits - before.commits, deadLetters: after.deadLetters - before.deadLetters, tableVersion: pass.tableVersion, firstRun: false, deferred, folded, landed };
  }

  /** A catch-up or maintenance starts: after a pause under way (its lock released) is done. */
  private async begin(): Promise<void> {
    while (this.pausing) await this.pausing;
    this.active = true;
    const pass = this.pass;
    const failed = pass?.failed;
    if (pass && failed) {
      // A commit behind the folds failed: what it held is read again from the table's checkpoint.
      this.forgetPass();
      await pass.abort(failed).catch(() => undefined);
    }
  }

  /**
   * A catch-up or maintenance ended: once the pass's commits have landed and nothing else started,
   * its lock is let go (so `eventlake run` or a rollback may take it); a pass whose commit failed
   * is dropped, the next catch-up reading from the table's checkpoint.
   */
  private end(): void {
    this.active = false;
    const pass = this.pass;
    if (!pass) return;
    void pass.settled().catch(() => undefined).then(() => {
      if (this.pass !== pass || this.active || this.pausing) return;
      this.pausing = this.pauseOrDrop(pass).finally(() => (this.pausing = null));
    });
  }

  private async pauseOrDrop(pass: JobPass): Promise<void> {
    try {
      await pass.settled();
      await pass.pause();
    } catch (error) {
      if (this.pass === pass) this.forgetPass();
      await pass.abort(error as Error).catch(() => undefined);
    }
  }

  /**
   * Reads the open pass's streams up to `head` without taking the job's lock or reading the table,
   * passing over batches of no event type the job reads (most jobs, for most commands). Returns
   * the first batch the job must apply, null when there is none, or undefined when it could not
   * read (no pass open, or its cursors not its own yet: the caller opens the pass and reads from
   * its checkpoint).
   */
  private async passOver(head: LogHead): Promise<Batch | null | undefined> {
    const pass = this.pass;
    const cursors = this.cursors;
    if (!pass || !cursors || this.cursorsPass !== pass) return undefined;
    try {
      for (let batch = await readBatch(pass.streams, cursors, this.perStream(pass), head); batch.lines.length > 0; batch = await readBatch(pass.streams, cursors, this.perStream(pass), head)) {
        if (!this.passesOver(batch)) return batch;
      }
      return null;
    } catch (error) {
      // The cursors may have moved part way: the next catch-up reads from the pass's checkpoint.
      this.cursors = null;
      this.deferred = null;
      throw error;
    }
  }

  private perStream(pass: JobPass): number {
    return Math.max(1, Math.ceil(this.job.batchSize / pass.streams.length));
  }

  /** True when no record of the batch is of an event type the job reads: it is kept to commit later. */
  private passesOver(batch: Batch): boolean {
    const eventTypes = this.job.definition.eventTypes;
    if (!eventTypes || batch.records.select(eventTypes).lines.length > 0) return false;
    this.withDeferred(batch);
    this.deferred = batch;
    return true;
  }

  /** The batch, its checkpoint covering the streams of the batches passed over before it. */
  private withDeferred(batch: Batch): Batch {
    for (const [stream, position] of this.deferred?.advanced ?? []) if (!batch.advanced.has(stream)) batch.advanced.set(stream, position);
    this.deferred = null;
    return batch;
  }

  /** Resolves once the open pass has read its table's keys (JobPass.keysRead). */
  async tableKeysRead(): Promise<void> {
    await this.pass?.keysRead;
  }

  /** Commits folded but not landed yet are being written (maintenance would wait for them). */
  get committing(): boolean {
    return this.pass?.committing ?? false;
  }

  /** Compaction when due and a checkpoint every few commits, between catch-ups; returns the table version after it (-1: no table). */
  async maintain(): Promise<number> {
    await this.begin();
    try {
      const pass = await this.open();
      if (pass === null) return -1;
      try {
        const deferred = this.deferred;
        if (deferred) await pass.fold(this.withDeferred(deferred));
        await pass.settled();
        await pass.maintain();
        await pass.pause();
        return pass.tableVersion;
      } catch (error) {
        this.forgetPass();
        await pass.abort(error as Error);
        throw error;
      }
    } finally {
      this.end();
    }
  }

  /** Lets go of the pass (DuckDB, caches, and the lock if a catch-up was cut short). */
  async close(): Promise<void> {
    while (this.pausing) await this.pausing;
    this.cursors = null;
    this.deferred = null;
    await this.closePass();
  }

  /** The open pass, resumed (lock taken, table unchanged), or a new one; null when the job has no table yet. */
  private async open(): Promise<JobPass | null> {
    if (this.pass) {
      if (await this.pass.resume()) return this.pass;
      await this.closePass();
      this.deferred = null; // the new pass starts from the table's checkpoint, before them
    }
    // A pass of its own (one DuckDB, one row cache) within this job's share, for as long as it stays open.
    const memory = new PassMemory(new MemoryBudget(this.memoryBytes), 1);
    const pass = await JobPass.start(this.layout, this.job, this.partitions, memory, { mode: 'incremental', onChange: this.onChange, live: true });
    if (pass.stagesBatches) {
      await pass.close();
      return null;
    }
    this.pass = pass;
    this.appliedInPass = 0;
    return pass;
  }

  /** Drops the open pass (the caller aborts it): the next catch-up opens one and reads from the table's checkpoint. */
  private forgetPass(): void {
    this.pass = null;
    this.cursors = null;
    this.deferred = null;
  }

  private async closePass(): Promise<void> {
    const pass = this.pass;
    this.pass = null;
    await pass?.close();
  }

  /** Cursors at the pass's checkpoint: the ones kept from before when they are there already. */
  private positioned(pass: JobPass): Map<string, StreamCursor> {
    // Cursors moved by this very pass stay, even ahead of its checkpoint (records passed over).
    if (this.cursors && this.cursorsPass === pass) return this.cursors;
    const kept = this.cursors;
    const cursors = new Map(pass.streams.map((stream) => {
      const cursor = kept?.get(stream);
      return [stream, cursor && cursor.nextSequence - 1 === pass.startAfter(stream) ? cursor : new StreamCursor(this.layout.streamDir(stream), pass.startAfter(stream))];
    }));
    this.cursors = cursors;
    this.cursorsPass = pass;
    return cursors;
  }
}
