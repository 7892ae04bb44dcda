import assert from 'node:assert/strict';
import type { CommandPayload } from '../domains/defineAggregate.js';
import type { NewEvent } from '../domains/domain.js';
import type { AnyCommand, TypedDomain } from '../domains/domainOf.js';
import type { Event } from '../domains/events.js';
import { registryOf } from '../domains/registry.js';
import { CommandValidator } from '../ingest/commandValidator.js';
import type { Rejection } from '../ingest/envelope.js';

/** What the decision was: the events a command emits, or its rejection. */
export type Outcome<E extends Event> = { events: E[] } | { rejection: Rejection };

/** The assertions on one decision; they throw node's AssertionError (vitest and node:test show its diff). */
export interface Then<E extends Event> {
  readonly outcome: Outcome<E>;
  /** The command is accepted and emits exactly these events, in order. */
  thenEvents(expected: E[]): void;
  /** The command is rejected with this code (and, if given, this message or path). */
  thenRejected(code: string, details?: { message?: string | RegExp; path?: string }): void;
}

type PayloadOfCommand<C, Name> = CommandPayload<Extract<C, { commandName: Name }>>;

/**
 * Given/when/then for a domain's decisions, without a lake: `given` events of one aggregate
 * (folded by its `evolve`), `when` a command (validated against its JSON Schema as the ingester
 * does, then decided), `then` the events or the rejection.
 *
 *     const spec = deciderSpec(bank);
 *     spec.given([{ eventType: 'AccountOpened', data: {...} }]).when('Withdraw', { account_id: 'A1', amount: 5 }).thenRejected('insufficient_funds');
 */
export function deciderSpec<E extends Event, C extends AnyCommand<E>>(domain: TypedDomain<E, C>) {
  const registry = registryOf([domain]);
  const validator = new CommandValidator(registry);
  return {
    given(events: E[]) {
      return {
        when<Name extends C['commandName']>(commandName: Name, payload: PayloadOfCommand<C, Name>): Then<E> {
          return then<E>(decide(registry, validator, events, commandName, payload));
        },
      };
    },
  };
}

function decide<E extends Event>(registry: ReturnType<typeof registryOf>, validator: CommandValidator, given: E[], commandName: string, payload: unknown): Outcome<E> {
  const validated = validator.validate({ command_name: commandName, received: '2026-01-01T00:00:00Z', command: payload });
  if (!validated.ok) return { rejection: validated.rejection };
  const handler = validated.handler;
  const aggregate = registry.aggregate(handler.aggregateType);
  if (!aggregate) throw new Error(`command ${commandName} addresses aggregate type "${handler.aggregateType}", which the domain does not define`);
  let state: unknown = undefined;
  for (const event of given) state = aggregate.evolve(state, event as NewEvent);
  const decision = handler.decide(state, validated.input.command);
  if (!Array.isArray(decision)) return { rejection: decision };
  // The ingester evolves the aggregate with the new events right away; so does the harness, so an
  // evolve that cannot take its own command's events fails here rather than at ingest.
  for (const event of decision) state = aggregate.evolve(state, event);
  return { events: decision as unknown as E[] };
}

function then<E extends Event>(outcome: Outcome<E>): Then<E> {
  return {
    outcome,
    thenEvents(expected) {
      if ('rejection' in outcome) assert.fail(`expected events, but the command was rejected: ${outcome.rejection.code}: ${outcome.rejection.message}`);
      assert.deepStrictEqual(outcome.events, expected);
    },
    thenRejected(code, details = {}) {
      if ('events' in outcome) assert.fail(`expected a rejection with code "${code}", but the command was accepted with ${JSON.stringify(outcome.events)}`);
      const { rejection } = outcome;
      assert.equal(rejection.code, code, `rejection code (message: ${rejection.message})`);
      if (details.message instanceof RegExp) assert.match(rejection.message, details.message);
      else if (details.message !== undefined) assert.equal(rejection.message, details.message);
      if (details.path !== undefined) assert.equal(rejection.path, details.path);
    },
  };
}
