import { Cron } from 'croner';
import { logger } from '../lake/logger.js';
import type { Job } from '../projections/jobRunner.js';
import type { LiveProjections } from './liveProjections.js';

/** A job's schedule as /status shows it. */
export interface ScheduleInfo {
  schedule: string;
  mode: Job['scheduleMode'];
  nextRun: string | null;
}

/**
 * The built-in scheduler: each job with a cron `schedule` (evaluated in UTC, like every
 * timestamp in eventlake) asks the runner loop for a run in its `scheduleMode`. The loop runs it
 * once that job's live worker has stopped (and holds it meanwhile), so a scheduled rebuild never
 * overlaps a live run of the same job; a tick
 * that comes while the previous run of that job still waits joins it instead of queueing another.
 */
export class Scheduler {
  private readonly crons = new Map<string, Cron>();

  constructor(jobs: Job[], runner: LiveProjections) {
    for (const job of jobs) {
      if (!job.schedule) continue;
      let cron: Cron;
      try {
        cron = new Cron(job.schedule, { timezone: 'UTC', paused: true }, () => {
          runner.request(job, job.scheduleMode).catch((error: Error) => logger.error({ job: job.name, err: error }, 'scheduled run failed'));
        });
      } catch (error) {
        this.stop();
        throw new Error(`job ${job.name}: schedule ${JSON.stringify(job.schedule)} is not a valid cron expression: ${(error as Error).message}`);
      }
      this.crons.set(job.name, cron);
    }
  }

  start(): void {
    for (const cron of this.crons.values()) cron.resume();
  }

  stop(): void {
    for (const cron of this.crons.values()) cron.stop();
  }

  info(job: Job): ScheduleInfo | null {
    const cron = this.crons.get(job.name);
    if (!cron || !job.schedule) return null;
    return { schedule: job.schedule, mode: job.scheduleMode, nextRun: cron.nextRun()?.toISOString() ?? null };
  }
}
