import type { RowChange } from '../projections/tableMerge.js';

/**
 * One commit of a read model's table as the serving views follow it: the versions it went from
 * and to, and what it changed in rows (projections/tableMerge.ts). A compaction changes no row.
 */
export interface RowStep extends RowChange {
  readModel: string;
  fromVersion: number;
  toVersion: number;
  /**
   * A live job folds batches while its writer is still writing an earlier commit, and the batches
   * folded meanwhile go into one later commit (projections/liveCommits.ts): each is told at once,
   * as a part of that commit. 0 (or absent): the commit's first batch, from `fromVersion`; n: its
   * (n+1)th, following part n-1 of the same `toVersion`.
   */
  part?: number;
}

/** What `apply` did with a step: taken, already held (an older or repeated step), or not applicable (a commit between was never told). */
export type StepOutcome = 'applied' | 'held' | 'gap';

/**
 * The rows of one read model that changed since its base (the views database the serving views
 * read), kept the way the views combine them: base rows hidden by key, rows shown on top.
 *
 * Every row a later commit may replace is a key's only such row (state kinds: the key's row; a
 * history: the key's open row), so a replaced key names one row: the one added here since the
 * base if there is one, else the base's (then hidden). Final rows (closed history rows, facts)
 * are only ever added.
 */
export class ModelDelta {
  /** Keys whose replaceable base row is hidden. */
  readonly hidden = new Set<string>();
  /** Per key, its replaceable row added since the base. */
  readonly current = new Map<string, string>();
  /** Rows added since the base that never change again. */
  readonly final: string[] = [];

  constructor(
    public version: number,
    /** Parts of `version`'s commit applied so far (see RowStep.part); null: the whole commit (read from the table). */
    public part: number | null = null,
  ) {}

  apply(step: RowStep): void {
    for (const key of step.replaced) {
      if (!this.current.delete(key)) this.hidden.add(key);
    }
    for (const { row, key, mutable } of step.added) {
      if (mutable && key !== null) this.current.set(key, row);
      else this.final.push(row);
    }
    this.version = step.toVersion;
    this.part = step.part ?? 0;
  }

  /** What applying `step` would do: a step of an older commit (or a part already applied) is held. */
  outcome(step: RowStep): StepOutcome {
    const part = step.part ?? 0;
    if (step.toVersion < this.version) return 'held';
    if (step.toVersion === this.version) {
      if (this.part === null || part <= this.part) return 'held';
      return part === this.part + 1 ? 'applied' : 'gap';
    }
    return part === 0 && step.fromVersion === this.version ? 'applied' : 'gap';
  }

  /** Rows the views add on top of the base. */
  rows(): string[] {
    return this.final.length === 0 ? [...this.current.values()] : [...this.current.values(), ...this.final];
  }

  get size(): number {
    return this.hidden.size + this.current.size + this.final.length;
  }
}

/** A delta as it travels to a query process (structured clone over IPC). */
export interface DeltaState {
  models: { readModel: string; version: number; part: number | null; hidden: string[]; current: [string, string][]; final: string[] }[];
}

/**
 * Every read model's change since one base. Steps arrive per commit and are applied in version
 * order; a step whose table version is already held is ignored, and one that skips a commit (a
 * commit made by another process, e.g. `eventlake run` beside the service) is refused as a gap:
 * that read model then needs a new base.
 */
export class ServingDelta {
  private readonly models = new Map<string, ModelDelta>();

  /** `versions`: the table version of each read model in the base (-1: none). */
  constructor(versions: Map<string, number>) {
    for (const [readModel, version] of versions) this.models.set(readModel, new ModelDelta(version));
  }

  static from(state: DeltaState): ServingDelta {
    const delta = new ServingDelta(new Map());
    for (const m of state.models) {
      const model = new ModelDelta(m.version, m.part);
      for (const key of m.hidden) model.hidden.add(key);
      for (const [key, row] of m.current) model.current.set(key, row);
      model.final.push(...m.final);
      delta.models.set(m.readModel, model);
    }
    return delta;
  }

  apply(step: RowStep): StepOutcome {
    const model = this.models.get(step.readModel);
    if (!model) return 'gap';
    const outcome = model.outcome(step);
    if (outcome === 'applied') model.apply(step);
    return outcome;
  }

  model(readModel: string): ModelDelta | undefined {
    return this.models.get(readModel);
  }

  versions(): Map<string, number> {
    return new Map([...this.models].map(([name, model]) => [name, model.version]));
  }

  /** Rows held in all models (hidden keys and added rows): what a merge into a new base would write. */
  get size(): number {
    let size = 0;
    for (const model of this.models.values()) size += model.size;
    return size;
  }

  state(): DeltaState {
    return {
      models: [...this.models].map(([readModel, m]) => ({ readModel, version: m.version, part: m.part, hidden: [...m.hidden], current: [...m.current], final: [...m.final] })),
    };
  }
}

/**
 * The steps a query process was sent since the delta it was last given whole, in order, so that
 * a merged base can come without rows: the process lays over the base the steps it does not hold
 * itself (`over`). Under load a merged base's delta (the steps committed during the merge and
 * those still uncommitted) was 12-24 MB of JSON every few seconds, on the same IPC channel as the
 * queries, which then waited 2-6 s behind it (docs/design-notes.md, eighth round).
 */
export class StepLog {
  private steps: RowStep[] = [];

  /** A delta given whole: it holds every step before. */
  restart(): void {
    this.steps = [];
  }

  add(step: RowStep): void {
    this.steps.push(step);
  }

  /**
   * The delta over a merged base holding `versions` (each read model's table version): the steps
   * logged that the base does not hold, applied in order; only those are kept. Throws when one
   * of them does not follow (the process lacks a step the base does not hold either): the service
   * sends a merged base without rows only to a process whose whole delta is at or below the
   * base's versions (`rowlessBaseFits`), so this means a broken promise, never a normal case.
   */
  over(versions: Map<string, number>): ServingDelta {
    const delta = new ServingDelta(versions);
    const kept: RowStep[] = [];
    for (const step of this.steps) {
      const outcome = delta.apply(step);
      if (outcome === 'gap') throw new Error(`a merged base without rows: the step ${step.readModel} ${step.fromVersion} -> ${step.toVersion} does not follow its version ${delta.model(step.readModel)?.version ?? 'none'}`);
      if (outcome === 'applied') kept.push(step);
    }
    this.steps = kept;
    return delta;
  }
}

/**
 * A merged base may go to a query process without rows when the process holds every step the
 * base does not: the delta it was last given whole (at `given`: each read model's version) is
 * at or below the base's `versions`, and it was sent every step since (steps go to every process
 * in order).
 */
export function rowlessBaseFits(given: Map<string, number>, versions: Map<string, number>): boolean {
  for (const [readModel, version] of given) {
    const base = versions.get(readModel);
    if (base === undefined || base < version) return false;
  }
  return true;
}
