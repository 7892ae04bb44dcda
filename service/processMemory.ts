import fs from 'node:fs/promises';

/**
 * The resident memory (bytes) of a process, from Linux's /proc; null where there is no /proc
 * (macOS, Windows) or the process is gone. Read without spawning anything, so it can be sampled
 * a few times a second.
 */
export async function residentBytes(pid: number): Promise<number | null> {
  try {
    const status = await fs.readFile(`/proc/${pid}/status`, 'utf8');
    const kib = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    return kib ? Number(kib[1]) * 1024 : null;
  } catch {
    return null;
  }
}
