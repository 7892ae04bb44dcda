import { CommandHandler, type Event } from '@event-driven-io/emmett';
import type { PostgresEventStore } from '@event-driven-io/emmett-postgresql';
import { isRejection, type CommandHandler as DomainCommandHandler } from '../../domains/domain.js';
import { loadDomains } from '../../domains/loadDomains.js';
import type { DomainRegistry } from '../../domains/registry.js';
import type { CommandInput } from '../../ingest/envelope.js';

/**
 * The example domains as an Emmett application would run them: the same JSON Schemas, `decide`
 * and `evolve` functions as eventlake's, one Emmett stream per aggregate (`<type>-<id>`), and
 * Emmett's CommandHandler (read the stream, fold it, decide, append with the expected version).
 */
export type DomainEvent = Event<string, Record<string, unknown>, { commandId: string; timestamp: string }>;

export function streamName(aggregateType: string, aggregateId: string): string {
  return `${aggregateType}-${aggregateId}`;
}

export async function exampleRegistry(): Promise<DomainRegistry> {
  return loadDomains(['superchargers', 'orders'], process.cwd());
}

type Handle = (store: PostgresEventStore, id: string, decide: (state: unknown) => DomainEvent[]) => Promise<unknown>;

/** One Emmett CommandHandler per aggregate type, folding the stream with the domain's evolve. */
export function emmettHandlers(registry: DomainRegistry): Map<string, Handle> {
  const handlers = new Map<string, Handle>();
  for (const domain of registry.domains) {
    for (const aggregate of domain.aggregates) {
      const handle = CommandHandler<unknown, DomainEvent>({
        initialState: () => undefined,
        evolve: (state, event) => aggregate.evolve(state, { eventType: event.type, data: event.data }),
      });
      handlers.set(aggregate.aggregateType, handle as unknown as Handle);
    }
  }
  return handlers;
}

/** The events a valid command makes against `state`, as Emmett events; a refusal throws. */
export function decideEvents(handler: DomainCommandHandler, input: CommandInput, commandId: string, state: unknown): DomainEvent[] {
  const decision = handler.decide(state, input.command);
  if (isRejection(decision)) throw new Error(`command ${commandId} refused (${decision.code}): ${decision.message}`);
  const timestamp = new Date(input.received).toISOString();
  return decision.map((e) => ({ type: e.eventType, data: e.data, metadata: { commandId, timestamp } }));
}
