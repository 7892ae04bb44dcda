/**
 * Where the lake's files live: a local folder (the embedded default) or an ADLS Gen2 filesystem.
 * Paths are relative to the lake root and use "/" separators. Storage knows no domain: it moves
 * bytes and gives the few atomic primitives the log and the Delta tables are built on.
 */
export interface LakeStorage {
  /** Where `localPath` puts downloaded copies (remote storages only): the views may read there. */
  readonly cacheRoot?: string;

  /** Human-readable location, for messages (`/data/lake`, `abfss://fs@account.dfs.core.windows.net/lake`). */
  readonly location: string;

  /**
   * The whole file, or `length` bytes from `offset` (fewer where the file ends). Throws
   * NotFoundError if absent. `into` (at least `length` bytes): read into that memory, returning
   * a view of it, where the storage can (local files; a stream cursor reuses one buffer,
   * segmentReader.ts); a storage that cannot returns a buffer of its own.
   */
  read(path: string, range?: { offset: number; length: number; into?: Buffer }): Promise<Buffer>;

  /** Size in bytes, or null when the file does not exist. */
  size(path: string): Promise<number | null>;

  /** Entries directly under `dir` (not recursive); empty when the folder does not exist. */
  list(dir: string): Promise<StorageEntry[]>;

  /**
   * Creates `path` with `data` only if no file has that name, atomically: readers see all of it
   * or no file. Throws AlreadyExistsError when another writer got there first. (Delta commits.)
   */
  createIfAbsent(path: string, data: Buffer | string): Promise<void>;

  /** Replaces (or creates) `path` atomically and durably: readers see the old or the new bytes. */
  replace(path: string, data: Buffer | string): Promise<void>;

  /** Removes a file; absent is fine. */
  delete(path: string): Promise<void>;

  /**
   * Durably appends to a file this process writes alone (a log segment), creating it if needed.
   * `length` is where the next append lands. Local: write + fdatasync. ADLS: append + flush with
   * the last ETag as condition, so a second writer's interference fails loudly.
   */
  openAppender(path: string): Promise<Appender>;

  /** Cuts a file to `length` bytes (recovery of a torn tail); ADLS rewrites the kept prefix. */
  truncate(path: string, length: number): Promise<void>;

  /** A local file path DuckDB can read for `path`: the file itself locally, a cached download remotely. */
  localPath(path: string): Promise<string>;

  /**
   * Uploads a local file (a Parquet file DuckDB wrote) to `path`, durably and atomically: readers
   * see no file or the whole file (local: temp + fsync + rename; ADLS: temp path + rename).
   */
  upload(localFile: string, path: string): Promise<void>;

  /**
   * A lease on `path` under the id `id` (remote storages shared by machines: ADLS). Local
   * storage has none: one machine's file locks already exclude its other processes.
   */
  lease?(path: string, id: string): StorageLease;
}

/**
 * A timed exclusive claim on one file, kept by renewing it before its duration runs out (ADLS:
 * Lease Blob on a marker file). Every call is safe to repeat after a lost answer.
 */
export interface StorageLease {
  readonly id: string;
  /** Takes the lease for `seconds` (15-60), creating the file if needed, and records `holder` on it. LeaseTakenError when another id holds it. */
  acquire(seconds: number, holder: Record<string, string>): Promise<void>;
  /** Extends it by its duration from now. LeaseTakenError when it is no longer ours (taken over, or broken). */
  renew(): Promise<void>;
  /** Lets it go (best effort: an expired or already released lease is fine). */
  release(): Promise<void>;
  /** The lease's state now, who took it last, and the file's version (for breakIfUnchanged). */
  inspect(): Promise<LeaseInfo>;
  /** Ends the current lease at once, unless the file changed since `etag` (a new holder recorded itself). */
  breakIfUnchanged(etag: string): Promise<boolean>;
}

export interface LeaseInfo {
  state: 'available' | 'leased' | 'expired' | 'breaking' | 'broken';
  /** What the last holder recorded when it took the lease; null when nothing readable is there. */
  holder: Record<string, string> | null;
  etag: string;
}

/** The lease is held by someone else (or was taken from us). */
export class LeaseTakenError extends Error {
  readonly code = 'ELEASED';
}

export interface StorageEntry {
  name: string;
  isDirectory: boolean;
  size: number;
  lastModified: number;
}

export interface Appender {
  readonly length: number;
  append(data: Buffer): Promise<void>;
  close(): Promise<void>;
}

export class NotFoundError extends Error {
  readonly code = 'ENOENT';
  constructor(readonly path: string, where: string) {
    super(`${where}: ${path} does not exist`);
  }
}

export class AlreadyExistsError extends Error {
  readonly code = 'EEXIST';
  constructor(readonly path: string, where: string) {
    super(`${where}: ${path} already exists`);
  }
}
