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
