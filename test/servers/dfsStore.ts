/**
 * The ADLS Gen2 test server's state: filesystems holding a hierarchical namespace of files
 * and directories in memory, with the semantics of the DFS REST API that the product relies
 * on (create with conditions, append then flush at positions, atomic rename, recursive
 * delete, ETags that change on every committed write, leases that guard writes). HTTP lives
 * in dfsServer.ts, lease rules in dfsLeases.ts.
 */
import { checkWriteLease, newLease, type LeaseRecord } from './dfsLeases.js';

/** An error as the service reports it; `blob` is how the Blob endpoint words the same error. */
export class StorageError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly blob: { code: string; message: string } = { code, message },
  ) {
    super(message);
  }
}

const errors = {
  filesystemNotFound: () => new StorageError(404, 'FilesystemNotFound', 'The specified filesystem does not exist.',
    { code: 'ContainerNotFound', message: 'The specified container does not exist.' }),
  filesystemExists: () => new StorageError(409, 'FilesystemAlreadyExists', 'The specified filesystem already exists.',
    { code: 'ContainerAlreadyExists', message: 'The specified container already exists.' }),
  pathNotFound: () => new StorageError(404, 'PathNotFound', 'The specified path does not exist.',
    { code: 'BlobNotFound', message: 'The specified blob does not exist.' }),
  pathExists: () => new StorageError(409, 'PathAlreadyExists', 'The specified path already exists.',
    { code: 'BlobAlreadyExists', message: 'The specified blob already exists.' }),
  conditionNotMet: () => new StorageError(412, 'ConditionNotMet', 'The condition specified using HTTP conditional header(s) is not met.'),
  flushPosition: () => new StorageError(400, 'InvalidFlushPosition',
    'The uploaded data is not contiguous or the position query parameter value is not equal to the length of the file after appending the uploaded data.'),
};

export type PathKind = 'file' | 'directory';

export interface PathEntry {
  kind: PathKind;
  /** Committed (flushed) content. */
  data: Buffer;
  /** Appended but not yet flushed, by position. */
  uncommitted: Map<number, Buffer>;
  etag: string;
  lastModified: Date;
  created: Date;
  contentType?: string;
  metadata: Record<string, string>;
  lease: LeaseRecord;
}

/** What a create or upload sets besides the content. */
export type PathProps = { contentType?: string; metadata?: Record<string, string> };

export interface FileSystem {
  etag: string;
  lastModified: Date;
  paths: Map<string, PathEntry>;
}

/** HTTP conditional headers, as the SDKs send them (If-Match, If-None-Match, ...). */
export interface Conditions {
  ifMatch?: string;
  ifNoneMatch?: string;
  ifModifiedSince?: Date;
  ifUnmodifiedSince?: Date;
  /** x-ms-lease-id (or x-ms-source-lease-id): required by a path under an active lease. */
  leaseId?: string;
}

export class DfsStore {
  readonly filesystems = new Map<string, FileSystem>();
  private version = 0;
  /** Added to the real clock: lets a test move the service's time on (leases expire by it). */
  clockOffsetMs = 0;

  /** The service's time, in ms. */
  now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  /** ETags in Azure's shape: a quoted, increasing hex number. */
  private nextEtag(): string {
    this.version += 1;
    return `"0x8DD${(0x1000000000 + this.version).toString(16).toUpperCase()}"`;
  }

  createFileSystem(name: string): FileSystem {
    if (this.filesystems.has(name)) throw errors.filesystemExists();
    const fs: FileSystem = { etag: this.nextEtag(), lastModified: new Date(), paths: new Map() };
    this.filesystems.set(name, fs);
    return fs;
  }

  fileSystem(name: string): FileSystem {
    const fs = this.filesystems.get(name);
    if (!fs) throw errors.filesystemNotFound();
    return fs;
  }

  deleteFileSystem(name: string, conditions: Conditions): void {
    check(this.fileSystem(name), conditions);
    this.filesystems.delete(name);
  }

  path(fsName: string, path: string): PathEntry {
    const entry = this.fileSystem(fsName).paths.get(normalize(path));
    if (!entry) throw errors.pathNotFound();
    return entry;
  }

  /** Path - Create: a file (empty) or a directory; parents are created as directories. */
  create(fsName: string, path: string, kind: PathKind, conditions: Conditions, props: PathProps = {}): PathEntry {
    const fs = this.fileSystem(fsName);
    const key = normalize(path);
    const existing = fs.paths.get(key);
    if (existing && conditions.ifNoneMatch === '*') throw errors.pathExists();
    check(existing, conditions);
    if (existing) checkWriteLease(existing.lease, conditions.leaseId, this.now());
    if (existing?.kind === 'directory' && kind === 'directory') return this.touch(existing);
    if (existing && existing.kind !== kind) {
      throw new StorageError(409, 'PathConflict', 'The specified path, or an element of the path, exists and its resource type is invalid for this operation.');
    }
    this.ensureParents(fs, key);
    const now = new Date();
    const entry: PathEntry = {
      kind, data: Buffer.alloc(0), uncommitted: new Map(), etag: this.nextEtag(),
      lastModified: now, created: existing?.created ?? now, contentType: props.contentType,
      // Through the Blob API a directory is an empty blob marked hdi_isfolder.
      metadata: { ...props.metadata, ...(kind === 'directory' ? { hdi_isfolder: 'true' } : {}) },
      // Overwriting a leased path (with its lease id) keeps the lease, as Put Blob does.
      lease: existing?.lease ?? newLease(),
    };
    fs.paths.set(key, entry);
    return entry;
  }

  /** Put Blob (BlockBlob): creates or replaces a file with committed content in one step. */
  putBlob(fsName: string, path: string, data: Buffer, conditions: Conditions, props: PathProps): PathEntry {
    const entry = this.create(fsName, path, 'file', conditions, props);
    entry.data = data;
    return entry;
  }

  /**
   * Path - Update (append): stages bytes at a position. Uploads may arrive in any order
   * (the SDKs append chunks in parallel); only flush checks they are contiguous. Appending
   * below the committed length can never flush, and is refused at once.
   */
  append(fsName: string, path: string, position: number, data: Buffer, leaseId?: string): void {
    const entry = this.file(fsName, path);
    checkWriteLease(entry.lease, leaseId, this.now());
    if (position < entry.data.length) throw errors.flushPosition();
    entry.uncommitted.set(position, data);
  }

  /**
   * Path - Update (flush): commits the staged bytes that continue the file contiguously up
   * to exactly `position`; any other position is InvalidFlushPosition. Changes the ETag.
   */
  flush(fsName: string, path: string, position: number, conditions: Conditions, retainUncommitted = false): PathEntry {
    const entry = this.file(fsName, path);
    check(entry, conditions);
    checkWriteLease(entry.lease, conditions.leaseId, this.now());
    const parts: Buffer[] = [entry.data];
    let end = entry.data.length;
    while (end < position) {
      const chunk = entry.uncommitted.get(end);
      if (!chunk || chunk.length === 0) throw errors.flushPosition();
      parts.push(chunk);
      end += chunk.length;
    }
    if (end !== position) throw errors.flushPosition();
    for (const at of [...entry.uncommitted.keys()]) {
      if (at < position || !retainUncommitted) entry.uncommitted.delete(at);
    }
    entry.data = Buffer.concat(parts);
    return this.touch(entry);
  }

  /** Path - Create with x-ms-rename-source: moves a file or a whole directory atomically. */
  rename(source: { fs: string; path: string }, target: { fs: string; path: string }, conditions: Conditions, sourceConditions: Conditions): PathEntry {
    const fromFs = this.fileSystem(source.fs);
    const toFs = this.fileSystem(target.fs);
    const from = normalize(source.path);
    const to = normalize(target.path);
    const moving = fromFs.paths.get(from);
    if (!moving) throw new StorageError(404, 'SourcePathNotFound', 'The source path for a rename operation does not exist.');
    check(moving, sourceConditions);
    checkWriteLease(moving.lease, sourceConditions.leaseId, this.now());
    const existing = toFs.paths.get(to);
    if (existing && conditions.ifNoneMatch === '*') throw errors.pathExists();
    check(existing, conditions);
    if (existing) checkWriteLease(existing.lease, conditions.leaseId, this.now());
    const parent = parentOf(to);
    if (parent && toFs.paths.get(parent)?.kind !== 'directory') {
      throw new StorageError(404, 'RenameDestinationParentPathNotFound', 'The parent directory of the destination path does not exist.');
    }
    if (fromFs === toFs && (to === from || to.startsWith(`${from}/`))) {
      throw new StorageError(409, 'InvalidRenameSourcePath',
        'The source directory cannot be the same as the destination directory, nor can the destination be a subdirectory of the source directory.');
    }
    if (existing && (existing.kind === 'directory' || moving.kind === 'directory')) {
      throw new StorageError(409, 'PathConflict', 'The specified path, or an element of the path, exists and its resource type is invalid for this operation.');
    }
    for (const [key, entry] of [...fromFs.paths]) {
      if (key === from || key.startsWith(`${from}/`)) {
        fromFs.paths.delete(key);
        toFs.paths.set(to + key.slice(from.length), entry);
      }
    }
    return moving;
  }

  /** Path - Delete: a file, an empty directory, or (recursive) a directory and all below it. */
  delete(fsName: string, path: string, recursive: boolean, conditions: Conditions): void {
    const fs = this.fileSystem(fsName);
    const key = normalize(path);
    const entry = this.path(fsName, key);
    check(entry, conditions);
    checkWriteLease(entry.lease, conditions.leaseId, this.now());
    const below = [...fs.paths.keys()].filter((k) => k.startsWith(`${key}/`));
    if (below.length && !recursive) {
      throw new StorageError(409, 'DirectoryNotEmpty', 'The recursive query parameter value must be true to delete a non-empty directory.');
    }
    for (const k of [key, ...below]) fs.paths.delete(k);
  }

  /** Set Blob Metadata: replaces the user metadata of a path (a new ETag, as every write). */
  setMetadata(fsName: string, path: string, metadata: Record<string, string>, conditions: Conditions): PathEntry {
    const entry = this.path(fsName, path);
    check(entry, conditions);
    checkWriteLease(entry.lease, conditions.leaseId, this.now());
    entry.metadata = { ...metadata, ...(entry.kind === 'directory' ? { hdi_isfolder: 'true' } : {}) };
    return this.touch(entry);
  }

  /** Path - List: the paths under `directory` (all depths when recursive), in name order. */
  list(fsName: string, directory: string | undefined, recursive: boolean): [string, PathEntry][] {
    const fs = this.fileSystem(fsName);
    const dir = directory ? normalize(directory) : '';
    if (dir && fs.paths.get(dir)?.kind !== 'directory') throw errors.pathNotFound();
    const prefix = dir ? `${dir}/` : '';
    return [...fs.paths]
      .filter(([key]) => key.startsWith(prefix) && (recursive || !key.slice(prefix.length).includes('/')))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  private file(fsName: string, path: string): PathEntry {
    const entry = this.path(fsName, path);
    if (entry.kind !== 'file') {
      throw new StorageError(409, 'PathConflict', 'The specified path, or an element of the path, exists and its resource type is invalid for this operation.');
    }
    return entry;
  }

  private touch(entry: PathEntry): PathEntry {
    entry.etag = this.nextEtag();
    entry.lastModified = new Date();
    return entry;
  }

  private ensureParents(fs: FileSystem, key: string): void {
    for (let parent = parentOf(key); parent; parent = parentOf(parent)) {
      const existing = fs.paths.get(parent);
      if (existing?.kind === 'directory') return;
      if (existing) {
        throw new StorageError(409, 'PathConflict', 'The specified path, or an element of the path, exists and its resource type is invalid for this operation.');
      }
      const now = new Date();
      fs.paths.set(parent, {
        kind: 'directory', data: Buffer.alloc(0), uncommitted: new Map(), etag: this.nextEtag(),
        lastModified: now, created: now, metadata: { hdi_isfolder: 'true' }, lease: newLease(),
      });
    }
  }
}

/**
 * Evaluates conditional headers against a resource (undefined = does not exist). Dates
 * compare at HTTP-date (second) precision, as Last-Modified carries them.
 */
export function check(resource: { etag: string; lastModified: Date } | undefined, c: Conditions): void {
  const seconds = (d: Date) => Math.floor(d.getTime() / 1000);
  if (c.ifMatch !== undefined && (!resource || (c.ifMatch !== '*' && c.ifMatch !== resource.etag))) throw errors.conditionNotMet();
  if (c.ifNoneMatch !== undefined && resource && (c.ifNoneMatch === '*' || c.ifNoneMatch === resource.etag)) throw errors.conditionNotMet();
  if (!resource) return;
  if (c.ifModifiedSince && seconds(resource.lastModified) <= seconds(c.ifModifiedSince)) throw errors.conditionNotMet();
  if (c.ifUnmodifiedSince && seconds(resource.lastModified) > seconds(c.ifUnmodifiedSince)) throw errors.conditionNotMet();
}

export function normalize(path: string): string {
  return path.replace(/^\/+|\/+$/g, '');
}

function parentOf(key: string): string {
  const slash = key.lastIndexOf('/');
  return slash === -1 ? '' : key.slice(0, slash);
}
