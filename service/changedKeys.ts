import type { Projection } from '../projections/projection.js';
import type { RowChange } from '../projections/tableMerge.js';
import { tableShape } from '../projections/tableShape.js';

/** Most keys one change event lists; past it the event says `keys: null` (refetch the read model). */
export const MAX_CHANGED_KEYS = 1_000;

/**
 * The keys a job's commits changed during one live catch-up, for the change feed: every replaced key
 * and every added row's key, each once. A read model without a key (facts) has none to list.
 */
export class ChangedKeys {
  private readonly keys = new Set<string>();
  private overflow: boolean;
  /** Some change was told (even one without keys). */
  told = false;

  constructor(projection: Projection) {
    this.overflow = tableShape(projection).key.length === 0;
  }

  add(change: RowChange): void {
    this.told = true;
    if (this.overflow) return;
    for (const key of change.replaced) this.keys.add(key);
    for (const { key } of change.added) if (key !== null) this.keys.add(key);
    if (this.keys.size > MAX_CHANGED_KEYS) {
      this.overflow = true;
      this.keys.clear();
    }
  }

  /** The keys as objects of the key columns, or null when they are not all known. */
  list(): Record<string, unknown>[] | null {
    return this.overflow ? null : [...this.keys].map((key) => JSON.parse(key) as Record<string, unknown>);
  }
}
