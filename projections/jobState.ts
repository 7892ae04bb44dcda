import fs from 'node:fs/promises';
import path from 'node:path';
import type { LakeLayout } from '../lake/layout.js';
import { safeName } from '../lake/layout.js';

/** What `status` shows about a job's runs besides its table: when it last ran and how it ended. */
export interface JobRunState {
  lastRunAt: string | null;
  lastOutcome: 'ok' | 'failed' | null;
  lastError: string | null;
  lastErrorAt: string | null;
}

const EMPTY: JobRunState = { lastRunAt: null, lastOutcome: null, lastError: null, lastErrorAt: null };

function file(layout: LakeLayout, job: string): string {
  return path.join(layout.jobsDir, `${safeName(job, 'job')}.json`);
}

export async function readJobState(layout: LakeLayout, job: string): Promise<JobRunState> {
  try {
    return { ...EMPTY, ...(JSON.parse(await fs.readFile(file(layout, job), 'utf8')) as Partial<JobRunState>) };
  } catch {
    return { ...EMPTY };
  }
}

/** Written aside and renamed: a reader sees the old state or the new one, never half. */
export async function recordJobRun(layout: LakeLayout, job: string, error: Error | null): Promise<void> {
  const previous = await readJobState(layout, job);
  const now = new Date().toISOString();
  const next: JobRunState = error
    ? { lastRunAt: now, lastOutcome: 'failed', lastError: error.message, lastErrorAt: now }
    : { ...previous, lastRunAt: now, lastOutcome: 'ok' };
  const target = file(layout, job);
  await fs.mkdir(path.dirname(target), { recursive: true });
  const tmp = `${target}.${process.pid}.tmp`;
  await fs.writeFile(tmp, JSON.stringify(next));
  await fs.rename(tmp, target);
}
