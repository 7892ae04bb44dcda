import type { LakeLayout } from '../lake/layout.js';
import type { LogHead } from '../lake/log/logHead.js';
import { COMMAND_STREAM } from '../lake/log/logMeta.js';
import { logger } from '../lake/logger.js';
import { runJob, sourceStreams, type Job, type JobRunResult, type RunMode } from '../projections/jobRunner.js';
import type { EventlakeConfig } from '../projections/jobsConfig.js';
import { runFromHub } from '../projections/runJobs.js';
import { buildViews } from '../views/viewsDatabase.js';
import type { ServiceMetrics } from './metrics.js';

/** What the change feed tells subscribers after a read model moved and the views show it. */
export interface ReadModelChange {
  job: string;
  table: string;
  trigger: 'live' | 'schedule';
  mode: RunMode;
  /** Delta table version after the run. */
  tableVersion: number;
  /** Log records applied by the run. */
  applied: number;
  commits: number;
  /** Records the projection threw on and skipped into dead letters (skip policy). */
  deadLetters: number;
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
  /** Run `live: true` jobs; when false the loop only builds the views once and runs scheduled jobs. */
  live: boolean;
  /** The log's committed head, read from memory (the ingester's), so an idle poll costs no I/O. */
  logHead: () => LogHead | null;
  /** Called once per pass that changed read models, after the views database shows the changes. */
  onChange: (changes: ReadModelChange[]) => void;
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
 * The service's one runner loop: every job run in the process goes through it, so a job never
 * runs twice at once and live runs, scheduled runs and views rebuilds never interleave.
 *
 * Live: woken by each commit (and by a poll every `intervalMs`), it runs each live job whose
 * source streams moved since its last run, then rebuilds the views database once if anything was
 * applied, then announces the changes. Under steady load passes start at most once per interval.
 * Between passes it takes queued scheduled runs.
 */
export class LiveProjections {
  readonly activity = new Map<string, JobActivity>();
  /** When the views database was last built by this process (null: not yet). */
  viewsBuiltAt: string | null = null;
  private readonly liveJobs: Job[];
  /** Per job: the stream sequences it has caught up to (as far as this loop knows). */
  private readonly seen = new Map<string, Record<string, number>>();
  private readonly retryAt = new Map<string, number>();
  private readonly queue: ScheduledRun[] = [];
  /** The views database lags the read models (or was never built by this process). */
  private viewsStale = true;
  private loop: Promise<void> | null = null;
  private stopping = false;
  private woken = false;
  private wake: (() => void) | null = null;
  private interrupt: (() => void) | null = null;

  constructor(private readonly options: LiveProjectionsOptions) {
    // Jobs on Event Hubs are fed by `eventlake consume`, not by the lake log's commits.
    this.liveJobs = options.live ? options.config.jobs.filter((job) => job.live && job.source === 'lake') : [];
    for (const job of options.config.jobs) {
      this.activity.set(job.name, { running: false, lastRunAt: null, lastTrigger: null, lastApplied: 0, lastError: null });
    }
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
    this.interrupt?.();
    return done;
  }

  /** Lets the run in progress finish, drops queued ones, and ends the loop. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.notify();
    this.interrupt?.();
    for (const run of this.queue.splice(0)) run.settle.reject(new Error('the service stopped before this run started'));
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        const scheduled = this.queue.shift();
        if (scheduled) await this.runScheduled(scheduled);
        else {
          const started = Date.now();
          if (await this.livePass()) {
            // Under steady load, passes start at most once per interval: each pass writes a data
            // file and a commit per job and rebuilds the views, so back-to-back passes would cost
            // much more and batch much less.
            await this.pause(this.options.intervalMs - (Date.now() - started));
          } else {
            await this.sleep(this.options.intervalMs);
          }
        }
      } catch (error) {
        // Only the views build can land here; keep serving and try again on the next poll.
        logger.error({ err: error }, 'building the views database failed');
        await this.sleep(RETRY_MS);
      }
    }
  }

  /** One live pass; false when there was nothing to do. */
  private async livePass(): Promise<boolean> {
    const head = this.options.logHead();
    const due = this.liveJobs.filter((job) => this.moved(job, head) && (this.retryAt.get(job.name) ?? 0) <= Date.now());
    if (due.length === 0 && !this.viewsStale) return false;
    const changes: ReadModelChange[] = [];
    // The jobs run at once: each waits on its own fsyncs and DuckDB, so together they take about
    // as long as the slowest instead of the sum (a command's latency to the views is the pass's).
    await Promise.all(due.map(async (job) => {
      if (this.stopping) return;
      const result = await this.runOne(job, 'incremental', 'live');
      if (!result) return;
      if (head) this.seen.set(job.name, this.positions(job, head));
      if (result.commits > 0) changes.push(change(job, result, 'live'));
    }));
    if (changes.length > 0) this.viewsStale = true;
    if (this.viewsStale) await this.rebuildViews();
    if (changes.length > 0) this.options.onChange(changes);
    return due.length > 0;
  }

  private async runScheduled(run: ScheduledRun): Promise<void> {
    const result = await this.runOne(run.job, run.mode, 'schedule');
    if (!result) {
      run.settle.reject(new Error(this.activity.get(run.job.name)!.lastError ?? 'the run failed'));
      return;
    }
    if (result.commits > 0) {
      this.viewsStale = true;
      await this.rebuildViews();
      this.options.onChange([change(run.job, result, 'schedule')]);
    }
    run.settle.resolve(result);
  }

  /** Runs one job; a failure is logged and recorded, and the job is retried later. */
  private async runOne(job: Job, mode: RunMode, trigger: 'live' | 'schedule'): Promise<JobRunResult | null> {
    const activity = this.activity.get(job.name)!;
    activity.running = true;
    const started = Date.now();
    try {
      const result = job.source === 'eventhubs' && mode === 'incremental'
        ? await runFromHub(this.options.config, this.options.layout, job)
        : await runJob(this.options.layout, job, { mode, memory: this.options.config.memory });
      logger.debug({ job: job.name, mode, trigger, applied: result.applied, commits: result.commits, ms: Date.now() - started }, 'projection job ran');
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
      logger.error({ job: job.name, mode, trigger, err: error }, 'projection job failed; retrying later');
      return null;
    } finally {
      activity.running = false;
    }
  }

  private async rebuildViews(): Promise<void> {
    const started = Date.now();
    await buildViews(this.options.config, this.options.layout);
    logger.debug({ ms: Date.now() - started }, 'views database rebuilt');
    this.viewsStale = false;
    this.viewsBuiltAt = new Date().toISOString();
    this.options.metrics.viewsBuilds.inc();
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

  /** Waits `ms`, cut short only by a queued scheduled run or stop (not by commits). */
  private pause(ms: number): Promise<void> {
    if (ms <= 0 || this.stopping || this.queue.length > 0) return Promise.resolve();
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.interrupt = null;
        resolve();
      };
      const timer = setTimeout(finish, ms);
      this.interrupt = finish;
    });
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

function change(job: Job, result: JobRunResult, trigger: 'live' | 'schedule'): ReadModelChange {
  return {
    job: job.name,
    table: job.output,
    trigger,
    mode: result.mode,
    tableVersion: result.tableVersion,
    applied: result.applied,
    commits: result.commits,
    deadLetters: result.deadLetters,
    at: new Date().toISOString(),
  };
}
