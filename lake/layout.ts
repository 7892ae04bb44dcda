import path from 'node:path';

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
 *   locks/                   writer and job locks
 *   views.duckdb             the views database over the tables' current snapshots
 */
export class LakeLayout {
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  get logDir(): string {
    return path.join(this.root, 'log');
  }
  get headFile(): string {
    return path.join(this.logDir, 'HEAD');
  }
  get metaFile(): string {
    return path.join(this.logDir, 'meta.json');
  }
  streamDir(stream: string): string {
    return path.join(this.logDir, safeName(stream, 'stream'));
  }
  get tablesDir(): string {
    return path.join(this.root, 'tables');
  }
  tableDir(table: string): string {
    return path.join(this.tablesDir, safeName(table, 'table'));
  }
  get snapshotsDir(): string {
    return path.join(this.root, 'snapshots');
  }
  get locksDir(): string {
    return path.join(this.root, 'locks');
  }
  lockFile(name: string): string {
    return path.join(this.locksDir, `${safeName(name, 'lock')}.lock`);
  }
  get viewsDatabase(): string {
    return path.join(this.root, 'views.duckdb');
  }
  get deadLettersDir(): string {
    return path.join(this.root, 'deadletters');
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
