import type { Rejection } from '../ingest/envelope.js';
import type { Projection } from '../projections/projection.js';

/** An event as `decide` emits it, before the writer wraps it in the envelope. */
export interface NewEvent {
  eventType: string;
  data: Record<string, unknown>;
}

/** The command side of one command name: its payload schema and its decision. */
export interface CommandHandler<S = unknown> {
  commandName: string;
  /** JSON Schema of the `command` payload. */
  schema: Record<string, unknown>;
  aggregateType: string;
  /** Which aggregate the (schema-valid) payload addresses. */
  aggregateId(command: Record<string, unknown>): string;
  /** Pure: the events to emit, or why not. `state` is undefined for an aggregate that does not exist. */
  decide(state: S | undefined, command: Record<string, unknown>): NewEvent[] | Rejection;
}

/** The write-side state of one aggregate type, folded from its own events. */
export interface Aggregate<S = unknown> {
  aggregateType: string;
  /** Pure: the state after `event` (state undefined before the first event). */
  evolve(state: S | undefined, event: NewEvent): S;
}

/**
 * Turns one event type's data from schema version `fromVersion` into `fromVersion + 1`. Events
 * are never rewritten in the log; old shapes are upcast when read, so a changed event type does
 * not break the rebuild of old history. The current version of a type is one past its newest
 * upcaster (1 without any).
 */
export interface Upcaster {
  eventType: string;
  fromVersion: number;
  upcast(data: Record<string, unknown>): Record<string, unknown>;
}

/** A domain: its aggregates, its commands and the read models projected from its events. */
export interface Domain {
  name: string;
  aggregates: Aggregate[];
  commands: CommandHandler[];
  projections: Projection[];
  /**
   * The SQL that creates this domain's views: a `file:` URL (`new URL('./bank.sql',
   * import.meta.url)`), an absolute path, or a path relative to the module the config names
   * (a built-in domain's: relative to eventlake's `sql/`).
   */
  sqlFile?: string | URL;
  upcasters?: Upcaster[];
  /** Rejection codes this domain's decisions use besides the built-in ones (listed by status and metrics). */
  rejectionCodes?: readonly string[];
}

export function isRejection(outcome: NewEvent[] | Rejection): outcome is Rejection {
  return !Array.isArray(outcome);
}

/** The usual "same status again is no_change, then the transition table" rule of both domains. */
export function statusTransition<Status extends string>(
  what: string,
  id: string,
  from: Status,
  to: Status,
  allowed: Partial<Record<Status, readonly Status[]>>,
): Rejection<'no_change' | 'invalid_transition'> | null {
  if (from === to) return { code: 'no_change', message: `${what} ${id} is already ${to}`, path: '/command/status' };
  const next: readonly Status[] = allowed[from] ?? [];
  if (!next.includes(to)) {
    return { code: 'invalid_transition', message: `${what} ${id} cannot go from ${from} to ${to}`, path: '/command/status' };
  }
  return null;
}
