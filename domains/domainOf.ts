import type { CommandRecord } from '../ingest/envelope.js';
import {
  historyProjection,
  rowsProjection,
  sqlProjection,
  stateProjection,
  type ColumnName,
  type HistorySpec,
  type RowInput,
  type RowsSpec,
  type SqlSpec,
  type StateSpec,
} from '../projections/defineProjection.js';
import type { Column, Projection, RowsProjection, SqlProjection, StateProjection } from '../projections/projection.js';
import { defineAggregate, type AggregateSpec, type TypedAggregate } from './defineAggregate.js';
import type { Aggregate, CommandHandler, Domain, Upcaster } from './domain.js';
import type { Decision, Envelope, Event } from './events.js';

/** The envelopes of the events whose type is in `T`. */
type Read<E extends Event, T extends string> = Envelope<Extract<E, { eventType: T }>>;

/**
 * Any command of a domain whose events are `E`, whatever its payload, state and codes. Written out
 * rather than as `TypedCommand<string, any, ...>`: that would make TypeScript derive a payload
 * from an unknown schema, which it cannot finish (TS2589).
 */
export interface AnyCommand<E extends Event = Event> {
  commandName: string;
  aggregateType: string;
  schema: object;
  aggregateId(command: never): string;
  decide(state: never, command: never): Decision<E, string>;
}

/** Any typed aggregate (written out for the same reason as `AnyCommand`). */
export interface AnyAggregate {
  aggregateType: string;
  rejectionCodes: readonly string[];
  evolve(state: never, event: never): unknown;
}

/** Any typed projection (its records typed by the events it reads). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyProjection = StateProjection<any> | RowsProjection<any> | SqlProjection;

/** What a domain module exports by default: the runtime `Domain`, with its events and commands typed. */
export interface TypedDomain<E extends Event = Event, C extends AnyCommand<E> = AnyCommand<E>> extends Domain {
  commands: C[] & CommandHandler[];
  /** Never set: carries the event union for the test harness's types. */
  readonly events?: E;
}

export interface DomainSpec<E extends Event, C extends AnyCommand<E>> {
  name: string;
  aggregates: AnyAggregate[];
  commands: C[];
  projections: AnyProjection[];
  /** The domain's views: `new URL('./bank.sql', import.meta.url)`, an absolute path, or a path relative to this module. */
  sqlFile?: string | URL;
  upcasters?: Upcaster[];
}

/**
 * The typed domain API for a domain whose events are the union `E`:
 * aggregates (state, evolve, their commands), projections typed by the events they read, and the
 * domain itself. Everything it builds is the plain runtime definition the pipeline runs.
 */
export function domainOf<E extends Event>() {
  const events = <T extends string>(eventTypes: readonly T[] | undefined) => ({ source: 'events' as const, eventTypes });
  return {
    /** An aggregate type: how its events fold into the state its commands are decided against. */
    aggregate<S, const Code extends string = never>(spec: AggregateSpec<S, E, Code>): TypedAggregate<S, E, Code> {
      return defineAggregate<S, E, Code>(spec);
    },
    /** Current state per key (one row per key), evolved from the events of `eventTypes` (all when omitted). */
    stateProjection<const C extends readonly Column[], const T extends E['eventType'] = E['eventType'], R extends RowInput<C> = RowInput<C>>(
      spec: StateSpec<Read<E, T>, C, R> & { eventTypes?: readonly T[] },
    ): StateProjection<Read<E, T>> {
      return stateProjection(events(spec.eventTypes), spec);
    },
    /** A history: one row per period, `to` set on the row the key's next row closes. */
    historyProjection<const C extends readonly Column[], const To extends ColumnName<C>, const T extends E['eventType'] = E['eventType'], R extends Omit<RowInput<C>, To> = Omit<RowInput<C>, To>>(
      spec: HistorySpec<Read<E, T>, C, To, R> & { eventTypes?: readonly T[] },
    ): RowsProjection<Read<E, T>> {
      return historyProjection(events(spec.eventTypes), spec);
    },
    /** Facts: the rows each event gives, appended as they are. */
    rowsProjection<const C extends readonly Column[], const T extends E['eventType'] = E['eventType'], R extends RowInput<C> = RowInput<C>>(
      spec: RowsSpec<Read<E, T>, C, R> & { eventTypes?: readonly T[] },
    ): RowsProjection<Read<E, T>> {
      return rowsProjection(events(spec.eventTypes), spec);
    },
    /** DuckDB SQL over each batch of events (a table `events`), merged into the table by `merge`. */
    sqlProjection<const C extends readonly Column[], const T extends E['eventType'] = E['eventType']>(spec: SqlSpec<C> & { eventTypes?: readonly T[] }): SqlProjection {
      return sqlProjection(events(spec.eventTypes), spec);
    },
    /** Lifts one event type's data from schema version `fromVersion` to the next (old log lines are upcast when read). */
    upcaster<T extends E['eventType']>(spec: { eventType: T; fromVersion: number; upcast(data: Record<string, unknown>): Extract<E, { eventType: T }>['data'] }): Upcaster {
      return spec;
    },
    /** The domain, as a module's default export for `jobs.config.json`'s `domains`. */
    define<C extends AnyCommand<E>>(spec: DomainSpec<E, C>): TypedDomain<E, C> {
      const rejectionCodes = [...new Set(spec.aggregates.flatMap((a) => a.rejectionCodes))];
      // The typed parts are the runtime shapes with narrower parameters; the pipeline calls them
      // only with records of the declared types (events it validated, decided and logged).
      return {
        ...spec,
        aggregates: spec.aggregates as Aggregate[],
        commands: spec.commands as C[] & CommandHandler[],
        projections: spec.projections as Projection[],
        ...(rejectionCodes.length > 0 ? { rejectionCodes } : {}),
      };
    },
  };
}

/** Projections of the command workflow log: one `CommandRecord` per command outcome. */
export const commandLog = {
  rowsProjection<const C extends readonly Column[], R extends RowInput<C>>(spec: RowsSpec<CommandRecord, C, R>): RowsProjection<CommandRecord> {
    return rowsProjection({ source: 'commands' }, spec);
  },
  stateProjection<const C extends readonly Column[], R extends RowInput<C>>(spec: StateSpec<CommandRecord, C, R>): StateProjection<CommandRecord> {
    return stateProjection({ source: 'commands' }, spec);
  },
};
