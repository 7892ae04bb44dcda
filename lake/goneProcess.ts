import os from 'node:os';

/**
 * Whether the process that recorded itself as `{ pid, host }` (a lock's or lease's holder, a spill
 * folder's owner) is gone: only a process of this host can be seen, never this process itself, and
 * only "no such process" (ESRCH) says gone (EPERM: it runs, as another user).
 */
export function isGoneFromThisHost(owner: { pid: number; host: string }): boolean {
  if (owner.host !== os.hostname() || owner.pid === process.pid || !Number.isInteger(owner.pid)) return false;
  try {
    process.kill(owner.pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
