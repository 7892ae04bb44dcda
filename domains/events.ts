import type { BuiltInRejectionCode, EventEnvelope, Rejection } from '../ingest/envelope.js';

/**
 * A domain event as `decide` emits it and `evolve` receives it: a type name and its data. A
 * domain declares its events as a union, e.g.
 * `type BankEvent = Event<'AccountOpened', { account_id: string }> | Event<'MoneyDeposited', {...}>`.
 */
export interface Event<Type extends string = string, Data extends object = Record<string, unknown>> {
  eventType: Type;
  data: Data;
}

/**
 * An event as the log holds it and projections read it: the envelope (ids, aggregate, version,
 * business `timestamp`, log position) around one of the domain's events. Distributes over a
 * union, so a `switch (e.eventType)` narrows `e.data`.
 */
export type Envelope<E extends Event = Event> = E extends Event ? Omit<EventEnvelope, 'eventType' | 'data'> & { eventType: E['eventType']; data: E['data'] } : never;

/** The event types of a union of events. */
export type EventTypeOf<E extends Event> = E['eventType'];

/** The built-in codes a domain's decision may give (the others are the validator's own). */
export type DecisionRejectionCode = Exclude<BuiltInRejectionCode, 'unknown_command'>;

/**
 * What `decide` returns: the events to append (none is fine: the command is completed and
 * changes nothing), or why not, with a built-in code or one the aggregate declares.
 */
export type Decision<E extends Event, Code extends string = never> = E[] | Rejection<DecisionRejectionCode | Code>;
