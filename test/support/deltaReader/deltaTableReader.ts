import { logicalFileKey, type Action, type AddAction, type Commit, type MetaDataAction, type ProtocolAction, type RemoveAction } from './actions.js';
import { readCheckpoint, readJsonCommit } from './logEntries.js';
import { checkpointFor, latestVersion, listLog, type LogListing } from './logListing.js';
import { applyCommit, emptyState, type TableState } from './logReplay.js';
import { readLogicalFile, type LogicalFileRef, type TableLayout } from './logicalFile.js';
import { assertReadable } from './protocolSupport.js';
import { parseSchemaString, type SparkField } from './sparkSchema.js';

/** One version of a table, as PROTOCOL.md defines a snapshot. */
export interface DeltaSnapshot {
  version: number;
  protocol: ProtocolAction;
  metaData: MetaDataAction;
  fields: SparkField[];
  partitionColumns: string[];
  /** txn appId -> version */
  txns: Map<string, number>;
  /** the live logical files */
  files: AddAction[];
  tombstones: RemoveAction[];
}

/**
 * A test-only Delta reader written from PROTOCOL.md, sharing no code with eventlake's writer: it
 * lists `_delta_log/`, starts from the newest complete checkpoint at or before the version asked
 * for (classic or multi-part), replays the JSON commits after it, refuses reader features it does
 * not implement, and reads data files with hyparquet, applying deletion vectors. Parsed commits
 * and checkpoints are cached, and so are the rows of a logical file, by (path, deletion vector):
 * none of them change once committed.
 */
export class DeltaTableReader {
  private listing: LogListing | null = null;
  private readonly checkpoints = new Map<number, TableState>();
  private readonly commits = new Map<number, Action[]>();

  constructor(
    readonly tableDir: string,
    private readonly rowCache = new Map<string, Record<string, unknown>[]>(),
  ) {}

  /** Re-list the log (after the table was written to). */
  refresh(): void {
    this.listing = null;
  }

  async latestVersion(): Promise<number> {
    return latestVersion(await this.list());
  }

  /** Every version that can be read: from the oldest checkpoint or commit 0 on. */
  async versions(): Promise<number[]> {
    const listing = await this.list();
    const latest = latestVersion(listing);
    const oldest = listing.commits.has(0) ? 0 : (listing.checkpoints[0]?.version ?? latest);
    return Array.from({ length: latest - oldest + 1 }, (_, i) => oldest + i);
  }

  /** Versions that have a complete checkpoint. */
  async checkpointVersions(): Promise<number[]> {
    return (await this.list()).checkpoints.map((c) => c.version);
  }

  /** The actions of the JSON commit of `version` (commitInfo included). */
  async commitActions(version: number): Promise<Action[]> {
    const cached = this.commits.get(version);
    if (cached) return cached;
    const file = (await this.list()).commits.get(version);
    if (!file) throw new Error(`${this.tableDir}: the JSON commit of version ${version} is not in the log`);
    const actions = await readJsonCommit(file);
    this.commits.set(version, actions);
    return actions;
  }

  async snapshot(version?: number, options: { jsonOnly?: boolean } = {}): Promise<DeltaSnapshot> {
    const state = await this.state(version ?? (await this.latestVersion()), options.jsonOnly);
    assertReadable(state, this.tableDir);
    const metaData = state.metaData!;
    return {
      version: state.version,
      protocol: state.protocol!,
      metaData,
      fields: parseSchemaString(metaData.schemaString),
      partitionColumns: metaData.partitionColumns ?? [],
      txns: state.txns,
      files: [...state.files.values()],
      tombstones: [...state.tombstones.values()],
    };
  }

  /** The rows of the table at `version` (latest when omitted). */
  async rows(version?: number): Promise<Record<string, unknown>[]> {
    const snapshot = await this.snapshot(version);
    const rows: Record<string, unknown>[] = [];
    for (const file of snapshot.files) rows.push(...(await this.fileRows(file, snapshot)));
    return rows;
  }

  /** The rows of one logical file (an add or a remove), read under the layout of `snapshot`. */
  async fileRows(file: LogicalFileRef, snapshot: Pick<DeltaSnapshot, 'fields' | 'partitionColumns'>): Promise<Record<string, unknown>[]> {
    const key = `${this.tableDir}\u0000${logicalFileKey(file)}`;
    const cached = this.rowCache.get(key);
    if (cached) return cached;
    const layout: TableLayout = { fields: snapshot.fields, partitionColumns: snapshot.partitionColumns };
    const rows = await readLogicalFile(this.tableDir, file, layout);
    this.rowCache.set(key, rows);
    return rows;
  }

  private async list(): Promise<LogListing> {
    if (!this.listing) this.listing = await listLog(this.tableDir);
    return this.listing;
  }

  /**
   * Replays `version` as a fresh reader would: the newest complete checkpoint at or before it,
   * then the JSON commits after it. With `jsonOnly`, from commit 0 without any checkpoint (to
   * check that a checkpoint stands for the commits it replaces).
   */
  private async state(version: number, jsonOnly = false): Promise<TableState> {
    const listing = await this.list();
    if (version > latestVersion(listing)) throw new Error(`${this.tableDir}: version ${version} does not exist (latest ${latestVersion(listing)})`);
    const checkpoint = jsonOnly ? undefined : checkpointFor(listing, version);
    let state = checkpoint ? await this.checkpointState(checkpoint) : emptyState();
    for (let v = state.version + 1; v <= version; v++) {
      if (!listing.commits.has(v)) throw new Error(`${this.tableDir}: cannot reconstruct version ${version}: commit ${v} is missing and no checkpoint covers it`);
      const commit: Commit = { version: v, actions: await this.commitActions(v) };
      state = applyCommit(state, commit, this.tableDir);
    }
    return state;
  }

  private async checkpointState(checkpoint: { version: number; files: string[] }): Promise<TableState> {
    const cached = this.checkpoints.get(checkpoint.version);
    if (cached) return cached;
    const where = `${this.tableDir} checkpoint ${checkpoint.version}`;
    const state = applyCommit(emptyState(), { version: checkpoint.version, actions: await readCheckpoint(checkpoint.files) }, where, { checkpoint: true });
    this.checkpoints.set(checkpoint.version, state);
    return state;
  }
}
