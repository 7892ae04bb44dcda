import { readCommit } from '../lake/delta/commit.js';
import { loadSnapshot } from '../lake/delta/deltaTable.js';
import { applyCommit, type Snapshot } from '../lake/delta/snapshot.js';

/**
 * Tables' snapshots kept between the serving views' merges, each moved forward by the JSON
 * commits since the last merge. Loading a snapshot from scratch reads the table's Parquet
 * checkpoint, which opens and closes a DuckDB instance; the close blocks the event loop
 * (profiled in `serve` at 20k events, load ~12: 12.3 s of the service's main thread in 10
 * commands, the merges loading every changed table's snapshot once a second), delaying every
 * live fold and query answer behind it.
 */
export class TableSnapshots {
  private readonly held = new Map<string, Snapshot>();

  /** The table's snapshot at `version`: the one held moved forward, or loaded anew when it is past it (or none is held). */
  async at(tableDir: string, version: number): Promise<Snapshot> {
    let snapshot = this.held.get(tableDir);
    if (!snapshot || snapshot.version > version) snapshot = await loadSnapshot(tableDir, { version });
    while (snapshot.version < version) snapshot = applyCommit(snapshot, snapshot.version + 1, await readCommit(tableDir, snapshot.version + 1));
    this.held.set(tableDir, snapshot);
    return snapshot;
  }

  /** Forgets every table (after a resync: tables may have been rebuilt or rolled back). */
  clear(): void {
    this.held.clear();
  }
}
