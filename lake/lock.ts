import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { HeldLease, type LeaseTiming } from './lakeLease.js';
import { logger } from './logger.js';
import { joinLocation } from './storage/locations.js';
import { isGoneFromThisHost } from './goneProcess.js';

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
    detail = '',
  ) {
    super(
      `${holder.purpose} is locked by pid ${holder.pid} on ${holder.host} since ${holder.since} (${file})${detail}; ` +
        'wait for it to finish, or stop it',
    );
  }
}

export interface Lock {
  release(): Promise<void>;
  /**
   * Throws unless the lock is still ours, renewing its lake lease first when a renewal is due.
   * A local lock always holds; a lease can be lost (taken over after this process could not renew it).
   */
  ensureHeld(): Promise<void>;
  /** The same without renewing: after a write, to know it finished while the lock was ours. */
  assertHeld(): void;
}

/** Local lock folders whose locks also take a lease in a shared (remote) lake: locks dir -> the lake's `locks` location. */
const leaseHomes = new Map<string, string>();

/**
 * Makes every lock taken under `locksDir` also take an ADLS lease on `<lakeLocks>/<name>.lease`,
 * so that processes on other machines (with their own local state) are excluded too. LakeLayout
 * calls this for a remote lake; the lock's callers stay the same.
 */
export function shareLocksWithLake(locksDir: string, lakeLocks: string): void {
  leaseHomes.set(path.resolve(locksDir), lakeLocks);
}

/**
 * The lock named by `file`: a local lock file (excludes this machine's other processes and tells
 * who holds it), plus, for a remote lake, a lease in the lake (excludes other machines; renewed
 * in the background, see lakeLease.ts).
 */
export async function acquireLock(file: string, purpose: string, timing?: LeaseTiming): Promise<Lock> {
  const local = await acquireLocalLock(file, purpose);
  const home = leaseHomes.get(path.dirname(path.resolve(file)));
  if (!home) return local;
  const location = joinLocation(home, `${path.basename(file, '.lock')}.lease`);
  let taken: Awaited<ReturnType<typeof HeldLease.take>>;
  try {
    taken = await HeldLease.take(location, purpose, timing);
  } catch (error) {
    await local.release();
    throw error;
  }
  if (taken === null) return local;
  if (!(taken instanceof HeldLease)) {
    await local.release();
    const holder = taken.heldBy ?? { pid: 0, host: 'an unknown host', purpose, since: 'an unknown time' };
    throw new LockHeldError(location, holder, `, an ADLS lease it renews; if that process is gone, the lease runs out ${taken.seconds} s after its last renewal and the next start takes it over`);
  }
  const lease = taken;
  return {
    release: async () => {
      await lease.release().catch((error: Error) => logger.warn({ lease: location, err: error }, 'could not release a lake lease; it runs out by itself'));
      await local.release();
    },
    ensureHeld: () => lease.ensureHeld(),
    assertHeld: () => lease.assertHeld(),
  };
}

/**
 * Exclusive lock by creating a file that must not exist. A lock left by a crashed process on this
 * host (its pid is gone) is taken over: it is first renamed aside, which only one contender can do,
 * and the contender checks that what it moved is the stale lock it judged, not a fresh one.
 */
async function acquireLocalLock(file: string, purpose: string): Promise<Lock> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const me: LockHolder = { pid: process.pid, host: os.hostname(), purpose, since: new Date().toISOString() };
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await fs.writeFile(file, JSON.stringify(me), { flag: 'wx' });
      return { release: () => releaseLock(file, me), ensureHeld: async () => undefined, assertHeld: () => undefined };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = await readHolder(file);
    if (holder && !isGoneFromThisHost(holder)) throw new LockHeldError(file, holder);
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
