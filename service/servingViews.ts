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
  /** False while rows may have been told whose table commits are not written yet (a merge waits). */
  mayMerge: () => boolean;
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
 * - each commit of a live job arrives as a row change (`record`), is applied to the delta and
 *   passed on to the query processes: a change is queryable as soon as they applied it, with no
 *   file written and no database rebuilt;
 * - in the background, once the delta is `mergeDelayMs` old or `mergeRows` large, the delta is
 *   merged into a copy of the base, which becomes `views.duckdb` and the next base (the query
 *   processes switch to it when they have opened it, meanwhile answering from the old one);
 * - a commit it was not told (`eventlake run`, `rebuild` or `rollback` beside the service), a
 *   scheduled run or a first run makes it read every table anew (`resync`), as `eventlake run`
 *   refreshes the views.
 */
export class ServingViews {
  private base: ServingBase | null = null;
  private delta: ServingDelta | null = null;
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
    return this.base && this.delta ? { base: this.base, delta: this.delta.state(), merged: false } : null;
  }

  /** A live commit's row change: applied to the delta and passed on. */
  record(step: RowStep): void {
    if (!this.delta) return;
    this.sinceRebase?.push(step);
    const outcome = this.delta.apply(step);
    if (outcome === 'gap') {
      logger.info({ readModel: step.readModel, from: step.fromVersion, to: step.toVersion }, 'a commit the views were not told of: reading the tables anew');
      this.resyncWanted = true;
      void this.tick();
      return;
    }
    if (outcome !== 'applied') return;
    this.firstUnmerged ??= Date.now();
    this.options.onStep(step);
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

  /**
   * Starts a merge (or a due resync) in the background when one is due and allowed. The delta is
   * frozen synchronously, so a caller between two live passes (nothing told but uncommitted)
   * knows the merge records only committed versions.
   */
  mergeIfDue(): void {
    if (this.rebasing || !this.delta || !this.options.mayMerge()) return;
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
          this.resyncWanted = false;
          this.lastResync = Date.now();
          this.untold.clear();
        }
        const versions = resync ? (await buildViewsBase(config, layout, base.base)).versions : await mergeDelta(config, layout, this.base!.base, frozen, base.base);
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

  /** Makes `base` current with a delta of the steps recorded after it was read, and tells the query processes. */
  private adopt(base: ServingBase, versions: Map<string, number>, later: RowStep[], merged: boolean): void {
    const delta = new ServingDelta(versions);
    for (const step of later) {
      if (delta.apply(step) === 'applied') this.firstUnmerged ??= Date.now();
    }
    if (this.base) this.retired.push(this.base);
    this.base = base;
    this.delta = delta;
    this.builtAt = new Date().toISOString();
    this.options.onBase({ base, delta: delta.state(), merged });
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
   * A table with a commit after the version the views hold, which no live job told within a
   * second (so not one being told right now): `eventlake run` or `rollback` beside the service.
   */
  private async lookForUntoldCommits(): Promise<void> {
    const versions = this.delta!.versions();
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
