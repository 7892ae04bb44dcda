import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { removeIfPresent } from './durableFile.js';
import { dataFilePath, type Snapshot } from './snapshot.js';
import { loadSnapshot } from './snapshotReader.js';

/**
 * VACUUM: deleting data files that no version a reader may still be using refers to.
 *
 * Only data files are vacuumed. The log (old commits and checkpoints) is left alone: deleting it
 * safely needs a checkpoint at the cut-off and care for time travel, and on a local folder the
 * log is small next to the data.
 */

export interface VacuumOptions {
  /**
   * Files unreferenced for less than this long are kept, so readers of a recent version (and time
   * travel within the window) still find them. Delta's default is one week.
   */
  retentionMs: number;
  /** ms since the epoch; default now. */
  now?: number;
}

/**
 * Deletes the data files in the table folder that the latest snapshot does not reference, that
 * were not removed within the retention window, and that are older (mtime) than it. Returns the
 * deleted paths, relative to the table folder, sorted.
 */
export async function vacuum(table: string, options: VacuumOptions): Promise<string[]> {
  const tableDir = path.resolve(table);
  if (!Number.isFinite(options.retentionMs) || options.retentionMs < 0) {
    throw new Error(`vacuum of Delta table ${tableDir}: retentionMs must be a non-negative number of milliseconds`);
  }
  const snapshot = await loadSnapshot(tableDir);
  // Without a log every file would look unreferenced: never treat a non-table as an empty table.
  if (snapshot.version < 0) throw new Error(`refusing to vacuum ${tableDir}: it is not a Delta table (no _delta_log commits)`);
  const cutoff = (options.now ?? Date.now()) - options.retentionMs;
  const keep = filesToKeep(tableDir, snapshot, cutoff);
  const deleted: string[] = [];
  for (const file of await listDataFiles(tableDir)) {
    if (keep.has(file) || (await stat(file)).mtimeMs >= cutoff) continue;
    deleted.push(...(await deleteDataFile(tableDir, file)));
  }
  return deleted.sort();
}

// Live files, plus files removed after the cut-off: a reader that started on the version before
// the removal may still be reading them, however old the file itself is.
function filesToKeep(tableDir: string, snapshot: Snapshot, cutoff: number): Set<string> {
  const keep = new Set<string>();
  for (const add of snapshot.files.values()) keep.add(path.resolve(tableDir, dataFilePath(add.path)));
  for (const remove of snapshot.tombstones.values()) {
    if ((remove.deletionTimestamp ?? 0) >= cutoff) keep.add(path.resolve(tableDir, dataFilePath(remove.path)));
  }
  return keep;
}

// Names starting with `_` or `.` are hidden in a Delta table (`_delta_log`, `_change_data`, Spark's
// `.crc` side files): never data files in their own right.
async function listDataFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('_') || entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await listDataFiles(full)));
    else if (entry.isFile()) files.push(full);
  }
  return files;
}

// Hadoop's local file system (used by Spark) writes a `.name.crc` checksum beside each file and
// deletes it with the file; do the same so vacuumed Spark tables leave no orphans.
async function deleteDataFile(tableDir: string, file: string): Promise<string[]> {
  const crc = path.join(path.dirname(file), `.${path.basename(file)}.crc`);
  const deleted = [file];
  await removeIfPresent(file);
  if (await removeIfPresent(crc)) deleted.push(crc);
  return deleted.map((f) => path.relative(tableDir, f).split(path.sep).join('/'));
}
