import type { DomainRegistry } from '../domains/registry.js';
import { CommandIdStore } from './commandIdStore.js';
import { OffHeapKeys } from './offHeapKeys.js';
import type { CommandRecord, EventEnvelope } from './envelope.js';

export type { CommandMemo } from './commandIdStore.js';

/** An aggregate's write-side state and version, as `decide` needs it. */
export interface AggregateEntry {
  version: number;
  state: unknown;
}

/**
 * Everything the ingester decides against, held in memory: each aggregate's state and version,
 * and every command id seen. Rebuilt at start from a snapshot plus the log after it.
 */
export class WriteModel {
  /**
   * Aggregates by type, then id: the id string from the parsed command is looked up as it is
   * (one map keyed by "type|id" built and hashed a new string per command: 7% of ingest), and the
   * ids live off the JS heap, as the command ids do (millions of them at 10M commands).
   */
  private readonly byType = new Map<string, AggregatesOfType>();
  /** Every command id seen, with its first outcome (compact and off the JS heap). */
  readonly commands = new CommandIdStore();

  constructor(private readonly registry: DomainRegistry) {}

  /** The key an aggregate is saved under in a snapshot. */
  static key(aggregateType: string, aggregateId: string): string {
    return `${aggregateType}|${aggregateId}`;
  }

  aggregate(aggregateType: string, aggregateId: string): AggregateEntry | undefined {
    return this.byType.get(aggregateType)?.get(aggregateId);
  }

  setAggregate(aggregateType: string, aggregateId: string, version: number, state: unknown): void {
    let ofType = this.byType.get(aggregateType);
    if (!ofType) this.byType.set(aggregateType, (ofType = new AggregatesOfType()));
    ofType.set(aggregateId, version, state);
  }

  /** Every aggregate under its snapshot key. */
  *aggregates(): IterableIterator<[string, AggregateEntry]> {
    for (const [aggregateType, ofType] of this.byType) {
      for (const [aggregateId, entry] of ofType.entries()) yield [WriteModel.key(aggregateType, aggregateId), entry];
    }
  }

  /** Restores an aggregate saved under `key` (aggregate types hold no "|"; ids may). */
  restoreAggregate(key: string, version: number, state: unknown): void {
    const bar = key.indexOf('|');
    this.setAggregate(key.slice(0, bar), key.slice(bar + 1), version, state);
  }

  /** Folds one logged event into its aggregate (used when replaying the log at start). */
  applyEvent(logged: EventEnvelope): void {
    const event = this.registry.upcast ? this.registry.upcast(logged) : logged;
    const aggregate = this.registry.aggregate(event.aggregateType);
    if (!aggregate) throw new Error(`the log holds events of aggregate type "${event.aggregateType}", which no configured domain defines`);
    const current = this.aggregate(event.aggregateType, event.aggregateId);
    this.setAggregate(event.aggregateType, event.aggregateId, event.version, aggregate.evolve(current?.state, event));
  }

  /** Remembers one logged command outcome (used when replaying the command log at start). */
  applyCommand(record: CommandRecord): void {
    this.commands.set(record.commandId, { sequence: record.sequence, status: record.status, code: record.code });
  }
}

/** One aggregate type's ids (off the heap), versions (a typed array) and states (domain objects). */
class AggregatesOfType {
  private readonly ids = new OffHeapKeys();
  private versions: Float64Array = new Float64Array(1024);
  private readonly states: unknown[] = [];

  get(aggregateId: string): AggregateEntry | undefined {
    const index = this.ids.indexOf(aggregateId);
    return index < 0 ? undefined : { version: this.versions[index], state: this.states[index] };
  }

  set(aggregateId: string, version: number, state: unknown): void {
    let index = this.ids.indexOf(aggregateId);
    if (index < 0) {
      index = this.ids.add(aggregateId);
      if (index === this.versions.length) this.versions = grown(this.versions);
    }
    this.versions[index] = version;
    this.states[index] = state;
  }

  *entries(): IterableIterator<[string, AggregateEntry]> {
    for (let index = 0; index < this.ids.size; index++) yield [this.ids.keyAt(index), { version: this.versions[index], state: this.states[index] }];
  }
}

function grown(array: Float64Array): Float64Array {
  const larger = new Float64Array(array.length * 2);
  larger.set(array);
  return larger;
}
