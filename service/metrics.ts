import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { JobStatus } from '../projections/jobStatus.js';

/**
 * The service's Prometheus metrics, on a registry of its own (not prom-client's global one) so
 * that two services in one process never share counters. Gauges about jobs are filled from the
 * latest job statuses each time /metrics is scraped.
 */
export class ServiceMetrics {
  readonly registry = new Registry();

  readonly commandsAccepted = new Counter({
    name: 'eventlake_commands_accepted_total',
    help: 'Commands accepted (their events are durable in the lake log)',
    registers: [this.registry],
  });
  readonly commandsRejected = new Counter({
    name: 'eventlake_commands_rejected_total',
    help: 'Commands rejected, by rejection code',
    labelNames: ['code'],
    registers: [this.registry],
  });
  readonly commandsDuplicate = new Counter({
    name: 'eventlake_commands_duplicate_total',
    help: 'Commands whose id was seen before (answered with the first outcome, nothing written)',
    registers: [this.registry],
  });
  readonly eventsAppended = new Counter({
    name: 'eventlake_events_appended_total',
    help: 'Events appended to the lake log by accepted commands',
    registers: [this.registry],
  });
  readonly ingestLatency = new Histogram({
    name: 'eventlake_ingest_duration_seconds',
    help: 'POST /commands from decision to durable (group commit included), per request',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly eventsApplied = new Counter({
    name: 'eventlake_projection_events_applied_total',
    help: 'Log records applied by projection jobs run by this service',
    labelNames: ['job'],
    registers: [this.registry],
  });
  readonly jobRuns = new Counter({
    name: 'eventlake_projection_runs_total',
    help: 'Projection job runs by this service, by trigger (live, schedule) and result (ok, error)',
    labelNames: ['job', 'trigger', 'result'],
    registers: [this.registry],
  });
  readonly viewsBuilds = new Counter({
    name: 'eventlake_views_builds_total',
    help: 'Rebuilds of the views database after read models changed',
    registers: [this.registry],
  });
  readonly lagEvents = new Gauge({
    name: 'eventlake_projection_lag_events',
    help: 'Log records not yet applied, per job',
    labelNames: ['job'],
    registers: [this.registry],
  });
  readonly lagSeconds = new Gauge({
    name: 'eventlake_projection_lag_seconds',
    help: 'Business time of the newest record minus that of the last applied one, per job',
    labelNames: ['job'],
    registers: [this.registry],
  });
  readonly tableVersion = new Gauge({
    name: 'eventlake_projection_table_version',
    help: 'Delta table version of the job\'s read model (-1: never run)',
    labelNames: ['job'],
    registers: [this.registry],
  });
  readonly deadLetters = new Gauge({
    name: 'eventlake_projection_dead_letters',
    help: 'Open dead letters per job (events the projection threw on, skipped by the skip policy)',
    labelNames: ['job'],
    registers: [this.registry],
  });
  readonly queries = new Counter({
    name: 'eventlake_queries_total',
    help: 'POST /query requests by result (ok, refused, invalid, timeout, busy, too_large, error)',
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly queriesRunning = new Gauge({
    name: 'eventlake_queries_running',
    help: 'Queries running in the query processes now',
    registers: [this.registry],
  });
  readonly queriesWaiting = new Gauge({
    name: 'eventlake_queries_waiting',
    help: 'Queries waiting for a free query process now',
    registers: [this.registry],
  });

  /** `rejectionCodes`: every code a command may get (built-in and the domains' own), listed from the start. */
  constructor(jobs: string[], rejectionCodes: readonly string[] = []) {
    collectDefaultMetrics({ register: this.registry, prefix: 'eventlake_' });
    // Series exist from the start at 0, so rate() and alerts work before the first event.
    this.commandsAccepted.inc(0);
    for (const code of rejectionCodes) this.commandsRejected.inc({ code }, 0);
    this.commandsDuplicate.inc(0);
    this.eventsAppended.inc(0);
    for (const job of jobs) {
      this.eventsApplied.inc({ job }, 0);
      this.deadLetters.set({ job }, 0);
    }
  }

  /** Copies the latest job statuses into the per-job gauges. */
  observeJobs(statuses: JobStatus[]): void {
    for (const status of statuses) {
      // Unknown lag (a job whose table cannot be read) is left out rather than shown as 0.
      if (status.lagEvents !== null) this.lagEvents.set({ job: status.job }, status.lagEvents);
      if (status.lagSeconds !== null) this.lagSeconds.set({ job: status.job }, status.lagSeconds);
      this.tableVersion.set({ job: status.job }, status.tableVersion);
      this.deadLetters.set({ job: status.job }, status.deadLetters);
    }
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
