import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { logger } from './logger.js';

/** Who holds a lock; written into the lock file so a refusal can name the holder. */
export interface LockHolder {
  pid: number;
  host: string;
  purpose: string;
  since: string;
}

export class LockHeldError extends Error {
  constructor(
    readonly file: string,
    readonly holder: LockHolder,
  ) {
    super(
      `${holder.purpose} is locked by pid ${holder.pid} on ${holder.host} since ${holder.since} (${file}); ` +
        'wait for it to finish, or stop it',
    );
  }
}

export interface Lock {
  release(): Promise<void>;
}

/**
 * Exclusive lock by creating a file that must not exist. A lock left by a crashed process on this
 * host (its pid is gone) is taken over: it is first renamed aside, which only one contender can do,
 * and the contender checks that what it moved is the stale lock it judged, not a fresh one.
 */
export async function acquireLock(file: string, purpose: string): Promise<Lock> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const me: LockHolder = { pid: process.pid, host: os.hostname(), purpose, since: new Date().toISOString() };
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await fs.writeFile(file, JSON.stringify(me), { flag: 'wx' });
      return { release: () => releaseLock(file, me) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = await readHolder(file);
    if (holder && !isStale(holder)) throw new LockHeldError(file, holder);
    await moveStaleLockAside(file, holder);
  }
  throw new Error(`could not acquire lock ${file}: too much contention`);
}

async function readHolder(file: string): Promise<LockHolder | null> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as LockHolder;
  } catch {
    return null; // vanished or half-written: treat as stale only after the rename check below
  }
}

function isStale(holder: LockHolder): boolean {
  if (holder.host !== os.hostname()) return false; // cannot see other hosts' processes
  if (holder.pid === process.pid) return false;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

async function moveStaleLockAside(file: string, judged: LockHolder | null): Promise<void> {
  const aside = `${file}.stale-${randomUUID()}`;
  try {
    await fs.rename(file, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // someone else moved it
    throw error;
  }
  const moved = await readHolder(aside);
  if (judged && moved && (moved.pid !== judged.pid || moved.since !== judged.since)) {
    // We moved a fresh lock taken between our read and our rename: put it back.
    await fs.link(aside, file).catch(() => undefined);
  } else {
    logger.warn({ lock: file, stale: moved }, 'took over a stale lock left by a process that is gone');
  }
  await fs.rm(aside, { force: true });
}

async function releaseLock(file: string, me: LockHolder): Promise<void> {
  const holder = await readHolder(file);
  if (holder && holder.pid === me.pid && holder.since === me.since) await fs.rm(file, { force: true });
}
