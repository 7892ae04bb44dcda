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
import { LiveJob, type CatchUp } from './liveJob.js';
import type { ServiceMetrics } from './metrics.js';
import type { ServingMessage } from './queryProtocol.js';
import { ServingViews } from './servingViews.js';
import { ShownPositions, type StreamPositions } from './shownPositions.js';

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
 * Under steady load a job never idles, yet its small live commits must still be compacted: a
 * job is maintained between two catch-ups once this long has passed since its last maintenance.
 */
const MAINTAIN_UNDER_LOAD_MS = 5_000;
/**
 * An idle job is maintained once it has had nothing to do for this long: maintenance right after
 * a catch-up would hold up the next command's catch-up of that job (a client sending one command
 * after another waits for it).
 */
const MAINTAIN_IDLE_MS = 1_000;
/**
 * Maintenance first waits for the job's commits still being written, and the job folds nothing
 * meanwhile: it waits for a moment when none is, unless it is this overdue (traced at 20k events,
 * load ~12: a due maintenance held a command's fold back 3.4 s, most of it waiting for a commit).
 */
const MAINTAIN_OVERDUE_MS = 30_000;
/** A delta (hidden keys and added rows) this large is merged into a new base at once: every query scans it (measured: 10,000 rows added ~25 ms to a query of superchargers, 50,000 rows ~220 ms, at a load average of ~10). */
const MERGE_ROWS = 10_000;

/**
 * The service's runner: every job run in the process goes through it, so a job never runs twice
 * at once and a job's live runs and scheduled runs never interleave.
 *
 * Live: each live job has a worker of its own, started by a commit (or the poll every
 * `intervalMs`) when the job's source streams moved, that catches up until nothing is left. The
 * jobs do not wait for each other: a job writing a large copy-on-write commit holds back no other
 * job's fold, so a read model is shown as soon as its own job has folded the command. Each batch's
 * row change goes to the serving views when folded (servingViews.ts), which pass it to the query
 * processes; the change is announced once the job's commits landed. No file of the views is
 * written on this path: views.duckdb follows in the background within `mergeDelayMs`, from the
 * committed steps only. Compaction and checkpoints run between a job's catch-ups, never inside one.
 * Scheduled runs are taken one at a time, each waiting for its job's live worker to stop.
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
  /** When each live job last finished a catch-up (for idle maintenance). */
  private readonly lastActive = new Map<string, number>();
  private readonly queue: ScheduledRun[] = [];
  /** The live jobs' workers under way, by job name. */
  private readonly working = new Map<string, Promise<void>>();
  /** Jobs a scheduled run is waiting for or running: their live workers stop and do not start. */
  private readonly held = new Set<string>();
  private scheduling: Promise<void> | null = null;
  /** The keys each job's commits changed in its catch-up under way. */
  private readonly passKeys = new Map<string, ChangedKeys>();
  /** Per job, the table version its last change event announced. */
  private readonly announced = new Map<string, number>();
  /** Per job, the table version of the last batch it told the serving views. */
  private readonly told = new Map<string, number>();
  /** How far into the log each live job's rows are shown (queries waiting for their own writes). */
  private readonly shown = new ShownPositions();
  private servingReady = false;
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

  /** Lets the runs in progress finish, drops queued ones, ends the loop, and writes views.duckdb up to date. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.notify();
    for (const run of this.queue.splice(0)) run.settle.reject(new Error('the service stopped before this run started'));
    await this.loop;
    await this.scheduling;
    await Promise.all(this.working.values());
    for (const live of this.liveJobs) await live.close().catch((error: Error) => logger.warn({ job: live.job.name, err: error }, 'closing a live job failed'));
    await this.serving.stop();
  }

  private async run(): Promise<void> {
    await this.startServing();
    while (!this.stopping) {
      this.dispatch();
      this.serving.mergeIfDue();
      await this.sleep(this.options.intervalMs);
    }
  }

  /** Starts a worker for each live job that has work (new records, or maintenance due), and the scheduled runs. */
  private dispatch(): void {
    if (this.stopping) return;
    if (this.queue.length > 0) this.scheduling ??= this.runScheduledQueue().finally(() => (this.scheduling = null));
    const head = this.options.logHead();
    for (const live of this.liveJobs) {
      const name = live.job.name;
      if (this.working.has(name) || this.held.has(name) || (this.retryAt.get(name) ?? 0) > Date.now()) continue;
      const moved = head !== null && this.moved(live.job, head);
      if (!moved && !this.idleMaintenanceDue(live)) continue;
      this.working.set(name, this.work(live).finally(() => {
        this.working.delete(name);
        this.notify(); // the loop looks again: the job may have work by now, or a scheduled run waits for it
      }));
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
   * One live job's worker: catches up while its streams keep moving (each commit's rows told to
   * the serving views as folded), maintains it when due, and stops when it has nothing to do.
   */
  private async work(live: LiveJob): Promise<void> {
    const name = live.job.name;
    try {
      for (;;) {
        const head = this.options.logHead();
        if (this.stopping || this.held.has(name) || !head || !this.moved(live.job, head)) break;
        if (!(await this.catchUp(live, head))) return;
        if (this.maintenanceDue(name, MAINTAIN_UNDER_LOAD_MS) && (!live.committing || this.maintenanceDue(name, MAINTAIN_OVERDUE_MS))) await this.maintain(live);
      }
      if (!this.stopping && !this.held.has(name) && this.idleMaintenanceDue(live)) await this.maintain(live);
    } catch (error) {
      // Only the serving views' resync can land here; keep serving and look again on the next poll.
      logger.error({ job: name, err: error }, 'refreshing the views failed');
      this.retryAt.set(name, Date.now() + RETRY_MS);
    }
  }

  /** One catch-up of a live job to `head`, announced once committed; false when it failed. */
  private async catchUp(live: LiveJob, head: LogHead): Promise<boolean> {
    const { job } = live;
    const keys = new ChangedKeys(job.definition);
    this.passKeys.set(job.name, keys);
    const result = await this.runOne(job, 'live', () => live.catchUp(head));
    this.passKeys.delete(job.name);
    this.lastActive.set(job.name, Date.now());
    if (!result) {
      // A failed catch-up may have told rows whose commit never happened: read the tables anew.
      if (keys.told) {
        await this.serving.abandon(job.definition.name);
      }
      return false;
    }
    const positions = this.positions(job, head);
    this.seen.set(job.name, positions);
    if (result.firstRun) {
      this.serving.committed(job.definition.name, result.tableVersion);
      if (result.commits > 0) {
        this.unmaintained.set(job.name, this.unmaintained.get(job.name) ?? Date.now());
        // A first run writes the whole table in one commit, told as no row change: read it anew.
        await this.serving.resync();
      }
      this.shown.mark(job.name, positions);
      if (result.commits > 0) this.options.onChange([change(job, { ...result, mode: 'incremental' }, 'live', null)]);
      return true;
    }
    this.markShown(job, positions);
    // The commits are written behind the folds: the next catch-up does not wait for them.
    void this.announceWhenLanded(live, result, keys);
    return true;
  }

  /**
   * Once a catch-up's commits landed: its steps may be merged into views.duckdb, and its change
   * is announced as soon as the query processes show it (a step the views could not take waits
   * for the resync that reads the tables anew). A commit that failed drops the job's pass: its
   * told rows are read anew from the tables, and the job is retried from its checkpoint.
   */
  private async announceWhenLanded(live: LiveJob, result: CatchUp, keys: ChangedKeys): Promise<void> {
    const { job } = live;
    const readModel = job.definition.name;
    let version: number;
    try {
      version = await result.landed;
    } catch (error) {
      logger.error({ job: job.name, err: error }, 'a live commit failed; retrying the job from its checkpoint');
      Object.assign(this.activity.get(job.name)!, { lastError: (error as Error).message, lastRunAt: new Date().toISOString() });
      this.options.metrics.jobRuns.inc({ job: job.name, trigger: 'live', result: 'error' });
      this.retryAt.set(job.name, Date.now() + RETRY_MS);
      this.seen.delete(job.name);
      await this.serving.abandon(readModel).catch((e: Error) => logger.error({ err: e }, 'refreshing the views failed'));
      return;
    }
    this.serving.committed(readModel, version);
    if (result.folded > 0 || result.deferred) this.unmaintained.set(job.name, this.unmaintained.get(job.name) ?? Date.now());
    if (result.folded === 0) return;
    const commits = Math.max(1, version - (this.announced.get(job.name) ?? version - 1));
    this.announced.set(job.name, version);
    await this.serving.whenShown(readModel, version);
    this.options.onChange([change(job, { ...result, commits, tableVersion: version, mode: 'incremental' }, 'live', keys.list())]);
  }

  /**
   * A live batch's rows, folded and about to be committed: they go to the serving views (and on
   * to the query processes) at once, without waiting for the table's files.
   */
  private folded(change: TableChange): void {
    this.passKeys.get(change.job)?.add(change.change);
    this.told.set(change.job, change.toVersion);
    this.serving.record({ readModel: change.readModel, fromVersion: change.fromVersion, toVersion: change.toVersion, ...(change.part ? { part: change.part } : {}), ...change.change });
    // A query waiting for this batch's events is answered now, not after the fold's other statements and the catch-up's end.
    const job = this.liveJobs.find((live) => live.job.name === change.job)?.job;
    if (job && change.through) this.markShown(job, change.through);
  }

  /**
   * The job's rows up to `positions` were told (a batch folded, or a whole catch-up: its batches
   * folded or passed over): the positions count as shown once the query processes were given
   * those rows (at once, unless a step was a gap the views fill by reading the tables anew).
   */
  private markShown(job: Job, positions: StreamPositions): void {
    const told = this.told.get(job.name);
    if (told === undefined) this.shown.mark(job.name, positions);
    else void this.serving.whenShown(job.definition.name, told).then(() => this.shown.mark(job.name, positions));
  }

  /**
   * POST /query `after`: resolves once the read models show every event up to `after` (per log
   * stream, a sequence): the `readModels` named, or every live one reading those streams. Lagging
   * read models are returned when `timeoutMs` passed first. Refused (ShowingRefused): a position
   * past the log's head, a read model no live job of this service follows, or no live job at all.
   */
  async showing(after: StreamPositions, readModels: string[] | undefined, timeoutMs: number): Promise<string[]> {
    const head = this.options.logHead();
    for (const [stream, sequence] of Object.entries(after)) {
      const last = head?.streams[stream]?.sequence ?? 0;
      if (sequence > last) throw new ShowingRefused(`after: the log's stream ${stream} ends at sequence ${last}, not ${sequence}; give the positions POST /commands answered`);
    }
    const reading = this.liveJobs.filter((live) => Object.keys(after).every((stream) => sourceStreams(live.job, this.options.config.partitions).includes(stream)));
    for (const name of readModels ?? []) {
      if (!reading.some((live) => live.job.definition.name === name)) throw new ShowingRefused(`readModels: ${name} is not a read model a live job of this service follows from those positions (live jobs: ${this.liveJobs.map((l) => l.job.definition.name).join(', ') || 'none'}); leave it out, or query without \`after\``);
    }
    const jobs = reading.filter((live) => !readModels || readModels.includes(live.job.definition.name)).map((live) => live.job.name);
    if (jobs.length === 0) throw new ShowingRefused('after: no live job of this service reads those log streams, so nothing would ever show them (serve runs live jobs unless --no-live)');
    if (await this.shown.wait(jobs, after, timeoutMs)) return [];
    return this.shown.lagging(jobs, after);
  }

  /** The job has been idle long enough to be maintained, and none of its commits is being written (unless overdue). */
  private idleMaintenanceDue(live: LiveJob): boolean {
    const name = live.job.name;
    return this.maintenanceDue(name, MAINTAIN_IDLE_MS, this.lastActive.get(name)) && (!live.committing || this.maintenanceDue(name, MAINTAIN_OVERDUE_MS));
  }

  /** The job was committed to at least `ageMs` ago and not maintained since (and, with `idleSince`, has been idle that long). */
  private maintenanceDue(name: string, ageMs: number, idleSince?: number): boolean {
    const since = this.unmaintained.get(name);
    const now = Date.now();
    return since !== undefined && now - since >= ageMs && (idleSince === undefined || now - idleSince >= ageMs);
  }

  /** Commits a job's passed-over checkpoint, compacts and checkpoints its table. */
  private async maintain(live: LiveJob): Promise<void> {
    this.unmaintained.delete(live.job.name);
    try {
      // Committing passed-over records folds a batch (told before its commit), like a catch-up.
      this.serving.committed(live.job.definition.name, await live.maintain());
    } catch (error) {
      logger.warn({ job: live.job.name, err: error }, 'maintaining a live table failed; trying after its next commit');
      await this.serving.abandon(live.job.definition.name);
    }
  }

  private async runScheduledQueue(): Promise<void> {
    for (let run = this.queue.shift(); run && !this.stopping; run = this.queue.shift()) await this.runScheduled(run);
  }

  private async runScheduled(run: ScheduledRun): Promise<void> {
    const name = run.job.name;
    this.held.add(name);
    try {
      await this.working.get(name);
      const live = this.liveJobs.find((l) => l.job.name === name);
      // A live job's open pass holds a cache of its rows: let it go so the run starts from the table.
      await live?.close();
      const result = await this.runOne(run.job, 'schedule', () => this.runJob(run.job, run.mode));
      if (!result) {
        run.settle.reject(new Error(this.activity.get(name)!.lastError ?? 'the run failed'));
        return;
      }
      if (result.commits > 0) {
        await this.serving.resync().catch((error: Error) => logger.error({ err: error }, 'refreshing the views failed'));
        this.options.onChange([change(run.job, result, 'schedule', null)]);
      }
      run.settle.resolve(result);
    } finally {
      this.held.delete(name);
    }
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

  /** Waits `ms`, cut short by a commit, a queued scheduled run, a worker ending or stop. */
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

/** A POST /query `after` that can never be honoured (a client error: the message says why). */
export class ShowingRefused extends Error {}
