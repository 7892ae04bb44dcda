import { joinLocation, locate, relativeLocation } from '../storage/locations.js';
import type { AddFile, RemoveFile } from './actions.js';
import { deletionVectorLocation } from './deletionVector.js';
import { dataFilePath, type Snapshot } from './snapshot.js';
import { loadSnapshot } from './snapshotReader.js';

/**
 * VACUUM: deleting data files (and deletion vector files) that no version a reader may still be
 * using refers to.
 *
 * Only data and DV files are vacuumed. The log (old commits and checkpoints) is left alone: deleting it
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
 * Deletes the data and DV files in the table folder that the latest snapshot does not reference,
 * that were not removed within the retention window, and that are older (mtime) than it (a DV
 * file written for a commit that never happened is one). Returns the
 * deleted paths, relative to the table folder, sorted.
 */
export async function vacuum(tableDir: string, options: VacuumOptions): Promise<string[]> {
  if (!Number.isFinite(options.retentionMs) || options.retentionMs < 0) {
    throw new Error(`vacuum of Delta table ${tableDir}: retentionMs must be a non-negative number of milliseconds`);
  }
  const snapshot = await loadSnapshot(tableDir);
  // Without a log every file would look unreferenced: never treat a non-table as an empty table.
  if (snapshot.version < 0) throw new Error(`refusing to vacuum ${tableDir}: it is not a Delta table (no _delta_log commits)`);
  const cutoff = (options.now ?? Date.now()) - options.retentionMs;
  const keep = filesToKeep(tableDir, snapshot, cutoff);
  const deleted: string[] = [];
  const files = await listDataFiles(tableDir);
  const names = new Set(files.map((f) => f.location));
  for (const file of files) {
    if (keep.has(file.location) || file.lastModified >= cutoff) continue;
    deleted.push(...(await deleteDataFile(tableDir, file.location, names)));
  }
  return deleted.sort();
}

// Live files, plus files removed after the cut-off: a reader that started on the version before
// the removal may still be reading them, however old the file itself is. The same for the DV
// files of both: a file whose DV changed is a tombstone with the old DV and live with the new one.
function filesToKeep(tableDir: string, snapshot: Snapshot, cutoff: number): Set<string> {
  const keep = new Set<string>();
  const keepFilesOf = (file: AddFile | RemoveFile) => {
    keep.add(joinLocation(tableDir, dataFilePath(file.path)));
    const dv = file.deletionVector && deletionVectorLocation(tableDir, file.deletionVector);
    if (dv) keep.add(dv);
  };
  for (const add of snapshot.files.values()) keepFilesOf(add);
  for (const remove of snapshot.tombstones.values()) {
    if ((remove.deletionTimestamp ?? 0) >= cutoff) keepFilesOf(remove);
  }
  return keep;
}

// Names starting with `_` or `.` are hidden in a Delta table (`_delta_log`, `_change_data`, Spark's
// `.crc` side files): never data files in their own right.
async function listDataFiles(dir: string): Promise<{ location: string; lastModified: number }[]> {
  const files: { location: string; lastModified: number }[] = [];
  const { storage, path } = locate(dir);
  for (const entry of await storage.list(path)) {
    if (entry.name.startsWith('_') || entry.name.startsWith('.')) continue;
    const location = joinLocation(dir, entry.name);
    if (entry.isDirectory) files.push(...(await listDataFiles(location)));
    else files.push({ location, lastModified: entry.lastModified });
  }
  return files;
}

// Hadoop's local file system (used by Spark) writes a `.name.crc` checksum beside each file and
// deletes it with the file; do the same so vacuumed Spark tables leave no orphans.
async function deleteDataFile(tableDir: string, file: string, existing: Set<string>): Promise<string[]> {
  const name = file.split('/').pop()!;
  const crc = joinLocation(file.slice(0, file.length - name.length), `.${name}.crc`);
  const deleted = [file];
  const remove = (location: string) => {
    const { storage, path } = locate(location);
    return storage.delete(path);
  };
  await remove(file);
  if (existing.has(crc) || (await locate(crc).storage.size(locate(crc).path)) !== null) {
    await remove(crc);
    deleted.push(crc);
  }
  return deleted.map((f) => relativeLocation(tableDir, f));
}
