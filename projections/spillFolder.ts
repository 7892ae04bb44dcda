import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isGoneFromThisHost } from '../lake/goneProcess.js';

const PREFIX = 'eventlake-duckdb-';

/**
 * A new folder name for one DuckDB instance to spill to, in the temp folder. DuckDB removes the
 * folder when the instance is closed, but a process killed mid-rebuild leaves it with its files
 * (4.2 GB in five folders after a killed 30M-event rebuild). So the name says which process on
 * which host made it (`eventlake-duckdb-<pid>@<host>-<uuid>`), and the first call in a process
 * removes the folders of this host's processes that are gone. The host keeps a temp folder shared
 * between machines or containers (other process ids) from losing a live process's files.
 */
export function newSpillFolder(): string {
  sweepOnce(os.tmpdir());
  return path.join(os.tmpdir(), `${PREFIX}${process.pid}@${os.hostname()}-${randomUUID()}`);
}

const swept = new Set<string>();

function sweepOnce(tmp: string): void {
  if (swept.has(tmp)) return;
  swept.add(tmp);
  removeOrphanedSpillFolders(tmp);
}

/** Removes the spill folders in `tmp` of processes of this host that no longer run; returns their names. */
export function removeOrphanedSpillFolders(tmp: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(tmp);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const owner = ownerOf(name);
    if (!owner || !isGoneFromThisHost(owner)) continue;
    fs.rmSync(path.join(tmp, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

function ownerOf(name: string): { pid: number; host: string } | null {
  if (!name.startsWith(PREFIX)) return null;
  const match = /^(\d+)@(.+)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.exec(name.slice(PREFIX.length));
  return match ? { pid: Number(match[1]), host: match[2] } : null;
}
