import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { DataLakeFileClient, DataLakeFileSystemClient, DataLakeServiceClient } from '@azure/storage-file-datalake';
import { AdlsAppender } from './adlsAppender.js';
import { AdlsFileCache } from './adlsFileCache.js';
import { AdlsLease } from './adlsLease.js';
import { redact } from '../redact.js';
import { AdlsError, adlsFailure, codeOf, isAlreadyExists, isPathNotFound, statusOf } from './adlsErrors.js';
import { AlreadyExistsError, NotFoundError, type Appender, type LakeStorage, type StorageEntry, type StorageLease } from './lakeStorage.js';

export interface AdlsStorageOptions {
  /** An authenticated service client (shared key, connection string or a token credential). */
  service: DataLakeServiceClient;
  /** The filesystem (container) holding the lake. */
  filesystem: string;
  /** Folder inside the filesystem that is the lake root; the filesystem's root when absent. */
  directory?: string;
  /** Where `localPath` keeps downloads; default `<tmpdir>/eventlake-cache/<account>/<filesystem>`. */
  cacheDir?: string;
  /** Secret values (keys, connection strings) to keep out of error messages. */
  secrets?: string[];
}

/**
 * The lake on ADLS Gen2 (a hierarchical-namespace account). What Azure guarantees and how each
 * LakeStorage promise rests on it:
 * - A file's appended bytes are invisible until a flush commits them, but Path - Create makes
 *   the (empty) file visible at once. So "readers see all or nothing" never writes the target
 *   name directly: the bytes go to a temp name beside it (create + append + flush), then a
 *   rename, which is atomic on HNS accounts. createIfAbsent renames with If-None-Match: * on
 *   the destination, which the service evaluates atomically with the rename (two writers: one
 *   wins, the other gets 409 PathAlreadyExists); replace renames over the target.
 * - A flush is durable when it returns (the service replicates the data before it answers).
 * - Every committed write gets a new ETag; the appender flushes with If-Match: <last ETag>, so a
 *   second writer makes the first one fail loudly instead of interleaving.
 * - There is no truncate: truncate rewrites the kept prefix with replace.
 */
export class AdlsStorage implements LakeStorage {
  readonly location: string;
  /** Where `localPath` keeps its downloads. */
  readonly cacheRoot: string;
  private readonly fs: DataLakeFileSystemClient;
  private readonly prefix: string;
  /** Private (#) so that logging the storage object cannot show them. */
  readonly #secrets: string[];
  private readonly cache: AdlsFileCache;

  constructor(options: AdlsStorageOptions) {
    this.fs = options.service.getFileSystemClient(options.filesystem);
    this.prefix = cleanPath(options.directory ?? '', 'directory');
    this.#secrets = options.secrets ?? [];
    this.location = describeLocation(options.service, options.filesystem, this.prefix);
    const account = options.service.accountName || 'account';
    this.cacheRoot = options.cacheDir ?? path.join(os.tmpdir(), 'eventlake-cache', account, options.filesystem, ...this.prefix.split('/').filter(Boolean));
    this.cache = new AdlsFileCache(this.cacheRoot);
  }

  /** Creates the filesystem when it does not exist (needs rights on the account, not just the filesystem). */
  async ensureFilesystem(): Promise<void> {
    try {
      await this.fs.createIfNotExists();
    } catch (error) {
      throw this.failure('create filesystem', '', error);
    }
  }

  /**
   * Both service endpoints answer with these credentials. The SDK sends reads, properties and
   * leases to the account's `blob` endpoint and writes (create, append, flush, rename, delete,
   * list) to its `dfs` endpoint, so a firewall rule or private endpoint for only one of them lets
   * some calls through and fails the rest, mid-run. One cheap call to each, at start, names the
   * endpoint that failed instead. A missing lake folder is fine (404 PathNotFound: dfs answered).
   */
  async checkEndpoints(): Promise<void> {
    const blobUrl = blobEndpointOf(this.fs.url);
    const checks = [
      { endpoint: `blob endpoint (${blobUrl})`, call: () => this.fs.getProperties() },
      { endpoint: `dfs endpoint (${this.fs.url})`, call: () => this.fs.listPaths({ path: this.prefix || undefined }).byPage({ maxPageSize: 1 }).next() },
    ];
    const failures = await Promise.all(checks.map(async ({ endpoint, call }) => {
      try {
        await call();
        return null;
      } catch (error) {
        if (isPathNotFound(error)) return null;
        return { endpoint, error };
      }
    }));
    const failed = failures.filter((f): f is { endpoint: string; error: unknown } => f !== null);
    if (failed.length === 0) return;
    const missingFilesystem = failed.find((f) => statusOf(f.error) === 404);
    if (missingFilesystem) throw this.failure('open', '', missingFilesystem.error);
    const details = failed.map(({ endpoint, error }) => `the ${endpoint} failed: ${endpointProblem(error)}`).join('; ');
    throw new AdlsError(
      redact(`${this.location}: ${details}. Reads and properties go to the blob endpoint, writes to the dfs endpoint: both must be reachable ` +
        'from this machine and accept its credentials (firewall rules and private endpoints for both "blob" and "dfs", DNS; see docs/azure.md)', this.#secrets),
      statusOf(failed[0].error),
      codeOf(failed[0].error),
    );
  }

  /** Removes a folder and everything below it (tests and operators; not part of LakeStorage). */
  async deleteDirectory(dir: string): Promise<void> {
    const full = this.full(dir);
    if (!full) throw new Error(`${this.location}: refusing to delete the whole filesystem`);
    try {
      await this.fs.getDirectoryClient(full).delete(true);
    } catch (error) {
      if (isPathNotFound(error)) return;
      throw this.failure('delete folder', dir, error);
    }
  }

  /** `range.into` is not used: the SDK's response comes in buffers of its own. */
  async read(file: string, range?: { offset: number; length: number; into?: Buffer }): Promise<Buffer> {
    const client = this.file(file);
    if (range && range.length <= 0) {
      if ((await this.size(file)) === null) throw new NotFoundError(file, this.location);
      return Buffer.alloc(0);
    }
    try {
      const response = range ? await client.read(range.offset, range.length) : await client.read();
      return await collect(response.readableStreamBody);
    } catch (error) {
      // 416 answers a range starting at or past the end of an existing file: nothing there.
      if (range && statusOf(error) === 416) return Buffer.alloc(0);
      if (isPathNotFound(error)) throw new NotFoundError(file, this.location);
      throw this.failure('read', file, error);
    }
  }

  async size(file: string): Promise<number | null> {
    try {
      return (await this.file(file).getProperties()).contentLength ?? 0;
    } catch (error) {
      if (isPathNotFound(error)) return null;
      throw this.failure('get properties of', file, error);
    }
  }

  async list(dir: string): Promise<StorageEntry[]> {
    const folder = this.full(dir);
    const entries: StorageEntry[] = [];
    try {
      for await (const item of this.fs.listPaths({ path: folder || undefined, recursive: false })) {
        const name = item.name ?? '';
        entries.push({
          name: folder ? name.slice(folder.length + 1) : name,
          isDirectory: item.isDirectory === true,
          size: item.contentLength ?? 0,
          lastModified: item.lastModified?.getTime() ?? 0,
        });
      }
    } catch (error) {
      if (isPathNotFound(error)) return [];
      throw this.failure('list', dir, error);
    }
    return entries.sort((a, b) => a.name.localeCompare(b.name));
  }

  async createIfAbsent(file: string, data: Buffer | string): Promise<void> {
    const temp = await this.writeTemp(file, data);
    try {
      await this.renameIntoPlace(temp, file, { ifNoneMatch: '*' });
    } catch (error) {
      if (isAlreadyExists(error)) throw new AlreadyExistsError(file, this.location);
      throw this.failure('create', file, error);
    }
  }

  async replace(file: string, data: Buffer | string): Promise<void> {
    const temp = await this.writeTemp(file, data);
    try {
      await this.renameIntoPlace(temp, file, {});
    } catch (error) {
      throw this.failure('replace', file, error);
    }
  }

  async delete(file: string): Promise<void> {
    try {
      await this.file(file).delete();
    } catch (error) {
      if (isPathNotFound(error)) return;
      throw this.failure('delete', file, error);
    }
  }

  async openAppender(file: string): Promise<Appender> {
    const client = this.file(file);
    for (let attempt = 0; ; attempt++) {
      try {
        const props = await client.getProperties();
        return new AdlsAppender(client, file, this.location, props.contentLength ?? 0, props.etag!, (op, error) => this.failure(op, file, error));
      } catch (error) {
        if (!isPathNotFound(error) || attempt > 0) throw this.failure('open for append', file, error);
      }
      try {
        const created = await client.create({ conditions: { ifNoneMatch: '*' } });
        return new AdlsAppender(client, file, this.location, 0, created.etag!, (op, error) => this.failure(op, file, error));
      } catch (error) {
        // Someone created it between our look and our create: read what is there now.
        if (!isAlreadyExists(error)) throw this.failure('create', file, error);
      }
    }
  }

  async truncate(file: string, length: number): Promise<void> {
    const size = await this.size(file);
    if (size === null) throw new NotFoundError(file, this.location);
    if (size === length) return;
    const kept = length === 0 ? Buffer.alloc(0) : await this.read(file, { offset: 0, length: Math.min(length, size) });
    // As ftruncate(2) does, a longer length pads with zero bytes.
    await this.replace(file, kept.length === length ? kept : Buffer.concat([kept, Buffer.alloc(length - kept.length)]));
  }

  async localPath(file: string): Promise<string> {
    const client = this.file(file);
    try {
      return await this.cache.localCopy(file, client);
    } catch (error) {
      if (isPathNotFound(error)) throw new NotFoundError(file, this.location);
      throw this.failure('download', file, error);
    }
  }

  async upload(localFile: string, file: string): Promise<void> {
    // uploadFile is create + appends + flush, so the name would show an empty file until the
    // flush; a checkpoint's name is predictable, so stream to a temp name and rename into place.
    const full = this.full(file);
    const slash = full.lastIndexOf('/');
    const temp = `${full.slice(0, slash + 1)}.${full.slice(slash + 1)}.${randomUUID()}.tmp`;
    try {
      await this.fs.getFileClient(temp).uploadFile(localFile);
      await this.renameIntoPlace(temp, file, {});
    } catch (error) {
      await this.deleteQuietly(temp);
      throw this.failure('upload', file, error);
    }
  }

  lease(file: string, id: string): StorageLease {
    return new AdlsLease(this.file(file), id, (op, error) => this.failure(op, file, error));
  }

  /**
   * A new file beside the target, whole and flushed, named so that it is recognisably temporary.
   * No If-None-Match on its create: the name is unique, so a condition guards nothing, and when
   * the create's answer is lost the SDK's retry would meet the file its first try made (409).
   * Every step of the upload (create, append at 0, flush to the length) repeats harmlessly.
   */
  private async writeTemp(file: string, data: Buffer | string): Promise<string> {
    const full = this.full(file);
    const slash = full.lastIndexOf('/');
    const temp = `${full.slice(0, slash + 1)}.${full.slice(slash + 1)}.${randomUUID()}.tmp`;
    try {
      await this.fs.getFileClient(temp).upload(typeof data === 'string' ? Buffer.from(data) : data);
    } catch (error) {
      await this.deleteQuietly(temp);
      throw this.failure('write', file, error);
    }
    return temp;
  }

  /**
   * Renames the temp file onto `file`. A rename that went through but whose answer was lost is
   * retried by the SDK, and the retry fails (the source is gone, or the destination now exists):
   * the temp name is unique, so its absence after a failure means our rename happened.
   */
  private async renameIntoPlace(temp: string, file: string, destinationConditions: { ifNoneMatch?: string }): Promise<void> {
    try {
      await this.fs.getFileClient(temp).move(this.moveDestination(file), { destinationConditions });
    } catch (error) {
      const tempLeft = await this.fs.getFileClient(temp).exists().catch(() => true);
      if (!tempLeft) return;
      await this.deleteQuietly(temp);
      throw error;
    }
  }

  private async deleteQuietly(fullPath: string): Promise<void> {
    await this.fs.getFileClient(fullPath).delete().catch(() => undefined);
  }

  /**
   * move() puts the destination into the URL path as given (unlike getFileClient, which escapes
   * each segment), so names with `%`, `#`, `?` or spaces must be escaped here.
   */
  private moveDestination(file: string): string {
    return this.full(file).split('/').map(encodeURIComponent).join('/');
  }

  private file(file: string): DataLakeFileClient {
    const full = this.full(file);
    if (!full) throw new Error(`${this.location}: a file path is required`);
    return this.fs.getFileClient(full);
  }

  private full(relative: string): string {
    const clean = cleanPath(relative, 'path');
    if (!this.prefix) return clean;
    return clean ? `${this.prefix}/${clean}` : this.prefix;
  }

  private failure(operation: string, file: string, error: unknown): Error {
    return adlsFailure(this.location, operation, file, error, this.#secrets);
  }
}

/** Lake paths are relative, "/"-separated and may not climb out of the root. */
function cleanPath(value: string, what: string): string {
  const trimmed = value.replace(/^\/+|\/+$/g, '');
  if (!trimmed) return '';
  const segments = trimmed.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) throw new Error(`invalid lake ${what} ${JSON.stringify(value)}`);
  return trimmed;
}

/** `abfss://fs@account.dfs.core.windows.net/dir`, or the URL itself for a path-style endpoint. */
function describeLocation(service: DataLakeServiceClient, filesystem: string, prefix: string): string {
  const url = new URL(service.url);
  const tail = prefix ? `/${prefix}` : '';
  if (/\.dfs\./.test(url.hostname) || /\.blob\./.test(url.hostname)) {
    return `abfss://${filesystem}@${url.hostname.replace('.blob.', '.dfs.')}${tail}`;
  }
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}/${filesystem}${tail}`;
}

/** The blob endpoint the SDK derives from a dfs URL (`account.dfs.core...` -> `account.blob.core...`; emulators: the same URL). */
function blobEndpointOf(dfsUrl: string): string {
  const url = new URL(dfsUrl);
  url.hostname = url.hostname.replace('.dfs.', '.blob.');
  return url.toString().replace(/\/$/, '');
}

/** Why an endpoint check failed, in words an operator can act on. */
function endpointProblem(error: unknown): string {
  const status = statusOf(error);
  const code = codeOf(error);
  const message = (error instanceof Error ? error.message : String(error)).split('\n')[0].trim();
  if (status === 403 && code === 'AuthenticationFailed') return `HTTP 403 AuthenticationFailed: the credentials were refused (a wrong account key, or an expired SAS)`;
  if (status === 403 && code === 'AuthorizationFailure') return `HTTP 403 AuthorizationFailure: the account's network rules block this machine, or the identity lacks a data role (${message})`;
  if (status) return `HTTP ${status}${code ? ` ${code}` : ''}: ${message}`;
  return `no answer (${message})`;
}

async function collect(stream: NodeJS.ReadableStream | undefined): Promise<Buffer> {
  if (!stream) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}
