import type { FromSchema, JSONSchema } from 'json-schema-to-ts';
import type { Decision, Event } from './events.js';

export type { JSONSchema };

/**
 * The payload type of a command, derived from its JSON Schema (the one source of truth: the
 * ingester validates against the same object). A property with a `default` stays optional, as
 * the validator does not fill defaults in. Schemas are inferred as plain objects and only then
 * read as JSON Schema: checking the literal against json-schema-to-ts's `JSONSchema` while
 * inferring it costs ~9.6M type instantiations per command (measured), this ~1,000.
 */
export type Payload<Schema> = Schema extends JSONSchema ? FromSchema<Schema, { keepDefaultedPropertiesOptional: true }> : never;

/** How one aggregate type folds its events into the state its commands are decided against. */
export interface AggregateSpec<S, E extends Event, Code extends string> {
  aggregateType: string;
  /** Rejection codes this aggregate's decisions use besides the built-in ones (e.g. `insufficient_funds`). */
  rejections?: readonly Code[];
  /** Pure: the state after `event`; `state` is undefined before the aggregate's first event. */
  evolve(state: S | undefined, event: E): S;
}

/** One command: its payload schema, which aggregate it addresses, and its decision. */
export interface CommandSpec<Name extends string, Schema extends object, S, E extends Event, Code extends string> {
  commandName: Name;
  /** JSON Schema of the `command` payload (declare it before the functions: they are typed by it). */
  schema: Schema;
  /** Which aggregate the (schema-valid) payload addresses. */
  aggregateId(command: Payload<Schema>): string;
  /** Pure: the events to emit, or why not. `state` is undefined for an aggregate that does not exist yet. */
  decide(state: S | undefined, command: Payload<Schema>): Decision<E, Code>;
}

/** A command handler with its payload (from its schema), state, events and rejection codes typed. */
export interface TypedCommand<out Name extends string = string, in out Schema extends object = object, in out S = unknown, in out E extends Event = Event, in out Code extends string = string>
  extends CommandSpec<Name, Schema, S, E, Code> {
  aggregateType: string;
}

/**
 * An aggregate whose state and events are typed; `command()` defines the commands decided against it.
 * The variance annotations spare TypeScript from measuring variance through the payload types of
 * `command`, which it cannot finish (TS2589) when two aggregates meet in one array.
 */
export interface TypedAggregate<in out S = unknown, in out E extends Event = Event, in out Code extends string = string> {
  aggregateType: string;
  rejectionCodes: readonly Code[];
  evolve(state: S | undefined, event: E): S;
  command<const Name extends string, const Schema extends object>(spec: CommandSpec<Name, Schema, S, E, Code>): TypedCommand<Name, Schema, S, E, Code>;
}

/**
 * The payload type of a typed command, e.g. `CommandPayload<typeof deposit>`. (Read off its
 * `schema`: matching against `TypedCommand<string, infer Schema>` would fail, its other
 * parameters being invariant.)
 */
export type CommandPayload<C> = C extends { schema: infer Schema extends object } ? Payload<Schema> : never;

/** The state type of a typed aggregate. */
export type StateOf<A> = A extends { evolve(state: infer S | undefined, event: never): unknown } ? S : never;

export function defineAggregate<S, E extends Event, const Code extends string = never>(spec: AggregateSpec<S, E, Code>): TypedAggregate<S, E, Code> {
  const { aggregateType, evolve } = spec;
  return {
    aggregateType,
    rejectionCodes: spec.rejections ?? [],
    evolve,
    command: (command) => ({ ...command, aggregateType }),
  };
}
