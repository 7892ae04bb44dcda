import type { LakeLayout } from '../lake/layout.js';
import { loadSnapshot } from '../lake/delta/deltaTable.js';
import { buildViews } from '../views/viewsDatabase.js';
import { openOwnershipStore } from './hubOwnership.js';
import type { HubRunResult } from './hubRunner.js';
import { runJobsTogether, type Job, type JobRunResult, type RunOptions } from './jobRunner.js';
import type { EventlakeConfig } from './jobsConfig.js';

/** The named jobs (all when none are named); an unknown name is an error naming the known ones. */
export function selectJobs(config: EventlakeConfig, names: string[]): Job[] {
  if (names.length === 0) return config.jobs;
  return names.map((name) => {
    const job = config.jobs.find((j) => j.name === name);
    if (!job) throw new Error(`unknown job "${name}"; jobs: ${config.jobs.map((j) => j.name).join(', ')}`);
    return job;
  });
}

/** Runs jobs (sharing log reads where they can), then rebuilds the views database over the new snapshots. */
export async function runJobs(
  config: EventlakeConfig,
  layout: LakeLayout,
  jobs: Job[],
  options: RunOptions & { onJob?: (jobs: Job[]) => void } = {},
): Promise<JobRunResult[]> {
  try {
    options.onJob?.(jobs);
    // Jobs on Event Hubs read the hub (after catching up from the lake); a rebuild reads the lake.
    const fromHub = options.mode === 'rebuild' ? [] : jobs.filter((job) => job.source === 'eventhubs');
    const fromLake = jobs.filter((job) => !fromHub.includes(job));
    const results = new Map<Job, JobRunResult>();
    if (fromLake.length > 0) (await runJobsTogether(layout, fromLake, { memory: config.memory, ...options })).forEach((result, i) => results.set(fromLake[i], result));
    if (fromHub.length > 0) (await runFromHub(config, layout, fromHub)).forEach((result, i) => results.set(fromHub[i], result));
    return jobs.map((job) => results.get(job)!);
  } finally {
    // Even after a failed job, the views must show what the others committed.
    await buildViews(config, layout);
  }
}

/**
 * Hub-reading jobs to the hub's end as it is now, reported like lake runs. They share one reader
 * of the hub (see projections/hubReader.ts), so the hub is read once however many jobs there are.
 */
export async function runFromHub(config: EventlakeConfig, layout: LakeLayout, jobs: Job[]): Promise<JobRunResult[]>;
export async function runFromHub(config: EventlakeConfig, layout: LakeLayout, job: Job): Promise<JobRunResult>;
export async function runFromHub(config: EventlakeConfig, layout: LakeLayout, jobs: Job | Job[]): Promise<JobRunResult | JobRunResult[]> {
  const list = Array.isArray(jobs) ? jobs : [jobs];
  const ownership = await openOwnershipStore(config.eventHubs?.ownership);
  // Loaded only when a job reads the hub: the Event Hubs SDK costs ~0.3 s of start-up to every command.
  const { runHubJobsToEnd } = await import('./hubRunner.js');
  const results = await runHubJobsToEnd(layout, list, { eventHubs: config.eventHubs, ownership });
  const reported = await Promise.all(list.map((job, i) => asJobRun(layout, job, results[i])));
  return Array.isArray(jobs) ? reported : reported[0];
}

async function asJobRun(layout: LakeLayout, job: Job, result: HubRunResult): Promise<JobRunResult> {
  const snapshot = await loadSnapshot(layout.tableDir(job.output));
  return { job: job.name, mode: 'incremental', applied: result.applied, commits: result.commits, deadLetters: 0, tableVersion: snapshot.version, bytesWritten: 0, bytesRewritten: 0 };
}
