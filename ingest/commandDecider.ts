import { randomUUID } from 'node:crypto';
import type { CommandHandler, NewEvent } from '../domains/domain.js';
import { isRejection } from '../domains/domain.js';
import type { DomainRegistry } from '../domains/registry.js';
import { COMMAND_STREAM, partitionOf, partitionStream } from '../lake/log/logMeta.js';
import { businessTime } from './businessTime.js';
import type { CommandMemo } from './commandIdStore.js';
import { CommandValidator } from './commandValidator.js';
import type { CommandInput, CommandRecord, Rejection } from './envelope.js';
import { commandRecordLine, eventLineOf, metadataJson, type EventContext } from './logLines.js';
import { firstUnstorable, wellFormed } from './storableValue.js';
import type { WriteModel } from './writeModel.js';

/** Where an emitted event landed. */
export interface EmittedEvent {
  eventId: string;
  eventType: string;
  aggregateId: string;
  version: number;
  partition: number;
  sequence: number;
}

export type Outcome =
  | { status: 'accepted'; commandId: string; events: EmittedEvent[] }
  | ({ status: 'rejected'; commandId: string | null } & Rejection)
  | { status: 'duplicate'; commandId: string; first: CommandMemo };

/**
 * Where a decider's records go: the log writer itself (one thread decides everything), or a
 * decider thread's buffers that the writer stages later in arrival order.
 */
export interface DecisionLog {
  /** The sequence of the command log record about to be made (one per decided command). */
  commandSequence(): number;
  /** The next sequence of an event stream (a partition). */
  eventSequence(stream: string): number;
  stage(stream: string, sequence: number, line: string, timestamp: string | null): void;
  /** The command's first outcome was recorded with `events` events. */
  recorded(commandId: string, memo: CommandMemo, events: number): void;
}

/**
 * Validates a command, decides it against its aggregate's state and writes its records: its
 * events and its one command log record. Used by the ingester's own thread and by decider
 * threads alike, so an outcome never depends on which thread decided it.
 */
export class CommandDecider {
  private readonly validator: CommandValidator;

  constructor(
    private readonly registry: DomainRegistry,
    private readonly model: WriteModel,
    private readonly partitions: number,
    private readonly log: DecisionLog,
    maxDepth?: number,
  ) {
    this.validator = new CommandValidator(registry, maxDepth);
  }

  /** Decides a parsed command whose id, if any, is valid Unicode and seen for the first time. */
  decideNew(value: unknown, commandId: string | null, source: string): Outcome {
    const validated = this.validator.validate(value);
    if (!validated.ok) return this.reject(commandId, value as CommandInput, validated.rejection, source);
    return this.decideValid(validated.input, validated.handler, commandId ?? randomUUID(), source);
  }

  private decideValid(input: CommandInput, handler: CommandHandler, commandId: string, source: string): Outcome {
    const aggregateId = handler.aggregateId(input.command);
    const current = this.model.aggregate(handler.aggregateType, aggregateId);
    const decision = handler.decide(current?.state, input.command);
    if (isRejection(decision)) return this.reject(commandId, input, decision, source);
    const timestamp = businessTime(input.received);
    if (!timestamp) return this.reject(commandId, input, { code: 'schema', message: 'received: is not a valid date-time', path: '/received' }, source);
    const aggregate = this.registry.aggregate(handler.aggregateType);
    if (!aggregate) throw new Error(`command ${handler.commandName} targets aggregate type ${handler.aggregateType}, which no domain defines`);
    const unstorable = unstorableEvent(decision);
    if (unstorable) return this.reject(commandId, input, unstorable, source);
    const partition = partitionOf(aggregateId, this.partitions);
    const stream = partitionStream(partition);
    const context: EventContext = { aggregateId, aggregateType: handler.aggregateType, timestamp, correlationId: input.correlation_id ?? commandId, causationId: commandId, partition, ingestedAt: nowIso() };
    const metadata = metadataJson(input.metadata, source);
    const events: EmittedEvent[] = [];
    let { version, state } = current ?? { version: 0, state: undefined };
    for (const event of decision) {
      version += 1;
      const sequence = this.log.eventSequence(stream);
      const eventId = randomUUID();
      const schemaVersion = this.registry.schemaVersion(event.eventType);
      this.log.stage(stream, sequence, eventLineOf(context, { eventId, eventType: event.eventType, version, data: event.data, schemaVersion, sequence }, metadata), timestamp);
      state = aggregate.evolve(state, event);
      events.push({ eventId, eventType: event.eventType, aggregateId, version, partition, sequence });
    }
    this.model.setAggregate(handler.aggregateType, aggregateId, version, state);
    this.record(commandId, input, { status: 'completed', eventIds: events.map((e) => e.eventId), aggregateType: handler.aggregateType, aggregateId, received: timestamp }, source);
    return { status: 'accepted', commandId, events };
  }

  /** Refuses the command: its record holds the rejection (under a new id when it has none). */
  reject(commandId: string | null, input: CommandInput | null, refused: Rejection, source: string): Outcome {
    // A domain's message may quote what it was sent; logged and answered as valid Unicode.
    const rejection: Rejection = { ...refused, message: wellFormed(refused.message), ...(refused.path === undefined ? {} : { path: wellFormed(refused.path) }) };
    this.record(commandId ?? randomUUID(), input, { status: 'rejected', ...rejection }, source);
    return { status: 'rejected', commandId, ...rejection };
  }

  /** Stages the command's outcome in the workflow log, in arrival order. */
  private record(commandId: string, input: CommandInput | null, outcome: Partial<CommandRecord> & Pick<CommandRecord, 'status'>, source: string): void {
    const sequence = this.log.commandSequence();
    const received = outcome.received !== undefined ? outcome.received : typeof input?.received === 'string' ? businessTime(input.received) : null;
    const record: CommandRecord = {
      sequence,
      commandId,
      // A refused command's own strings may be what it was refused for: logged as valid Unicode.
      commandName: typeof input?.command_name === 'string' ? wellFormed(input.command_name) : null,
      status: outcome.status,
      code: outcome.code ?? null,
      message: outcome.message ?? null,
      path: outcome.path ?? null,
      eventIds: outcome.eventIds ?? [],
      aggregateType: outcome.aggregateType ?? null,
      aggregateId: outcome.aggregateId ?? null,
      received,
      correlationId: typeof input?.correlation_id === 'string' ? wellFormed(input.correlation_id) : null,
      source,
      recordedAt: nowIso(),
    };
    this.log.stage(COMMAND_STREAM, sequence, commandRecordLine(record), received);
    this.log.recorded(commandId, { sequence, status: record.status, code: record.code }, record.eventIds.length);
  }
}

/**
 * The first event data a sink could not store as the domain emitted it (a decide that computed
 * NaN or a huge integer): the command is refused rather than logged with altered data.
 */
function unstorableEvent(events: NewEvent[]): Rejection | null {
  for (const [i, event] of events.entries()) {
    const problem = firstUnstorable(event.data, `/events/${i}/data`);
    if (problem) return { code: 'schema', message: `the ${event.eventType} event it would emit cannot be stored: ${problem.path.slice(1).replaceAll('/', '.')} ${problem.message}`, path: '/command' };
  }
  return null;
}

let clockMs = 0;
let clockIso = '';

/** The current time as ISO-8601, formatted once per millisecond rather than once per record. */
function nowIso(): string {
  const now = Date.now();
  if (now !== clockMs) {
    clockMs = now;
    clockIso = new Date(now).toISOString();
  }
  return clockIso;
}
