import type { LakeLayout } from '../lake/layout.js';
import { buildViews } from '../views/viewsDatabase.js';
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
    return await runJobsTogether(layout, jobs, options);
  } finally {
    // Even after a failed job, the views must show what the others committed.
    await buildViews(config, layout);
  }
}
