import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isGoneFromThisHost } from './goneProcess.js';

/**
 * What eventlake leaves in the temp folder while it works: a DuckDB instance's spill folder, a batch's
 * rows staged as NDJSON for DuckDB to read, a data file or a Delta checkpoint written before its
 * upload. Each is removed when its work ends, but not when the process is killed (a killed
 * 30M-event rebuild left 4.2 GB of spill folders). So every such name says which process on which
 * host made it, `eventlake-<kind>-<pid>@<host>-<uuid>[.<rest>]`, and the first temp path a process asks for
 * removes the entries of this host's processes that are gone. The host keeps a temp folder shared
 * between machines or containers (other process ids) from losing a running process's files.
 */
export type TempKind = 'duckdb' | 'rows' | 'upload' | 'checkpoint';

/** A new temp path of this process; `rest` ends the name (e.g. `ndjson`, a data file's name). */
export function processTempPath(kind: TempKind, rest?: string): string {
  sweepOnce(os.tmpdir());
  const name = `eventlake-${kind}-${process.pid}@${os.hostname()}-${randomUUID()}${rest ? `.${rest}` : ''}`;
  return path.join(os.tmpdir(), name);
}

const swept = new Set<string>();

function sweepOnce(tmp: string): void {
  if (swept.has(tmp)) return;
  swept.add(tmp);
  removeOrphanedTempPaths(tmp);
}

/** Removes the temp files and folders in `tmp` of processes of this host that no longer run; returns their names. */
export function removeOrphanedTempPaths(tmp: string): string[] {
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

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
// The host is matched lazily: the first "-<uuid>" after it ends it (a data file's name holds another uuid).
const OWNED = new RegExp(`^eventlake-(?:duckdb|rows|upload|checkpoint)-(\\d+)@(.+?)-${UUID}(?:\\..*)?$`);

function ownerOf(name: string): { pid: number; host: string } | null {
  const match = OWNED.exec(name);
  return match ? { pid: Number(match[1]), host: match[2] } : null;
}
