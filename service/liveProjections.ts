import type { LakeLayout } from '../lake/layout.js';
import type { LogHead } from '../lake/log/logHead.js';
import { COMMAND_STREAM } from '../lake/log/logMeta.js';
import { logger } from '../lake/logger.js';
import type { TableChange } from '../projections/jobPass.js';
import { runJob, sourceStreams, type Job, type JobRunResult, type RunMode } from '../projections/jobRunner.js';
import type { EventlakeConfig } from '../projections/jobsConfig.js';
import { runFromHub } from '../projections/runJobs.js';
import type { ServingState } from '../views/servingCatalog.js';
import { ChangedKeys } from './changedKeys.js';
import { LiveJob } from './liveJob.js';
import type { ServiceMetrics } from './metrics.js';
import type { ServingMessage } from './queryProtocol.js';
import { ServingViews } from './servingViews.js';

/** What the change feed tells subscribers after a read model moved and queries show it. */
export interface ReadModelChange {
  job: string;
  table: string;
  /** The read model (the projection) whose rows changed: its name in the views. */
  readModel: string;
  trigger: 'live' | 'schedule';
  mode: RunMode;
  /** Delta table version after the run. */
  tableVersion: number;
  /** Log records applied by the run. */
  applied: number;
  commits: number;
  /** Records the projection threw on and skipped into dead letters (skip policy). */
  deadLetters: number;
  /**
   * The keys whose rows the run changed (added, replaced, a history's open row closed), each an
   * object of the key columns, so a client refetches only those. Null when not known: a
   * scheduled run, a job's first run, a read model without a key, more than MAX_CHANGED_KEYS.
   */
  keys: Record<string, unknown>[] | null;
  at: string;
}

/** The runner loop's view of one job, for /status. */
export interface JobActivity {
  running: boolean;
  lastRunAt: string | null;
  lastTrigger: 'live' | 'schedule' | null;
  lastApplied: number;
  lastError: string | null;
}

export interface LiveProjectionsOptions {
  config: EventlakeConfig;
  layout: LakeLayout;
  metrics: ServiceMetrics;
  /** Poll period (ms); a commit also wakes the loop at once. */
  intervalMs: number;
  /** Run `live: true` jobs; when false the loop only serves the views and runs scheduled jobs. */
  live: boolean;
  /** The log's committed head, read from memory (the ingester's), so an idle poll costs no I/O. */
  logHead: () => LogHead | null;
  /** Called once per pass that changed read models, after the query processes were told the changes. */
  onChange: (changes: ReadModelChange[]) => void;
  /** Sends the query processes a new base, or a live commit's row change (in order). */
  tell: (message: ServingMessage) => void;
  /** Bases the query processes may still read (their files stay). */
  basesInUse: () => Set<number>;
  /** Most ms a change waits before it is merged into views.duckdb for outside clients. */
  mergeDelayMs: number;
}

interface ScheduledRun {
  job: Job;
  mode: RunMode;
  done: Promise<JobRunResult>;
  settle: { resolve: (r: JobRunResult) => void; reject: (e: Error) => void };
}

/** After a failed run, wait this long before trying the job again (unless new commits arrive). */
const RETRY_MS = 5_000;
/**
 * Under steady load the loop never idles, yet a job's small live commits must still be compacted:
 * a job is maintained between two passes once this long has passed since its last maintenance.
 */
const MAINTAIN_UNDER_LOAD_MS = 5_000;
/** A delta (hidden keys and added rows) this large is merged into a new base at once: every query scans it (measured: 10,000 rows added ~25 ms to a query of superchargers, 50,000 rows ~220 ms, at a load average of ~10). */
const MERGE_ROWS = 10_000;

/**
 * The service's one runner loop: every job run in the process goes through it, so a job never
 * runs twice at once and live runs and scheduled runs never interleave.
 *
 * Live: woken by each commit (and by a poll every `intervalMs`), it catches up each live job
 * whose source streams moved; each commit's row change goes to the serving views at once
 * (servingViews.ts), which pass it to the query processes, then the change is announced. No file
 * of the views is written on this path: views.duckdb follows in the background within
 * `mergeDelayMs`. Compaction and checkpoints run between passes, never inside one. Between
 * passes it takes queued scheduled runs.
 */
export class LiveProjections {
  readonly activity = new Map<string, JobActivity>();
  readonly serving: ServingViews;
  private readonly liveJobs: LiveJob[];
  /** Per job: the stream sequences it has caught up to (as far as this loop knows). */
  private readonly seen = new Map<string, Record<string, number>>();
  private readonly retryAt = new Map<string, number>();
  /** Jobs committed to since their last maintenance, and when that was. */
  private readonly unmaintained = new Map<string, number>();
  private readonly queue: ScheduledRun[] = [];
  /** The keys each job's commits changed in the pass under way. */
  private readonly passKeys = new Map<string, ChangedKeys>();
  private servingReady = false;
  /** A live pass is under way: rows may be told whose commits are not written yet. */
  private passing = false;
  private loop: Promise<void> | null = null;
  private stopping = false;
  private woken = false;
  private wake: (() => void) | null = null;

  constructor(private readonly options: LiveProjectionsOptions) {
    // Jobs on Event Hubs are fed by `eventlake consume`, not by the lake log's commits.
    const live = options.live ? options.config.jobs.filter((job) => job.live && job.source === 'lake') : [];
    const memoryPerJob = Math.floor(options.config.memory / Math.max(1, live.length));
    this.liveJobs = live.map((job) => new LiveJob(options.layout, job, options.config.partitions, (change) => this.folded(change), memoryPerJob));
    for (const job of options.config.jobs) {
      this.activity.set(job.name, { running: false, lastRunAt: null, lastTrigger: null, lastApplied: 0, lastError: null });
    }
    this.serving = new ServingViews({
      config: options.config,
      layout: options.layout,
      mergeDelayMs: options.mergeDelayMs,
      mergeRows: MERGE_ROWS,
      onBase: (state) => {
        options.metrics.viewsBuilds.inc();
        options.tell({ serving: state });
      },
      onStep: (step) => options.tell({ step }),
      basesInUse: options.basesInUse,
      // A merge records the versions it shows: never one told but not committed yet.
      mayMerge: () => !this.passing,
    });
  }

  /** When views.duckdb was last written by this process (null: the views are not served yet). */
  get viewsBuiltAt(): string | null {
    return this.servingReady ? this.serving.builtAt : null;
  }

  /** The views as query processes start from (null: not built yet). */
  servingState(): ServingState | null {
    return this.servingReady ? this.serving.state() : null;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** New commits are durable: look at once instead of at the next poll. */
  notify(): void {
    this.woken = true;
    this.wake?.();
  }

  /**
   * Queues a run of `job` (the scheduler's way in). A request for a job and mode already waiting
   * joins it rather than queueing a second identical run.
   */
  request(job: Job, mode: RunMode): Promise<JobRunResult> {
    if (this.stopping) return Promise.reject(new Error('the service is stopping'));
    const waiting = this.queue.find((r) => r.job.name === job.name && r.mode === mode);
    if (waiting) return waiting.done;
    let settle!: ScheduledRun['settle'];
    const done = new Promise<JobRunResult>((resolve, reject) => (settle = { resolve, reject }));
    done.catch(() => undefined); // a caller that does not wait must not crash the process
    this.queue.push({ job, mode, done, settle });
    this.notify();
    return done;
  }

  /** Lets the run in progress finish, drops queued ones, ends the loop, and writes views.duckdb up to date. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.notify();
    for (const run of this.queue.splice(0)) run.settle.reject(new Error('the service stopped before this run started'));
    await this.loop;
    for (const live of this.liveJobs) await live.close().catch((error: Error) => logger.warn({ job: live.job.name, err: error }, 'closing a live job failed'));
    await this.serving.stop();
  }

  private async run(): Promise<void> {
    await this.startServing();
    while (!this.stopping) {
      try {
        const scheduled = this.queue.shift();
        if (scheduled) await this.runScheduled(scheduled);
        else if (await this.livePass()) await this.maintainDue(MAINTAIN_UNDER_LOAD_MS);
        else if (!(await this.maintainDue(0))) await this.sleep(this.options.intervalMs);
        // Between passes every row told is committed: the moment a merge into views.duckdb may start.
        this.serving.mergeIfDue();
      } catch (error) {
        // Only the serving views' resync can land here; keep serving and try again on the next poll.
        logger.error({ err: error }, 'refreshing the views failed');
        await this.sleep(RETRY_MS);
      }
    }
  }

  /** Reads every table into the first base the query processes open; retried until it works. */
  private async startServing(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.serving.start();
        this.servingReady = true;
        return;
      } catch (error) {
        logger.error({ err: error }, 'building the views failed; trying again');
        await this.sleep(RETRY_MS);
      }
    }
  }

  /**
   * One live pass: each moved job catches up, its commits told to the serving views as they
   * land (the query processes show them from then on). False when there was nothing to do.
   */
  private async livePass(): Promise<boolean> {
    const head = this.options.logHead();
    const due = this.liveJobs.filter((live) => this.moved(live.job, head) && (this.retryAt.get(live.job.name) ?? 0) <= Date.now());
    if (due.length === 0 || !head) return false;
    const changes: ReadModelChange[] = [];
    let resync = false;
    this.passing = true;
    // The jobs run at once: each waits on its own fsyncs and DuckDB, so together they take about
    // as long as the slowest instead of the sum.
    await Promise.all(due.map(async (live) => {
      if (this.stopping) return;
      this.passKeys.set(live.job.name, new ChangedKeys(live.job.definition));
      const result = await this.runOne(live.job, 'live', () => live.catchUp(head));
      const keys = this.passKeys.get(live.job.name)!;
      this.passKeys.delete(live.job.name);
      if (!result) {
        // A failed catch-up may have told rows whose commit never happened: read the tables anew.
        if (keys.told) resync = true;
        return;
      }
      this.seen.set(live.job.name, this.positions(live.job, head));
      if (result.commits > 0 || result.deferred) this.unmaintained.set(live.job.name, this.unmaintained.get(live.job.name) ?? Date.now());
      if (result.commits === 0) return;
      // A first run writes the whole table in one commit, told as no row change: read it anew.
      if (result.firstRun) resync = true;
      changes.push(change(live.job, { ...result, mode: 'incremental' }, 'live', result.firstRun ? null : keys.list()));
    }));
    this.passing = false;
    if (resync) await this.serving.resync();
    if (changes.length > 0) this.options.onChange(changes);
    return true;
  }

  /**
   * A live batch's rows, folded and about to be committed: they go to the serving views (and on
   * to the query processes) at once, without waiting for the table's files.
   */
  private folded(change: TableChange): void {
    this.passKeys.get(change.job)?.add(change.change);
    this.serving.record({ readModel: change.readModel, fromVersion: change.fromVersion, toVersion: change.toVersion, ...change.change });
  }

  /**
   * Commits a job's passed-over checkpoint, compacts and checkpoints its table, for one job
   * committed to at least `ageMs` ago; false when none was due.
   */
  private async maintainDue(ageMs: number): Promise<boolean> {
    const now = Date.now();
    const live = this.liveJobs.find((l) => now - (this.unmaintained.get(l.job.name) ?? Infinity) >= ageMs);
    if (!live || this.stopping) return false;
    this.unmaintained.delete(live.job.name);
    // Committing passed-over records folds a batch (told before its commit), like a pass.
    this.passing = true;
    try {
      await live.maintain();
    } catch (error) {
      logger.warn({ job: live.job.name, err: error }, 'maintaining a live table failed; trying after its next commit');
      await this.serving.resync();
    } finally {
      this.passing = false;
    }
    return true;
  }

  private async runScheduled(run: ScheduledRun): Promise<void> {
    const live = this.liveJobs.find((l) => l.job.name === run.job.name);
    // A live job's open pass holds a cache of its rows: let it go so the run starts from the table.
    await live?.close();
    const result = await this.runOne(run.job, 'schedule', () => this.runJob(run.job, run.mode));
    if (!result) {
      run.settle.reject(new Error(this.activity.get(run.job.name)!.lastError ?? 'the run failed'));
      return;
    }
    if (result.commits > 0) {
      await this.serving.resync();
      this.options.onChange([change(run.job, result, 'schedule', null)]);
    }
    run.settle.resolve(result);
  }

  private runJob(job: Job, mode: RunMode): Promise<JobRunResult> {
    return job.source === 'eventhubs' && mode === 'incremental' ? runFromHub(this.options.config, this.options.layout, job) : runJob(this.options.layout, job, { mode, memory: this.options.config.memory });
  }

  /** Runs one job; a failure is logged and recorded, and the job is retried later. */
  private async runOne<R extends { applied: number; commits: number }>(job: Job, trigger: 'live' | 'schedule', work: () => Promise<R>): Promise<R | null> {
    const activity = this.activity.get(job.name)!;
    activity.running = true;
    const started = Date.now();
    try {
      const result = await work();
      logger.debug({ job: job.name, trigger, applied: result.applied, commits: result.commits, ms: Date.now() - started }, 'projection job ran');
      Object.assign(activity, { lastRunAt: new Date().toISOString(), lastTrigger: trigger, lastApplied: result.applied, lastError: null });
      this.retryAt.delete(job.name);
      this.options.metrics.eventsApplied.inc({ job: job.name }, result.applied);
      this.options.metrics.jobRuns.inc({ job: job.name, trigger, result: 'ok' });
      return result;
    } catch (error) {
      const message = (error as Error).message;
      Object.assign(activity, { lastRunAt: new Date().toISOString(), lastTrigger: trigger, lastError: message });
      this.retryAt.set(job.name, Date.now() + RETRY_MS);
      this.options.metrics.jobRuns.inc({ job: job.name, trigger, result: 'error' });
      logger.error({ job: job.name, trigger, err: error }, 'projection job failed; retrying later');
      return null;
    } finally {
      activity.running = false;
    }
  }

  private moved(job: Job, head: LogHead | null): boolean {
    const seen = this.seen.get(job.name);
    if (!seen || !head) return !seen;
    return Object.entries(this.positions(job, head)).some(([stream, sequence]) => seen[stream] !== sequence);
  }

  private positions(job: Job, head: LogHead): Record<string, number> {
    const partitions = Object.keys(head.streams).filter((s) => s !== COMMAND_STREAM).length;
    return Object.fromEntries(sourceStreams(job, partitions).map((s) => [s, head.streams[s]?.sequence ?? 0]));
  }

  /** Waits `ms`, cut short by a commit, a queued scheduled run or stop. */
  private sleep(ms: number): Promise<void> {
    if (this.woken || this.stopping) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.wake = null;
        this.woken = false;
        resolve();
      };
      const timer = setTimeout(finish, ms);
      this.wake = finish;
    });
  }
}

function change(job: Job, result: Pick<JobRunResult, 'mode' | 'tableVersion' | 'applied' | 'commits' | 'deadLetters'>, trigger: 'live' | 'schedule', keys: Record<string, unknown>[] | null): ReadModelChange {
  return {
    job: job.name,
    table: job.output,
    readModel: job.definition.name,
    trigger,
    mode: result.mode,
    tableVersion: result.tableVersion,
    applied: result.applied,
    commits: result.commits,
    deadLetters: result.deadLetters,
    keys,
    at: new Date().toISOString(),
  };
}
