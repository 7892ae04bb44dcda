import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { DataLakeFileClient } from '@azure/storage-file-datalake';
import { statusOf } from './adlsErrors.js';

/**
 * Local copies of lake files for readers that need a file path (DuckDB). A copy is stored under
 * its remote ETag, `<root>/<dir>/<name>@<etag>/<name>`, and is renamed into place only when
 * complete: a copy that exists is whole and belongs to exactly that version, so processes can
 * share the cache without a sidecar or a lock, and a changed remote file is simply a new name.
 * The download is conditional on the ETag it looked at (If-Match), so a file replaced meanwhile
 * is fetched again rather than cached under the wrong version.
 */
export class AdlsFileCache {
  constructor(readonly root: string) {}

  /** The local path of the current version of `file`, downloading it when not cached. Throws the SDK's 404 when absent. */
  async localCopy(file: string, client: DataLakeFileClient): Promise<string> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const props = await client.getProperties();
      const etag = props.etag ?? '';
      const target = this.pathFor(file, etag);
      const cached = await fs.stat(target).catch(() => null);
      if (cached?.isFile() && cached.size === (props.contentLength ?? 0)) return target;

      await fs.mkdir(path.dirname(target), { recursive: true });
      const temp = `${target}.${randomUUID()}.part`;
      try {
        await client.readToFile(temp, 0, undefined, { conditions: { ifMatch: etag } });
      } catch (error) {
        await fs.rm(temp, { force: true });
        if (statusOf(error) === 412) continue; // replaced between the look and the download
        throw error;
      }
      await fs.rename(temp, target);
      await this.pruneOlderVersions(file, target);
      return target;
    }
    throw new Error(`${file} kept changing while it was being downloaded`);
  }

  private pathFor(file: string, etag: string): string {
    const segments = file.split('/');
    const name = segments.pop()!;
    const version = etag.replace(/"/g, '').replace(/[^A-Za-z0-9._-]/g, '_') || 'none';
    return path.join(this.root, ...segments, `${name}@${version}`, name);
  }

  /** Older versions of the same file are dead weight once a newer one is cached (best effort). */
  private async pruneOlderVersions(file: string, keep: string): Promise<void> {
    const segments = file.split('/');
    const name = segments.pop()!;
    const folder = path.join(this.root, ...segments);
    const kept = path.basename(path.dirname(keep));
    const names = await fs.readdir(folder).catch(() => [] as string[]);
    await Promise.all(
      names
        .filter((n) => n.startsWith(`${name}@`) && !n.slice(name.length + 1).includes('@') && n !== kept)
        .map((n) => fs.rm(path.join(folder, n), { recursive: true, force: true }).catch(() => undefined)),
    );
  }
}
