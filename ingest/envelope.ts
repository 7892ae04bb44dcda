/**
 * The event envelope: one shape everywhere (lake log line, Event Hubs body, Parquet columns).
 * Field names are the design's and are used unchanged in TypeScript, Parquet and SQL.
 */
export interface EventEnvelope<D = Record<string, unknown>> {
  eventId: string;
  eventType: string;
  aggregateId: string;
  aggregateType: string;
  /** Per-aggregate, 1-based, gap-free. */
  version: number;
  /** Business time: the command's `received`, as ISO-8601 UTC. */
  timestamp: string;
  correlationId: string;
  /** The id of the command that caused this event. */
  causationId: string;
  data: D;
  /** Shape version of `data` for this event type (upcasters lift older ones when read). */
  schemaVersion: number;
  metadata: Record<string, unknown>;
  /** Log position assigned by the writer: partition and gap-free sequence within it. */
  partition: number;
  sequence: number;
  ingestedAt: string;
}

/** A command as it arrives (NDJSON line or HTTP body). */
export interface CommandInput {
  command_id?: string;
  command_name: string;
  /** ISO-8601 date-time; required; becomes the events' `timestamp`. */
  received: string;
  command: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  correlation_id?: string;
}

/** The rejection codes eventlake itself gives (the validator's and the example domains'). */
export type BuiltInRejectionCode =
  | 'schema'
  | 'unknown_command'
  | 'duplicate_aggregate'
  | 'not_found'
  | 'invalid_transition'
  | 'no_change';

export const BUILT_IN_REJECTION_CODES: readonly BuiltInRejectionCode[] = ['schema', 'unknown_command', 'duplicate_aggregate', 'not_found', 'invalid_transition', 'no_change'];

/**
 * A rejection code as the pipeline records it: a built-in one or one a domain declares (the
 * typed domain API checks a domain's decisions against its declared codes; the log takes any).
 */
export type RejectionCode = BuiltInRejectionCode | (string & {});

/** Why a command was refused: a machine-readable code, a readable message, the field if any. */
export interface Rejection<Code extends string = RejectionCode> {
  code: Code;
  message: string;
  /** JSON pointer of the offending field, e.g. "/command/lat". */
  path?: string;
}

/**
 * One line of the command workflow log: every command's final outcome, in arrival order
 * (received -> rejected | completed). Duplicates are not recorded: they change nothing.
 */
export interface CommandRecord {
  sequence: number;
  commandId: string;
  commandName: string | null;
  status: 'completed' | 'rejected';
  code: RejectionCode | null;
  message: string | null;
  path: string | null;
  eventIds: string[];
  aggregateType: string | null;
  aggregateId: string | null;
  received: string | null;
  correlationId: string | null;
  /** Where it came from: "http" or "file:<name>:<line>". */
  source: string;
  recordedAt: string;
}
