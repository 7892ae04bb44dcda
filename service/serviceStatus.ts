import { describeTable } from '../lake/delta/deltaTable.js';
import type { LakeLayout } from '../lake/layout.js';
import type { LogHead } from '../lake/log/logHead.js';
import { logger } from '../lake/logger.js';
import { jobStatus, type JobStatus } from '../projections/jobStatus.js';
import type { EventlakeConfig } from '../projections/jobsConfig.js';
import type { IngestActivity, IngestCounters, RecentCommand } from './ingestActivity.js';
import type { JobActivity, LiveProjections } from './liveProjections.js';
import type { Scheduler, ScheduleInfo } from './scheduler.js';

/** A job as GET /status shows it: where it stands against the log, and what this process did with it. */
export interface JobView extends JobStatus, JobActivity {
  live: boolean;
  schedule: ScheduleInfo | null;
  /** Rows in the read model's current snapshot (null until counted). */
  rows: number | null;
}

/** The GET /status document. */
export interface StatusDocument {
  service: { startedAt: string; uptimeSeconds: number; ready: boolean; viewsBuiltAt: string | null; live: boolean; liveIntervalMs: number; auth: boolean; changeSubscribers: number };
  ingest: IngestCounters;
  log: { commit: number; committedAt: string; streams: Record<string, { sequence: number; lastTimestamp: string | null }> } | null;
  jobs: JobView[];
  recentCommands: RecentCommand[];
  recentRejections: RecentCommand[];
}

/** One point of the lag history behind the status page's chart. */
export interface StatusSample {
  at: string;
  jobs: Record<string, { lagEvents: number | null; lagSeconds: number | null }>;
}

export interface ServiceStatusOptions {
  config: EventlakeConfig;
  layout: LakeLayout;
  runner: LiveProjections;
  scheduler: Scheduler;
  activity: IngestActivity;
  logHead: () => LogHead | null;
  ready: () => boolean;
  flags: { live: boolean; liveIntervalMs: number; auth: boolean; changeSubscribers: () => number };
  historySamples: number;
}

/**
 * Gathers what /status, /status/history and /metrics report, and keeps the lag history: a ring of
 * samples taken every few seconds, in memory only (it restarts empty with the process).
 */
export class ServiceStatus {
  readonly startedAt = new Date();
  private readonly samples: StatusSample[] = [];
  /** Row counts per table, counted again only when the table's version moved. */
  private readonly sizes = new Map<string, { version: number; rows: number }>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly options: ServiceStatusOptions) {}

  /** Takes a sample now and then every `intervalMs`. */
  start(intervalMs: number): void {
    void this.sample();
    this.timer = setInterval(() => void this.sample(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async jobStatuses(): Promise<JobStatus[]> {
    return Promise.all(this.options.config.jobs.map((job) => jobStatus(this.options.layout, job)));
  }

  async document(): Promise<StatusDocument> {
    const { config, runner, scheduler, activity, flags } = this.options;
    const statuses = await this.jobStatuses();
    const jobs: JobView[] = await Promise.all(
      statuses.map(async (status, i) => {
        const job = config.jobs[i];
        const activity = runner.activity.get(job.name)!;
        return {
          ...status,
          ...activity,
          // A failure outside the run itself (a lock held by `eventlake run`) is only known here.
          lastError: activity.lastError ?? status.lastError,
          live: flags.live && job.live,
          schedule: scheduler.info(job),
          rows: await this.rows(job.output, status.tableVersion),
        };
      }),
    );
    const head = this.options.logHead();
    return {
      service: {
        startedAt: this.startedAt.toISOString(),
        uptimeSeconds: Math.round((Date.now() - this.startedAt.getTime()) / 1000),
        ready: this.options.ready(),
        viewsBuiltAt: runner.viewsBuiltAt,
        live: flags.live,
        liveIntervalMs: flags.liveIntervalMs,
        auth: flags.auth,
        changeSubscribers: flags.changeSubscribers(),
      },
      ingest: activity.counters,
      log: head && {
        commit: head.commit,
        committedAt: head.committedAt,
        streams: Object.fromEntries(Object.entries(head.streams).map(([name, s]) => [name, { sequence: s.sequence, lastTimestamp: s.lastTimestamp }])),
      },
      jobs,
      recentCommands: activity.recentCommands(),
      recentRejections: activity.recentRejections(),
    };
  }

  /** Oldest first. */
  history(): StatusSample[] {
    return [...this.samples];
  }

  async sample(): Promise<void> {
    try {
      const statuses = await this.jobStatuses();
      this.samples.push({ at: new Date().toISOString(), jobs: Object.fromEntries(statuses.map((s) => [s.job, { lagEvents: s.lagEvents, lagSeconds: s.lagSeconds }])) });
      if (this.samples.length > this.options.historySamples) this.samples.shift();
    } catch (error) {
      logger.warn({ err: error }, 'could not sample job status');
    }
  }

  private async rows(table: string, version: number): Promise<number | null> {
    if (version < 0) return 0;
    const cached = this.sizes.get(table);
    if (cached?.version === version) return cached.rows;
    try {
      const { rows } = await describeTable(this.options.layout.tableDir(table), { version });
      this.sizes.set(table, { version, rows });
      return rows;
    } catch (error) {
      logger.warn({ table, err: error }, 'could not count rows');
      return cached?.rows ?? null;
    }
  }
}
