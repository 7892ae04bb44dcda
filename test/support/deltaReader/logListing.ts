import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * What `_delta_log/` holds (PROTOCOL.md, "Delta Log Entries", "Checkpoints", "Last Checkpoint
 * File"): JSON commits named by their zero-padded version, classic checkpoints
 * (`n.checkpoint.parquet`) and multi-part ones (`n.checkpoint.o.p.parquet`). Multi-part
 * checkpoints with a missing part are left out, as readers must ignore them. UUID-named (v2)
 * checkpoints belong to the v2Checkpoint feature, which this reader refuses, so they are not listed.
 */
export interface LogListing {
  logDir: string;
  /** version -> path of its JSON commit */
  commits: Map<number, string>;
  /** complete checkpoints, ascending by version; `files` are a multi-part checkpoint's parts in order */
  checkpoints: { version: number; files: string[] }[];
  /** `_last_checkpoint`, when present and naming a complete checkpoint of the listing */
  lastCheckpoint: { version: number; parts: number | null } | null;
}

const COMMIT = /^(\d{20})\.json$/;
const CLASSIC_CHECKPOINT = /^(\d{20})\.checkpoint\.parquet$/;
const PART_CHECKPOINT = /^(\d{20})\.checkpoint\.(\d{10})\.(\d{10})\.parquet$/;

export async function listLog(tableDir: string): Promise<LogListing> {
  const logDir = path.join(tableDir, '_delta_log');
  const names = await readdir(logDir).catch((error: NodeJS.ErrnoException) => {
    throw new Error(`${tableDir} is not a Delta table (no readable _delta_log: ${error.code ?? error.message})`);
  });
  const commits = new Map<number, string>();
  const classic = new Map<number, string>();
  const parts = new Map<string, Map<number, string>>(); // "version/total" -> part number -> file
  for (const name of names) {
    let match: RegExpMatchArray | null;
    if ((match = name.match(COMMIT))) commits.set(Number(match[1]), path.join(logDir, name));
    else if ((match = name.match(CLASSIC_CHECKPOINT))) classic.set(Number(match[1]), path.join(logDir, name));
    else if ((match = name.match(PART_CHECKPOINT))) {
      const key = `${Number(match[1])}/${Number(match[3])}`;
      if (!parts.has(key)) parts.set(key, new Map());
      parts.get(key)!.set(Number(match[2]), path.join(logDir, name));
    }
  }
  const checkpoints = new Map<number, string[]>();
  for (const [key, found] of parts) {
    const [version, total] = key.split('/').map(Number);
    const complete = Array.from({ length: total }, (_, i) => found.get(i + 1));
    if (total > 1 && complete.every((f) => f !== undefined)) checkpoints.set(version, complete as string[]);
  }
  // Either kind may stand for a version; a classic checkpoint is one file, so it is preferred.
  for (const [version, file] of classic) checkpoints.set(version, [file]);
  const sorted = [...checkpoints].sort(([a], [b]) => a - b).map(([version, files]) => ({ version, files }));
  return { logDir, commits, checkpoints: sorted, lastCheckpoint: await readLastCheckpoint(logDir, sorted) };
}

/**
 * `_last_checkpoint` is a hint for stores where listing is dear. Here the folder is listed
 * anyway, so the hint is only believed when it names a complete checkpoint in that listing
 * (a crash may leave it pointing at parts that never all landed).
 */
async function readLastCheckpoint(logDir: string, checkpoints: { version: number; files: string[] }[]): Promise<LogListing['lastCheckpoint']> {
  let text: string;
  try {
    text = await readFile(path.join(logDir, '_last_checkpoint'), 'utf8');
  } catch {
    return null;
  }
  const hint = JSON.parse(text) as { version?: number; parts?: number };
  if (typeof hint.version !== 'number') throw new Error(`${logDir}/_last_checkpoint has no version: ${text.slice(0, 200)}`);
  const listed = checkpoints.find((c) => c.version === hint.version);
  const parts = hint.parts ?? null;
  if (!listed || (parts !== null && parts > 1 && listed.files.length !== parts)) return null;
  return { version: hint.version, parts };
}

/** The newest complete checkpoint at or before `version`, if any. */
export function checkpointFor(listing: LogListing, version: number): { version: number; files: string[] } | undefined {
  return listing.checkpoints.filter((c) => c.version <= version).at(-1);
}

/** The newest version the log has: its last commit (a checkpoint is never newer than its commit). */
export function latestVersion(listing: LogListing): number {
  const versions = [...listing.commits.keys(), ...listing.checkpoints.map((c) => c.version)];
  if (versions.length === 0) throw new Error(`${listing.logDir} holds no commit`);
  return Math.max(...versions);
}
