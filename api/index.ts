/**
 * eventlake's public API: `import { domainOf, type Event } from 'eventlake'`. A domain module
 * (the path `jobs.config.json` lists under `domains`) default-exports what `domainOf<E>().define()`
 * returns; the shipped example domains are written against this module only, as a user's is.
 * Writing a domain step by step: docs/domains.md.
 */

// Events, decisions, rejections.
export type { Event, Envelope, EventTypeOf, Decision, DecisionRejectionCode } from '../domains/events.js';
export type { BuiltInRejectionCode, CommandInput, CommandRecord, EventEnvelope, Rejection, RejectionCode } from '../ingest/envelope.js';

// Aggregates and commands.
export type { AggregateSpec, CommandPayload, CommandSpec, JSONSchema, Payload, StateOf, TypedAggregate, TypedCommand } from '../domains/defineAggregate.js';
export { statusTransition } from '../domains/domain.js';
export type { Aggregate, CommandHandler, Domain, NewEvent, Upcaster } from '../domains/domain.js';

// The domain and its projections.
export { commandLog, domainOf } from '../domains/domainOf.js';
export type { AnyAggregate, AnyCommand, AnyProjection, DomainSpec, TypedDomain } from '../domains/domainOf.js';
export type { ColumnName, ColumnValue, HistorySpec, KeyColumnName, MergeOf, OnlyColumns, ProjectionSpec, RowInput, RowOf, RowsSpec, SqlSpec, StateSpec } from '../projections/defineProjection.js';
export type { Column, ColumnType, CombineFunction, MergeRule, Projection, ProjectionSource, Row, RowsProjection, SqlProjection, StateProjection, Validity } from '../projections/projection.js';

// Testing a domain without a lake (docs/domains.md, "Testing").
export { deciderSpec } from '../testing/deciderSpec.js';
export type { Outcome, Then } from '../testing/deciderSpec.js';
export { GIVEN_EVENTS_START, logEnvelopes } from '../testing/givenEvents.js';
export type { GivenEvent } from '../testing/givenEvents.js';
export { projectionRows, readModelsAfter } from '../testing/projectionRows.js';
export { viewRows } from '../testing/viewRows.js';
