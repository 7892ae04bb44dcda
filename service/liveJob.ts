import type { LakeLayout } from '../lake/layout.js';
import type { LogHead } from '../lake/log/logHead.js';
import { StreamCursor } from '../lake/log/streamCursor.js';
import { runJob } from '../projections/jobRunner.js';
import { JobPass, type CommittedChange } from '../projections/jobPass.js';
import { readBatch, type Job } from '../projections/jobSource.js';

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
}

/**
 * A live job kept open between commits. A one-shot run (`eventlake run`) pays for opening DuckDB,
 * loading the table's snapshot and finding its place in each log segment (scanning the segment
 * from its start); at 200k events that was 0.2-0.6 s of CPU per job per pass on this machine,
 * most of a live pass. Here the pass (DuckDB, snapshot, the state cache) and the cursors stay,
 * so a catch-up costs its new records and its commits. Every commit is told (`onCommit`) with the
 * rows it changed, for the serving views.
 *
 * The job's lock is held only during a catch-up, so `eventlake run`, `rebuild` and `rollback`
 * still work beside the service; when one of them committed to the table meanwhile, the pass is
 * stale and is opened afresh. Compaction and checkpoints are never part of a catch-up: `maintain`
 * runs them when the service's runner has nothing more urgent to do.
 */
export class LiveJob {
  private pass: JobPass | null = null;
  private cursors: Map<string, StreamCursor> | null = null;
  private appliedInPass = 0;

  constructor(
    private readonly layout: LakeLayout,
    readonly job: Job,
    private readonly partitions: number,
    private readonly onCommit: (committed: CommittedChange) => void,
  ) {}

  /** Applies every record of the job's streams up to `head`: one commit per batch. */
  async catchUp(head: LogHead): Promise<CatchUp> {
    const pass = await this.open();
    if (pass === null) {
      const result = await runJob(this.layout, this.job, { mode: 'incremental' });
      return { applied: result.applied, commits: result.commits, deadLetters: result.deadLetters, tableVersion: result.tableVersion, firstRun: true };
    }
    const before = { ...pass.result };
    try {
      const cursors = this.positioned(pass);
      const perStream = Math.max(1, Math.ceil(this.job.batchSize / pass.streams.length));
      for (let batch = await readBatch(pass.streams, cursors, perStream, head); batch.lines.length > 0; batch = await readBatch(pass.streams, cursors, perStream, head)) {
        await pass.apply(batch);
        batch.records.release();
      }
      await pass.pause();
    } catch (error) {
      // Cursors may be past what was committed: the next pass starts from the table's checkpoint.
      this.pass = null;
      this.cursors = null;
      await pass.abort(error as Error);
      throw error;
    }
    const after = pass.result;
    this.appliedInPass += after.applied - before.applied;
    if (this.appliedInPass >= RECORDS_PER_PASS) await this.closePass();
    return { applied: after.applied - before.applied, commits: after.commits - before.commits, deadLetters: after.deadLetters - before.deadLetters, tableVersion: pass.tableVersion, firstRun: false };
  }

  /** Compaction when due and a checkpoint every few commits, between catch-ups. */
  async maintain(): Promise<void> {
    const pass = await this.open();
    if (pass === null) return;
    try {
      await pass.maintain();
      await pass.pause();
    } catch (error) {
      this.pass = null;
      await pass.abort(error as Error);
      throw error;
    }
  }

  /** Lets go of the pass (DuckDB, caches, and the lock if a catch-up was cut short). */
  async close(): Promise<void> {
    this.cursors = null;
    await this.closePass();
  }

  /** The open pass, resumed (lock taken, table unchanged), or a new one; null when the job has no table yet. */
  private async open(): Promise<JobPass | null> {
    if (this.pass) {
      if (await this.pass.resume()) return this.pass;
      await this.closePass();
    }
    const pass = await JobPass.start(this.layout, this.job, this.partitions, { mode: 'incremental', onCommit: this.onCommit });
    if (pass.stagesBatches) {
      await pass.close();
      return null;
    }
    this.pass = pass;
    this.appliedInPass = 0;
    return pass;
  }

  private async closePass(): Promise<void> {
    const pass = this.pass;
    this.pass = null;
    await pass?.close();
  }

  /** Cursors at the pass's checkpoint: the ones kept from before when they are there already. */
  private positioned(pass: JobPass): Map<string, StreamCursor> {
    const kept = this.cursors;
    const cursors = new Map(pass.streams.map((stream) => {
      const cursor = kept?.get(stream);
      return [stream, cursor && cursor.nextSequence - 1 === pass.startAfter(stream) ? cursor : new StreamCursor(this.layout.streamDir(stream), pass.startAfter(stream))];
    }));
    this.cursors = cursors;
    return cursors;
  }
}
