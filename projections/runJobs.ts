import type { LakeLayout } from '../lake/layout.js';
import { loadSnapshot } from '../lake/delta/deltaTable.js';
import { buildViews } from '../views/viewsDatabase.js';
import { openOwnershipStore } from './hubOwnership.js';
import { runHubJobToEnd } from './hubRunner.js';
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
    if (fromLake.length > 0) (await runJobsTogether(layout, fromLake, options)).forEach((result, i) => results.set(fromLake[i], result));
    for (const job of fromHub) results.set(job, await runFromHub(config, layout, job));
    return jobs.map((job) => results.get(job)!);
  } finally {
    // Even after a failed job, the views must show what the others committed.
    await buildViews(config, layout);
  }
}

/** One hub-reading job to the hub's end as it is now, reported like a lake run. */
export async function runFromHub(config: EventlakeConfig, layout: LakeLayout, job: Job): Promise<JobRunResult> {
  const ownership = await openOwnershipStore(config.eventHubs?.ownership);
  const result = await runHubJobToEnd(layout, job, { eventHubs: config.eventHubs, ownership });
  const snapshot = await loadSnapshot(layout.tableDir(job.output));
  return { job: job.name, mode: 'incremental', applied: result.applied, commits: result.commits, deadLetters: 0, tableVersion: snapshot.version, bytesWritten: 0, bytesRewritten: 0 };
}
