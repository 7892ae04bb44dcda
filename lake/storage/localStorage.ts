import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { failpoint } from '../failpoints.js';
import { AlreadyExistsError, NotFoundError, type Appender, type LakeStorage, type StorageEntry } from './lakeStorage.js';

/** The embedded default: the lake is a local folder. Durability by fsync, atomicity by link/rename. */
export class LocalStorage implements LakeStorage {
  readonly location: string;

  constructor(root: string) {
    this.location = path.resolve(root);
  }

  private abs(relative: string): string {
    return path.join(this.location, ...relative.split('/'));
  }

  async read(file: string, range?: { offset: number; length: number; into?: Buffer }): Promise<Buffer> {
    try {
      if (!range) return await fs.readFile(this.abs(file));
      const handle = await fs.open(this.abs(file), 'r');
      try {
        const buffer = range.into && range.into.length >= range.length ? range.into : Buffer.allocUnsafe(range.length);
        const { bytesRead } = await handle.read(buffer, 0, range.length, range.offset);
        return buffer.subarray(0, bytesRead);
      } finally {
        await handle.close();
      }
    } catch (error) {
      throw notFound(error, file, this.location);
    }
  }

  async size(file: string): Promise<number | null> {
    return fs.stat(this.abs(file)).then((s) => s.size, () => null);
  }

  async list(dir: string): Promise<StorageEntry[]> {
    const folder = this.abs(dir);
    const names = await fs.readdir(folder).catch(() => [] as string[]);
    const entries = await Promise.all(
      names.map(async (name) => {
        const stat = await fs.stat(path.join(folder, name)).catch(() => null);
        return stat && { name, isDirectory: stat.isDirectory(), size: stat.size, lastModified: stat.mtimeMs };
      }),
    );
    return entries.filter((e): e is StorageEntry => e !== null).sort((a, b) => a.name.localeCompare(b.name));
  }

  async createIfAbsent(file: string, data: Buffer | string): Promise<void> {
    const target = this.abs(file);
    const temp = await this.writeTemp(target, data);
    try {
      failpoint('storage.beforeCreateLink');
      // link(2), unlike rename(2), refuses to replace an existing name: "create if absent" for a
      // file whose content is already complete and synced.
      await fs.link(temp, target);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new AlreadyExistsError(file, this.location);
      throw error;
    } finally {
      await fs.rm(temp, { force: true });
    }
    await syncDirectory(path.dirname(target));
  }

  async replace(file: string, data: Buffer | string): Promise<void> {
    const target = this.abs(file);
    const temp = await this.writeTemp(target, data);
    await fs.rename(temp, target);
    await syncDirectory(path.dirname(target));
  }

  async delete(file: string): Promise<void> {
    await fs.rm(this.abs(file), { force: true });
  }

  async openAppender(file: string): Promise<Appender> {
    const target = this.abs(file);
    await fs.mkdir(path.dirname(target), { recursive: true });
    const created = (await this.size(file)) === null;
    await fs.writeFile(target, '', { flag: 'a' });
    if (created) await syncDirectory(path.dirname(target)); // the name must survive a power cut too
    const handle = await fs.open(target, 'r+'); // not O_APPEND, which ignores positions
    const { size } = await handle.stat();
    return new LocalAppender(handle, size);
  }

  async truncate(file: string, length: number): Promise<void> {
    await fs.truncate(this.abs(file), length);
  }

  async localPath(file: string): Promise<string> {
    return this.abs(file);
  }

  async upload(localFile: string, file: string): Promise<void> {
    const target = this.abs(file);
    if (path.resolve(localFile) === target) return syncFile(target); // written in place by DuckDB
    await fs.mkdir(path.dirname(target), { recursive: true });
    const temp = path.join(path.dirname(target), `.${path.basename(target)}.${randomUUID()}.tmp`);
    await fs.copyFile(localFile, temp);
    await syncFile(temp);
    await fs.rename(temp, target);
    await syncDirectory(path.dirname(target));
  }

  private async writeTemp(target: string, data: Buffer | string): Promise<string> {
    await makeDirectoryDurable(path.dirname(target));
    const temp = path.join(path.dirname(target), `.${path.basename(target)}.${randomUUID()}.tmp`);
    const handle = await fs.open(temp, 'wx');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    return temp;
  }
}

class LocalAppender implements Appender {
  constructor(
    private readonly handle: fs.FileHandle,
    public length: number,
  ) {}

  /** write(2) may write less than asked (a filling disk does): finish, or fail with the reason. */
  async append(data: Buffer): Promise<void> {
    let written = 0;
    while (written < data.length) {
      const { bytesWritten } = await this.handle.write(data, written, data.length - written, this.length + written);
      if (bytesWritten === 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      written += bytesWritten;
    }
    await this.handle.datasync();
    this.length += data.length;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

function notFound(error: unknown, file: string, where: string): unknown {
  return (error as NodeJS.ErrnoException).code === 'ENOENT' ? new NotFoundError(file, where) : error;
}

/** mkdir -p, then fsync each new folder's parent: a new folder is an entry of its parent. */
async function makeDirectoryDurable(dir: string): Promise<void> {
  const firstCreated = await fs.mkdir(dir, { recursive: true });
  if (firstCreated === undefined) return;
  const stop = path.dirname(path.resolve(firstCreated));
  for (let created = path.resolve(dir); created !== stop && created !== path.dirname(created); created = path.dirname(created)) {
    await syncDirectory(path.dirname(created));
  }
}

async function syncFile(file: string): Promise<void> {
  const handle = await fs.open(file, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsync a directory so that a file created, renamed or removed in it survives a power cut. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
