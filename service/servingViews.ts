import fs from 'node:fs/promises';
import path from 'node:path';
import { commitPath } from '../lake/delta/logFiles.js';
import type { LakeLayout } from '../lake/layout.js';
import { logger } from '../lake/logger.js';
import { locate } from '../lake/storage/locations.js';
import type { EventlakeConfig } from '../projections/jobsConfig.js';
import { createServingCatalog, type ServingBase, type ServingState } from '../views/servingCatalog.js';
import { ServingDelta, type RowStep } from '../views/servingDelta.js';
import { buildViewsBase } from '../views/viewsDatabase.js';
import { mergeDelta } from '../views/viewsMerge.js';
import { TableSnapshots } from '../views/tableSnapshots.js';

export interface ServingViewsOptions {
  config: EventlakeConfig;
  layout: LakeLayout;
  /**
   * Most time (ms) a change waits in the delta before it is merged into `views.duckdb`: outside
   * clients see a change at most this long plus one merge after the query processes do.
   */
  mergeDelayMs: number;
  /** A delta holding this many rows is merged at once (query processes scan it on every query). */
  mergeRows: number;
  /** A new base: the query processes open it (they keep answering from the old one meanwhile). */
  onBase: (state: ServingState) => void;
  /** A commit's row change, applied: the query processes apply it too. */
  onStep: (step: RowStep) => void;
  /** Bases the query processes still hold open (their files must stay). */
  basesInUse: () => Set<number>;
}

/** How often the merge and the tables' versions are looked at. */
const TICK_MS = 250;
/** A table found ahead of the delta (a commit no live job told) for this long is read anew. */
const UNTOLD_COMMIT_MS = 1_000;
/** Resyncs (reading every table anew) at most this often: a table the views cannot read must not make them loop. */
const RESYNC_GAP_MS = 5_000;

/**
 * The service's side of the serving views. Query processes read a base (a views database file)
 * plus a delta of the rows changed since; this keeps both:
 *
 * - each commit of a live job arrives as a row change (`record`) as soon as it is folded, before
 *   its table commit is written, and is passed on to the query processes: a change is queryable
 *   as soon as they applied it, with no file written and no database rebuilt;
 * - the delta merged into views.duckdb holds only steps whose commits landed (`committed`), so a
 *   merge may start at any moment, even while jobs are writing: views.duckdb never records a
 *   table version that does not exist (a catch-up that fails after telling is `abandon`ed);
 * - in the background, once the delta is `mergeDelayMs` old or `mergeRows` large, the delta is
 *   merged into a copy of the base, which becomes `views.duckdb` and the next base (the query
 *   processes switch to it when they have opened it, meanwhile answering from the old one);
 * - a commit it was not told (`eventlake run`, `rebuild` or `rollback` beside the service), a
 *   scheduled run or a first run makes it read every table anew (`resync`), as `eventlake run`
 *   refreshes the views.
 */
export class ServingViews {
  private base: ServingBase | null = null;
  /** Each read model's table version in `base`. */
  private baseVersions: [string, number][] = [];
  /** The steps whose commits have landed: what a merge writes into views.duckdb. */
  private delta: ServingDelta | null = null;
  /** `delta` plus the steps told but not committed yet: what the query processes show. */
  private shown: ServingDelta | null = null;
  /** Steps told (in `shown`) whose commits have not been confirmed (`committed`) yet, in order. */
  private pending: RowStep[] = [];
  private catalog: string | null = null;
  private nextId = 1;
  /** Steps recorded while a merge or resync runs: replayed onto the new base's delta. */
  private sinceRebase: RowStep[] | null = null;
  private firstUnmerged: number | null = null;
  private rebasing: Promise<void> | null = null;
  private resyncWanted = false;
  private lastResync = 0;
  private untold = new Map<string, { version: number; since: number }>();
  private timer: NodeJS.Timeout | null = null;
  private retired: ServingBase[] = [];
  /** The tables' snapshots as of the last merge: the next reads only their new commits. */
  private readonly snapshots = new TableSnapshots();
  /** Change events waiting for the query processes to show a read model's version (`whenShown`). */
  private readonly showing: { readModel: string; version: number; resolve: () => void }[] = [];
  /** When views.duckdb was last written by this service. */
  builtAt: string | null = null;
  merges = 0;

  constructor(private readonly options: ServingViewsOptions) {}

  private get dir(): string {
    return path.join(this.options.layout.localRoot, 'serving');
  }

  /** Reads every table into a first base and writes the catalog; then merges run in the background. */
  async start(): Promise<void> {
    await fs.rm(this.dir, { recursive: true, force: true });
    await fs.mkdir(this.dir, { recursive: true });
    const base = this.newBase();
    const built = await buildViewsBase(this.options.config, this.options.layout, base.base);
    await createServingCatalog(base.catalog, base.base, this.options.config);
    this.catalog = base.catalog;
    this.adopt(base, built.versions, [], false);
    this.timer = setInterval(() => void this.tick(), TICK_MS);
    this.timer.unref();
  }

  /** The state a query process starts from (null before `start` finished). */
  state(): ServingState | null {
    return this.base && this.shown ? { base: this.base, versions: this.baseVersions, delta: this.shown.state(), merged: false } : null;
  }

  /** A live batch's row change, folded (its commit may not be written yet): shown and passed on. */
  record(step: RowStep): void {
    if (!this.shown) return;
    const outcome = this.shown.apply(step);
    if (outcome === 'gap') {
      logger.info({ readModel: step.readModel, from: step.fromVersion, to: step.toVersion }, 'a commit the views were not told of: reading the tables anew');
      this.resyncWanted = true;
      void this.tick();
      return;
    }
    if (outcome !== 'applied') return;
    this.pending.push(step);
    this.options.onStep(step);
    this.wakeShowing();
  }

  /**
   * Resolves once the query processes were given the read model's rows up to `version`: a step
   * the views could not take (a gap) is shown only after the resync that reads the tables anew,
   * and a change event must not come before its rows.
   */
  whenShown(readModel: string, version: number): Promise<void> {
    if (this.shows(readModel, version)) return Promise.resolve();
    return new Promise((resolve) => this.showing.push({ readModel, version, resolve }));
  }

  private shows(readModel: string, version: number): boolean {
    const model = this.shown?.model(readModel);
    return model !== undefined && model.version >= version;
  }

  private wakeShowing(): void {
    for (const waiter of this.showing.filter((w) => this.shows(w.readModel, w.version))) {
      this.showing.splice(this.showing.indexOf(waiter), 1);
      waiter.resolve();
    }
  }

  /** The read model's table is committed up to `version`: its steps told up to there may be merged. */
  committed(readModel: string, version: number): void {
    const landed = this.pending.filter((s) => s.readModel === readModel && s.toVersion <= version);
    if (landed.length === 0) return;
    this.pending = this.pending.filter((s) => !landed.includes(s));
    for (const step of landed) {
      this.sinceRebase?.push(step);
      if (this.delta?.apply(step) === 'applied') this.firstUnmerged ??= Date.now();
    }
  }

  /**
   * A catch-up that told rows failed: its uncommitted steps are dropped, and every table is read
   * anew, whose base and delta replace what the query processes showed of them.
   */
  async abandon(readModel: string): Promise<void> {
    this.pending = this.pending.filter((s) => s.readModel !== readModel);
    await this.resync();
  }

  /** Reads every table anew (after a scheduled run, a rebuild, a first run); resolves once the query processes were given the result. */
  async resync(): Promise<void> {
    await this.rebasing;
    this.resyncWanted = true;
    await this.rebase();
  }

  /** Merges what is left into views.duckdb and stops the background work. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.rebasing;
    if (this.delta && this.delta.size > 0) await this.rebase().catch((error: Error) => logger.error({ err: error }, 'the last merge into the views database failed'));
  }

  private async tick(): Promise<void> {
    if (this.rebasing || !this.delta) return;
    this.cleanUp();
    if (!this.resyncWanted) await this.lookForUntoldCommits();
    this.mergeIfDue();
  }

  /** Starts a merge (or a due resync) in the background when one is due. */
  mergeIfDue(): void {
    if (this.rebasing || !this.delta) return;
    const due = this.firstUnmerged !== null && (Date.now() - this.firstUnmerged >= this.options.mergeDelayMs || this.delta.size >= this.options.mergeRows);
    const resync = this.resyncWanted && Date.now() - this.lastResync >= RESYNC_GAP_MS;
    if (resync || due) void this.rebase().catch((error: Error) => logger.error({ err: error }, 'refreshing the views database failed; trying again'));
  }

  /** Merges the delta into a new base, or (resync) reads every table into one. */
  private rebase(): Promise<void> {
    this.rebasing ??= (async () => {
      const { config, layout } = this.options;
      const base = this.newBase();
      const resync = this.resyncWanted;
      this.sinceRebase = [];
      const frozen = ServingDelta.from(this.delta!.state());
      const unmergedSince = this.firstUnmerged;
      this.firstUnmerged = null;
      try {
        if (resync) {
          this.snapshots.clear();
          this.resyncWanted = false;
          this.lastResync = Date.now();
          this.untold.clear();
        }
        const versions = resync ? (await buildViewsBase(config, layout, base.base)).versions : await mergeDelta(config, layout, this.base!.base, frozen, base.base, this.snapshots);
        this.adopt(base, versions, this.sinceRebase, !resync);
        this.merges += 1;
      } catch (error) {
        this.firstUnmerged ??= unmergedSince;
        if (resync) this.resyncWanted = true;
        await fs.rm(base.base, { force: true });
        throw error;
      } finally {
        this.sinceRebase = null;
      }
    })().finally(() => (this.rebasing = null));
    return this.rebasing;
  }

  /**
   * Makes `base` current with a delta of the steps committed after it was read, shows the steps
   * still uncommitted on top, and tells the query processes.
   */
  private adopt(base: ServingBase, versions: Map<string, number>, later: RowStep[], merged: boolean): void {
    const delta = new ServingDelta(versions);
    for (const step of later) {
      if (delta.apply(step) === 'applied') this.firstUnmerged ??= Date.now();
    }
    const shown = ServingDelta.from(delta.state());
    for (const step of this.pending) shown.apply(step);
    if (this.base) this.retired.push(this.base);
    this.base = base;
    this.baseVersions = [...versions];
    this.delta = delta;
    this.shown = shown;
    this.builtAt = new Date().toISOString();
    this.options.onBase({ base, versions: this.baseVersions, delta: shown.state(), merged });
    this.wakeShowing();
  }

  private newBase(): ServingBase {
    const id = this.nextId++;
    return { id, catalog: this.catalog ?? path.join(this.dir, 'catalog.duckdb'), base: path.join(this.dir, `base-${id}.duckdb`) };
  }

  /** Removes the files of old bases no query process holds any more. */
  private cleanUp(): void {
    if (this.retired.length === 0) return;
    const inUse = this.options.basesInUse();
    const keep: ServingBase[] = [];
    for (const base of this.retired) {
      if (inUse.has(base.id)) keep.push(base);
      else void fs.rm(base.base, { force: true });
    }
    this.retired = keep;
  }

  /**
   * A table with a commit after the version the views show, which no live job told within a
   * second (so not one being told right now): `eventlake run` or `rollback` beside the service.
   */
  private async lookForUntoldCommits(): Promise<void> {
    const versions = this.shown!.versions();
    for (const job of this.options.config.jobs) {
      const held = versions.get(job.definition.name);
      if (held === undefined) continue;
      const { storage, path: next } = locate(commitPath(this.options.layout.tableDir(job.output), held + 1));
      const exists = (await storage.size(next).catch(() => null)) !== null;
      const seen = this.untold.get(job.name);
      if (!exists) this.untold.delete(job.name);
      else if (!seen || seen.version !== held) this.untold.set(job.name, { version: held, since: Date.now() });
      else if (Date.now() - seen.since >= UNTOLD_COMMIT_MS) this.resyncWanted = true;
    }
  }
}
