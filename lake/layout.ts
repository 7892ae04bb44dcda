import path from 'node:path';
import { shareLocksWithLake } from './lock.js';
import { isRemote, joinLocation } from './storage/locations.js';

/**
 * Where everything lives inside a lake folder. Names that come from config (jobs, tables) are
 * checked so that no path built from them can leave the lake root.
 *
 *   log/meta.json            partition count, fixed when the lake is created
 *   log/HEAD                 the commit point of the log (two checksummed slots)
 *   log/p0 .. log/pN         event partitions: NDJSON segments named by their first sequence
 *   log/commands             the command workflow log (every outcome, in arrival order)
 *   tables/<name>/           read models as Delta tables (_delta_log + Parquet files)
 *   snapshots/               the ingester's aggregate-state snapshots
 *   locks/                   writer and job locks (local); on a remote lake also `<lake>/locks/*.lease` (ADLS leases)
 *   views.duckdb             the views database over the tables' current snapshots
 */
export class LakeLayout {
  /** The lake's location: a local folder, or a remote URL (ADLS) whose storage is registered. */
  readonly root: string;
  /**
   * Where this machine keeps what only it needs: locks, write-model snapshots, job run state,
   * dead letters and the views database. The lake folder itself for a local lake.
   */
  readonly localRoot: string;

  constructor(root: string, localRoot?: string) {
    this.root = isRemote(root) ? root.replace(/\/+$/, '') : path.resolve(root);
    this.localRoot = path.resolve(localRoot ?? (isRemote(root) ? path.join('.eventlake-state', root.replace(/[^A-Za-z0-9._-]+/g, '_')) : root));
    // Machines sharing a remote lake exclude each other through leases in it (lake/lock.ts).
    if (isRemote(this.root)) shareLocksWithLake(this.locksDir, joinLocation(this.root, 'locks'));
  }

  get logDir(): string {
    return joinLocation(this.root, 'log');
  }
  get headFile(): string {
    return joinLocation(this.logDir, 'HEAD');
  }
  get metaFile(): string {
    return joinLocation(this.logDir, 'meta.json');
  }
  streamDir(stream: string): string {
    return joinLocation(this.logDir, safeName(stream, 'stream'));
  }
  get tablesDir(): string {
    return joinLocation(this.root, 'tables');
  }
  tableDir(table: string): string {
    return joinLocation(this.tablesDir, safeName(table, 'table'));
  }
  get snapshotsDir(): string {
    return path.join(this.localRoot, 'snapshots');
  }
  get locksDir(): string {
    return path.join(this.localRoot, 'locks');
  }
  lockFile(name: string): string {
    return path.join(this.locksDir, `${safeName(name, 'lock')}.lock`);
  }
  get viewsDatabase(): string {
    return path.join(this.localRoot, 'views.duckdb');
  }
  get deadLettersDir(): string {
    return path.join(this.localRoot, 'deadletters');
  }
  get jobsDir(): string {
    return path.join(this.localRoot, 'jobs');
  }
}

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$/;

/** A single path segment made only of safe characters: no separators, no "..", no hidden files. */
export function safeName(name: string, what: string): string {
  if (!SAFE_NAME.test(name) || name.includes('..')) {
    throw new Error(`invalid ${what} name ${JSON.stringify(name)}: use letters, digits, _ . @ - (no path separators)`);
  }
  return name;
}
