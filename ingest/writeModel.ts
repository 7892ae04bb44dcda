import type { DomainRegistry } from '../domains/registry.js';
import type { CommandRecord, EventEnvelope, RejectionCode } from './envelope.js';

/** An aggregate's write-side state and version, as `decide` needs it. */
export interface AggregateEntry {
  version: number;
  state: unknown;
}

/** The first outcome of a command id, kept to answer a repeat of it. */
export interface CommandMemo {
  sequence: number;
  status: 'completed' | 'rejected';
  code: RejectionCode | null;
}

/**
 * Everything the ingester decides against, held in memory: each aggregate's state and version,
 * and every command id seen. Rebuilt at start from a snapshot plus the log after it.
 */
export class WriteModel {
  readonly aggregates = new Map<string, AggregateEntry>();
  readonly commands = new Map<string, CommandMemo>();

  constructor(private readonly registry: DomainRegistry) {}

  static key(aggregateType: string, aggregateId: string): string {
    return `${aggregateType}|${aggregateId}`;
  }

  /** Folds one logged event into its aggregate (used when replaying the log at start). */
  applyEvent(logged: EventEnvelope): void {
    const event = this.registry.upcast ? this.registry.upcast(logged) : logged;
    const key = WriteModel.key(event.aggregateType, event.aggregateId);
    const aggregate = this.registry.aggregate(event.aggregateType);
    if (!aggregate) throw new Error(`the log holds events of aggregate type "${event.aggregateType}", which no configured domain defines`);
    const current = this.aggregates.get(key);
    this.aggregates.set(key, { version: event.version, state: aggregate.evolve(current?.state, event) });
  }

  /** Remembers one logged command outcome (used when replaying the command log at start). */
  applyCommand(record: CommandRecord): void {
    this.commands.set(record.commandId, { sequence: record.sequence, status: record.status, code: record.code });
  }
}
