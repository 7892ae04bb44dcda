import { randomUUID } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';

/**
 * Writing files so that a crash leaves either the old or the new content, never a torn file:
 * write a temporary name, fsync it, move it into place, fsync the folder.
 */

/** A temporary name beside `target`. The leading dot keeps Delta readers' listings from seeing it. */
export function tempPathFor(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${randomUUID()}.tmp`);
}

/** Creates `file` (failing if it exists), writes `data` and fsyncs it. */
export async function writeNewFileSynced(file: string, data: string): Promise<void> {
  const handle = await open(file, 'wx');
  try {
    await handle.writeFile(data, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Flushes a file someone else wrote (e.g. DuckDB's COPY) to disk. */
export async function fsyncFile(file: string): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Makes a folder's entries (new names, renames, unlinks) durable. Without this a crash right
 * after a commit can lose the commit's name even though its bytes were synced.
 */
export async function fsyncDir(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
  } catch (error) {
    // Windows cannot open a directory for fsync; its file system journals metadata itself.
    if (process.platform === 'win32') return;
    throw error;
  }
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Replaces `target` atomically and durably with `data` (last writer wins). */
export async function replaceFileDurably(target: string, data: string): Promise<void> {
  const temp = tempPathFor(target);
  try {
    await writeNewFileSynced(temp, data);
    await rename(temp, target);
  } catch (error) {
    await removeIfPresent(temp);
    throw error;
  }
  await fsyncDir(path.dirname(target));
}

/** Deletes a file; a file already gone is fine. */
export async function removeIfPresent(file: string): Promise<boolean> {
  try {
    await unlink(file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
