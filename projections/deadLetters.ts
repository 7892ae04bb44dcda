import fs from 'node:fs/promises';
import path from 'node:path';
import type { LakeLayout } from '../lake/layout.js';
import { safeName } from '../lake/layout.js';

/** An event a projection could not apply, with why. */
export interface DeadLetter {
  job: string;
  stream: string;
  sequence: number;
  eventId: string | null;
  eventType: string | null;
  error: string;
  at: string;
  /** What the job did: skipped the event, or stopped before it. */
  action: 'skipped' | 'halted';
}

/** A later record that closes a job's dead letters (after a successful replay). */
interface Resolution {
  job: string;
  resolvedAt: string;
  resolved: true;
}

function file(layout: LakeLayout, job: string): string {
  return path.join(layout.deadLettersDir, `${safeName(job, 'job')}.ndjson`);
}

/**
 * Appends durably before the job commits past the event, so a skipped event is never lost
 * from sight. A crash before the commit replays the batch and records it again; listing
 * keeps one entry per (stream, sequence).
 */
export async function recordDeadLetter(layout: LakeLayout, letter: DeadLetter): Promise<void> {
  await fs.mkdir(layout.deadLettersDir, { recursive: true });
  const handle = await fs.open(file(layout, letter.job), 'a');
  try {
    await handle.write(`${JSON.stringify(letter)}\n`);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

/** Open dead letters of one job or all jobs (those after the job's last resolution). */
export async function listDeadLetters(layout: LakeLayout, job?: string): Promise<DeadLetter[]> {
  const names = job ? [`${safeName(job, 'job')}.ndjson`] : await fs.readdir(layout.deadLettersDir).catch(() => [] as string[]);
  const letters: DeadLetter[] = [];
  for (const name of names.filter((n) => n.endsWith('.ndjson')).sort()) {
    const text = await fs.readFile(path.join(layout.deadLettersDir, name), 'utf8').catch(() => '');
    const open = new Map<string, DeadLetter>();
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      let record: DeadLetter | Resolution;
      try {
        record = JSON.parse(line) as DeadLetter | Resolution;
      } catch {
        continue; // a torn last line from a crash mid-append
      }
      if ('resolved' in record) open.clear();
      else open.set(`${record.stream}:${record.sequence}`, record);
    }
    letters.push(...open.values());
  }
  return letters;
}

export async function resolveDeadLetters(layout: LakeLayout, job: string): Promise<void> {
  await fs.mkdir(layout.deadLettersDir, { recursive: true });
  await fs.appendFile(file(layout, job), `${JSON.stringify({ job, resolvedAt: new Date().toISOString(), resolved: true } satisfies Resolution)}\n`);
}
